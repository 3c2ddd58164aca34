package rpc_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// TestDecodeQueryFields: every field of ledger.Query is accepted by its JSON
// name, so the strict name check never falls behind the struct.
func TestDecodeQueryFields(t *testing.T) {
	typ := reflect.TypeFor[ledger.Query]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		zero, _ := json.Marshal(reflect.Zero(typ.Field(i).Type).Interface())
		body := `{"` + name + `":` + string(zero) + `}`
		if _, err := rpc.DecodeQuery([]byte(body)); err != nil {
			t.Errorf("field %s: %s refused: %v", typ.Field(i).Name, body, err)
		}
	}
}

// FuzzQueryRequest: DecodeQuery never panics; it refuses with
// invalid_request and a bounded message, or accepts a request that has
// exactly one object of distinct, exactly spelled names, which
// encoding/json reads the same way and which survives a round trip.
func FuzzQueryRequest(f *testing.F) {
	for _, s := range []string{
		``, ` `, `{}`, `{"partner_id":"P-1"}`,
		`{"partner_id":"P-1","at":"2024-10-01T00:00:00Z","known_seq":3,"min_seq":2,"corrections":-1}`,
		`{"at":"9999-12-31T23:59:59Z"}`, `{"min_seq":18446744073709551615}`, `{"min_seq":18446744073709551616}`,
		`{"partner_id":"P-1"} x`, `{"partner_id":"P-1"}{}`, `{"Partner_ID":"P-1"}`,
		`{"partner_id":"P-1","partner_id":"P-2"}`, `{"partner_id":"P-1","PARTNER_ID":"P-2"}`,
		"{\"partner_id\":\"P-\xff\"}", `[1]`, `null`, `"x"`, `{"known_seq":"1"}`, `{"known_seq":-1}`,
		`{"corrections":1e400}`, `{"partner_id":"\u0050-1"}`, `{"partner_id":null}`, `{"at":{"a":[1]}}`,
		`{"partner_id":"P-1","known_at":"2024-10-01","from_seq":5,"limit":100,"types":["SaleBilled"],"from_time":"2024-01-01","to_time":"2025-01-01T00:00:00Z"}`,
		`{"kinds":["fraud_hold","contact_overdue"],"from":"P-1#3","limit":10000}`, `{"types":[]}`, `{"types":null}`, `{"types":[1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := rpc.DecodeQuery(data)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeInvalidRequest {
				t.Fatalf("refused with code %q: %v", domain.CodeOf(err), err)
			}
			if !utf8.ValidString(err.Error()) || len(err.Error()) > 600 {
				t.Fatalf("message of %d bytes (valid UTF-8: %v) for %d bytes of input", len(err.Error()), utf8.ValidString(err.Error()), len(data))
			}
			return
		}
		if len(bytes.TrimSpace(data)) == 0 {
			if !reflect.DeepEqual(q, ledger.Query{}) {
				t.Fatalf("an empty request decoded to %+v", q)
			}
			return
		}
		names, err := domain.ObjectNames(data)
		if err != nil {
			t.Fatalf("accepted a request that is not one strict object: %v", err)
		}
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Fatalf("accepted the name %q twice", n)
			}
			seen[n] = true
		}
		// Compared as documents: an empty list and no list are one query.
		same := func(a, b ledger.Query) bool {
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			return bytes.Equal(ja, jb)
		}
		var lax ledger.Query
		if err := json.Unmarshal(data, &lax); err != nil || !same(lax, q) {
			t.Fatalf("encoding/json reads %+v (%v), DecodeQuery %+v", lax, err, q)
		}
		again, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := rpc.DecodeQuery(again); err != nil || !same(back, q) {
			t.Fatalf("round trip of %+v: %+v, %v", q, back, err)
		}
	})
}
