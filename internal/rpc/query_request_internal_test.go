package rpc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/benefits-ledger/ledger/internal/ledger"
)

// TestFastQueryTakesClientQueries: the tier and benefits questions clients
// send (Client.Query's json.Marshal of a ledger.Query with plain values)
// are all taken by fastQuery, not handed to DecodeStrict — else it would be
// dead weight and the equivalence tests would hold trivially — and what
// needs DecodeStrict is left to it.
func TestFastQueryTakesClientQueries(t *testing.T) {
	for _, q := range []ledger.Query{
		{},
		{PartnerID: "P-00001"},
		{PartnerID: "P-00042", At: "2024-05-10T00:00:00Z"},
		{PartnerID: "P-1", At: "2024-05-10T00:00:00.5+02:00", KnownSeq: 18446744073709551615, KnownAt: "2025-03-10", MinSeq: 7},
	} {
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := fastQuery(b)
		if !ok || !reflect.DeepEqual(got, q) {
			t.Errorf("%s: fastQuery took it %v, decoded %+v", b, ok, got)
		}
	}
	for _, body := range []string{
		``, ` {}`, `{"partner_id": "P-1"}`, `{"Partner_id":"P-1"}`, `{"partner_id":"P-\u0031"}`, `{"partner_id":"P-é"}`,
		`{"partner_id":"P-1","partner_id":"P-2"}`, `{"known_seq":01}`, `{"known_seq":-1}`, `{"known_seq":1e3}`,
		`{"known_seq":18446744073709551616}`, `{"at":null}`, `{"corrections":-1}`, `{"types":["x"]}`,
		`{"partner_id":"P-1",}`, `{"partner_id":"P-1"}{}`, `{"partner_id":"P-1"`,
	} {
		if _, ok := fastQuery([]byte(body)); ok {
			t.Errorf("%s: fastQuery took it", body)
		}
	}
}
