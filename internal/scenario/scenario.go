// Package scenario loads the acceptance scenarios of ../shared/scenarios and
// checks a ledger against them. The same checker runs against the pure domain
// and against a real ledger end to end, so both levels mean the same thing by
// "passes". New scenario files are picked up without code changes.
package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Scenario is one NAME.ndjson with its NAME.expect.json.
type Scenario struct {
	Name   string
	Lines  [][]byte
	Expect Expect
}

// Expect is the format the scenario README defines.
type Expect struct {
	Rejected   map[string]string `json:"rejected"`
	Duplicates []int             `json:"duplicates"`
	Checks     []Check           `json:"checks"`
}

// Check is one query and the partial document it must answer.
type Check struct {
	Query     string          `json:"query"`
	PartnerID string          `json:"partner_id"`
	At        string          `json:"at"`
	KnownLine int             `json:"known_line"`
	Expect    json.RawMessage `json:"expect"`
}

// Dir finds the scenario directory: $LEDGER_SCENARIOS, else shared/scenarios
// next to the repository (../shared/scenarios), else the snapshot in this
// package's testdata for a bare clone. The second result says which.
func Dir() (string, string, error) {
	if d := os.Getenv("LEDGER_SCENARIOS"); d != "" {
		return d, "$LEDGER_SCENARIOS", nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(d), "shared", "scenarios")
			if st, err := os.Stat(shared); err == nil && st.IsDir() {
				return shared, "shared", nil
			}
			return filepath.Join(d, "internal", "scenario", "testdata"), "snapshot (../shared/scenarios not found)", nil
		}
		if filepath.Dir(d) == d {
			return "", "", errors.New("scenario: module root not found")
		}
	}
}

// Load reads every NAME.ndjson in dir with its NAME.expect.json.
func Load(dir string) ([]Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("scenario: no *.ndjson in %s", dir)
	}
	slices.Sort(files)
	var out []Scenario
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".ndjson")
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		exp, err := os.ReadFile(filepath.Join(dir, name+".expect.json"))
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", name, err)
		}
		sc := Scenario{Name: name}
		if err := json.Unmarshal(exp, &sc.Expect); err != nil {
			return nil, fmt.Errorf("scenario %s: expect: %w", name, err)
		}
		for _, line := range bytes.Split(raw, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				sc.Lines = append(sc.Lines, line)
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// LineResult is what submitting one line returned.
type LineResult struct {
	OK        bool
	Seq       uint64
	Duplicate bool
	Code      string
}

// Ledger is what a scenario runs against.
type Ledger interface {
	// Submit sends the lines in order and returns one result per line.
	Submit(lines [][]byte) ([]LineResult, error)
	// Query returns the JSON document of a tier or benefits query; knownSeq
	// 0 means all knowledge.
	Query(kind, partner, at string, knownSeq uint64) ([]byte, error)
}

// Run submits the scenario and returns every mismatch (none when it passes).
func Run(sc Scenario, l Ledger) ([]string, error) {
	results, err := l.Submit(sc.Lines)
	if err != nil {
		return nil, err
	}
	if len(results) != len(sc.Lines) {
		return nil, fmt.Errorf("%d results for %d lines", len(results), len(sc.Lines))
	}
	var problems []string
	lineOfSeq := map[uint64]int{}
	for i, r := range results {
		line := i + 1
		want, rejected := sc.Expect.Rejected[strconv.Itoa(line)]
		dup := slices.Contains(sc.Expect.Duplicates, line)
		switch {
		case rejected && (r.OK || r.Code != want):
			problems = append(problems, fmt.Sprintf("line %d: want rejection %s, got ok=%v code=%q", line, want, r.OK, r.Code))
		case !rejected && !r.OK:
			problems = append(problems, fmt.Sprintf("line %d: want accepted, got rejection %q", line, r.Code))
		case !rejected && r.Duplicate != dup:
			problems = append(problems, fmt.Sprintf("line %d: want duplicate=%v, got %v", line, dup, r.Duplicate))
		}
		if r.OK && !r.Duplicate {
			lineOfSeq[r.Seq] = line
		}
	}
	for i, c := range sc.Expect.Checks {
		var known uint64
		if c.KnownLine > 0 {
			known = results[c.KnownLine-1].Seq
		}
		doc, err := l.Query(c.Query, c.PartnerID, c.At, known)
		if err != nil {
			problems = append(problems, fmt.Sprintf("check %d (%s %s at %s): %v", i+1, c.Query, c.PartnerID, c.At, err))
			continue
		}
		got, err := derive(c.Query, doc, lineOfSeq)
		if err != nil {
			return nil, err
		}
		var want any
		if err := decode(c.Expect, &want); err != nil {
			return nil, err
		}
		for _, p := range Match(want, got, "") {
			problems = append(problems, fmt.Sprintf("check %d (%s %s at %s known_line %d): %s", i+1, c.Query, c.PartnerID, c.At, c.KnownLine, p))
		}
	}
	return problems, nil
}

// derive decodes a document and adds the README's derived benefits keys:
// entitled_ids (sorted set of benefit ids) and activations shown by line.
func derive(kind string, doc []byte, lineOfSeq map[uint64]int) (any, error) {
	var m map[string]any
	if err := decode(doc, &m); err != nil {
		return nil, fmt.Errorf("document is not a JSON object: %w: %s", err, doc)
	}
	if kind != "benefits" {
		return m, nil
	}
	ids := []any{}
	if ent, ok := m["entitled"].([]any); ok {
		for _, e := range ent {
			id := e.(map[string]any)["benefit_id"]
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.SortFunc(ids, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	m["entitled_ids"] = ids
	acts := []any{}
	if list, ok := m["activations"].([]any); ok {
		for _, a := range list {
			am := a.(map[string]any)
			seq, _ := strconv.ParseUint(string(am["seq"].(json.Number)), 10, 64)
			acts = append(acts, map[string]any{"line": json.Number(strconv.Itoa(lineOfSeq[seq])),
				"status": am["status"], "reasons": am["reasons"], "contacted": am["contacted"]})
		}
	}
	m["activations"] = acts
	return m, nil
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// Match compares a partial expected value with an actual one: every key of an
// expected object must be present with a matching value (recursively); arrays
// and scalars must be equal exactly; null means null.
func Match(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %s", orRoot(path), show(got))}
		}
		var out []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", orRoot(path), k))
				continue
			}
			out = append(out, Match(w[k], gv, path+"."+k)...)
		}
		return out
	default:
		if show(want) != show(got) {
			return []string{fmt.Sprintf("%s: want %s, got %s", orRoot(path), show(want), show(got))}
		}
		return nil
	}
}

func orRoot(p string) string {
	if p == "" {
		return "$"
	}
	return "$" + p
}

// show is a canonical rendering for exact comparison (object keys sorted).
func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
