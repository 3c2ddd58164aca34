package scenario

import "testing"

// All loads every scenario for a test, failing it if they cannot be found
// or read, and logs where they came from.
func All(tb testing.TB) []Scenario {
	tb.Helper()
	dir, source, err := Dir()
	if err != nil {
		tb.Fatal(err)
	}
	scs, err := Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%d scenarios from %s: %s", len(scs), source, dir)
	return scs
}

// Lines returns every scenario's input lines, one slice per scenario, in
// file order.
func Lines(tb testing.TB) [][][]byte {
	tb.Helper()
	var out [][][]byte
	for _, sc := range All(tb) {
		out = append(out, sc.Lines)
	}
	return out
}

// RunEach checks every scenario in a subtest of its own, against the ledger
// newLedger makes for it.
func RunEach(t *testing.T, newLedger func(t *testing.T) Ledger) {
	t.Helper()
	for _, sc := range All(t) {
		t.Run(sc.Name, func(t *testing.T) {
			problems, err := Run(sc, newLedger(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}
