package ledger

import (
	"encoding/json"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

// TestLineResultJSON: a line result encodes by hand to json.Marshal's bytes,
// every omitted field and every character encoding/json escapes included.
func TestLineResultJSON(t *testing.T) {
	for _, r := range []LineResult{
		{},
		{Line: 1, ID: "billing-eu-1", OK: true, Seq: 42},
		{Line: 7, ID: "e-7", OK: true, Seq: 9, Duplicate: true},
		{Line: 1000, ID: `a"b\c<d>&e`, Code: domain.CodeInvalidField, Error: "data.sale_id: must be 1 to 128 printable ASCII characters (got \"\x01\u2028\xff\")"},
		{Line: 3, Code: domain.CodeInvalidJSON, Error: "the line is not one JSON object: invalid character 'h'\n\ttab"},
		{Line: -1, ID: "é", Seq: 1<<64 - 1, typ: "SaleBilled"},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", r, got, want)
		}
	}
}
