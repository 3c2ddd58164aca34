package rpc

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// TestFastLineResultTakesServiceLines: the lines the service writes for
// plain results (ids and errors of printable ASCII that encoding/json does
// not escape) are all taken by the scanner, not handed to encoding/json —
// else the scanner would be dead weight and the equivalence tests would
// hold trivially.
func TestFastLineResultTakesServiceLines(t *testing.T) {
	for _, r := range []ledger.LineResult{
		{},
		{Line: 1, ID: "evt-00000001", OK: true, Seq: 1_000_001},
		{Line: 2, ID: "evt-2", OK: true, Seq: 7, Duplicate: true},
		{Line: 3, ID: "evt-3", Code: domain.CodeInvalidField, Error: "amount_usd_cents must be an integer (got 1.5)"},
		{Line: 2147483647, Seq: 18446744073709551615},
	} {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(r); err != nil {
			t.Fatal(err)
		}
		line := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		got, ok := fastLineResult(line)
		if !ok || got != r {
			t.Errorf("%s: scanner took it %v, decoded %+v", line, ok, got)
		}
	}
	// And what needs encoding/json is left to it.
	for _, line := range []string{`{"error":"a \u003c b"}`, `{"line": 1}`, `{"Line":1}`, `{"id":"é"}`, `{"seq":01}`, `{"line":-1}`} {
		if _, ok := fastLineResult([]byte(line)); ok {
			t.Errorf("%s: the scanner took it", line)
		}
	}
}
