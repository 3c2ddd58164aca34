package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/benefits-ledger/ledger/domain"
)

// versionDoc is `ledger version --json`.
type versionDoc struct {
	Module   string `json:"module"`
	Version  string `json:"version"` // the module version, "(devel)" for a build from a work tree
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Go       string `json:"go"`
	Policy   string `json:"policy"` // the embedded default policy: version@digest
}

func runVersion(e *env, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	} else if len(pos) > 0 {
		return fail(e, exitError, usageError{"version takes no arguments"})
	}
	d := versionDoc{Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		d.Module, d.Version = bi.Main.Path, bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				d.Commit = s.Value
			case "vcs.modified":
				d.Modified = s.Value == "true"
			}
		}
	}
	pol := domain.DefaultPolicy()
	d.Policy = pol.ID()
	if *asJSON {
		b, _ := json.Marshal(d)
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	commit := d.Commit
	if commit == "" {
		commit = "unknown"
	} else if d.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(e.stdout, "ledger %s\ncommit %s\n%s\npolicy %s (embedded default)\n", d.Version, commit, d.Go, d.Policy)
	return exitOK
}

// nearest is the command closest to a mistyped one (at most two edits
// away, or a transposition), "" if none is.
func nearest(name string) string {
	best, bestD := "", 3
	for c := range commands() {
		if d := editDistance(name, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and adjacent transpositions each cost one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
