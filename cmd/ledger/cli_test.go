package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// runCLI runs the ledger binary with args, no server needed.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestCLIHelpVersionTypos: help goes to stdout with status 0 and names the
// positional arguments, for every command; a mistyped command suggests the
// nearest; version says what was built.
func TestCLIHelpVersionTypos(t *testing.T) {
	for name := range commands() {
		for _, flag := range []string{"-h", "--help"} {
			out, errb, code := runCLI(t, name, flag)
			if code != 0 || !strings.HasPrefix(out, "usage: ledger "+name) || errb != "" {
				t.Errorf("ledger %s %s: exit %d, stdout %.80q, stderr %.80q", name, flag, code, out, errb)
			}
			if want := positionals[name]; want != "" && !strings.Contains(strings.SplitN(out, "\n", 2)[0], want) {
				t.Errorf("ledger %s %s does not name %s: %.80q", name, flag, want, out)
			}
		}
	}
	if out, _, code := runCLI(t, "--help"); code != 0 || !strings.Contains(out, "commands:") {
		t.Errorf("ledger --help: exit %d, %.80q", code, out)
	}
	_, errb, code := runCLI(t, "teir")
	if code != 2 || !strings.Contains(errb, `did you mean "tier"?`) {
		t.Errorf("ledger teir: exit %d, %q", code, errb)
	}
	if _, errb, _ := runCLI(t, "frobnicate"); strings.Contains(errb, "did you mean") {
		t.Errorf("ledger frobnicate suggests something: %q", errb)
	}
	out, _, code := runCLI(t, "version", "--json")
	var v versionDoc
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || v.Module == "" || v.Go == "" || !strings.Contains(v.Policy, "@") {
		t.Errorf("ledger version --json: exit %d, %q (%v)", code, out, err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"tier", "tier", 0}, {"teir", "tier", 1}, {"tierr", "tier", 1}, {"ter", "tier", 1}, {"stats", "state", 1}, {"", "abc", 3}, {"audit", "tier", 5}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
