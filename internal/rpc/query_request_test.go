package rpc_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// sameQuery fails t unless DecodeQuery, with its scanner, and DecodeStrict
// alone, the oracle, agree on body: the same query, or the same error.
func sameQuery(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := rpc.DecodeQuery(body)
	var want ledger.Query
	wantErr := rpc.DecodeStrict(body, &want)
	if (gotErr != nil) != (wantErr != nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("body %q: error %v, DecodeStrict %v", body, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\n got %+v\nwant %+v", body, got, want)
	}
}

// queryBodies are requests as clients write them and the odd ones a client
// may write by hand: spaces, escapes, other cases, numbers the scanner
// leaves to DecodeStrict, duplicates, fields of other endpoints, bad JSON.
func queryBodies(rng *rand.Rand, n int) [][]byte {
	strs := []string{"", "P-00001", "P-1", "2024-05-10T00:00:00Z", "2025-03-10", "a b", `q"uote`, `back\slash`, "é", "\x01", "\u2028", "<&>", "P-\xff"}
	nums := []uint64{0, 1, 7, 1 << 32, 1<<63 + 5, ^uint64(0)}
	var out [][]byte
	for range n {
		q := ledger.Query{PartnerID: strs[rng.IntN(len(strs))]}
		if rng.IntN(2) == 0 {
			q.At = strs[rng.IntN(len(strs))]
		}
		if rng.IntN(3) == 0 {
			q.KnownSeq = nums[rng.IntN(len(nums))]
		}
		if rng.IntN(3) == 0 {
			q.KnownAt = strs[rng.IntN(len(strs))]
		}
		if rng.IntN(3) == 0 {
			q.MinSeq = nums[rng.IntN(len(nums))]
		}
		if rng.IntN(8) == 0 {
			q.Corrections = rng.IntN(5) - 1
		}
		if rng.IntN(8) == 0 {
			q.Types = []string{"sale_billed"}
		}
		b, err := json.Marshal(q)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		``, ` `, `{}`, ` {}`, `{} `, `[]`, `null`, `"x"`, `{"partner_id":"P-1"}`, `{"partner_id": "P-1"}`,
		`{"Partner_id":"P-1"}`, `{"PARTNER_ID":"P-1"}`, `{"partner_id":"P-\u0031"}`, `{"partner_id":"P-1","partner_id":"P-2"}`,
		`{"known_seq":1,"known_seq":1}`, `{"known_seq":01}`, `{"known_seq":-1}`, `{"known_seq":1e3}`, `{"known_seq":1.0}`,
		`{"known_seq":18446744073709551615}`, `{"known_seq":18446744073709551616}`, `{"min_seq":99999999999999999999}`,
		`{"at":null}`, `{"partner_id":1}`, `{"known_seq":"1"}`, `{"corrections":-1}`, `{"nope":1}`, `{"partner_id":"P-1",}`,
		`{"partner_id":"P-1"}{}`, `{"partner_id":"P-1"`, `{"partner_id":"P-1"}x`, `{,}`, `{"":1}`, `{"partner_id"}`,
		`{"partner_id":"P-1","at":"2024-01-01T00:00:00Z","known_seq":3,"known_at":"2025-01-01","min_seq":2}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestFastQueryDecodesAsDecodeStrict: on every body — thousands as clients
// write them, the odd ones, and each cut short or with a byte changed —
// DecodeQuery answers what DecodeStrict answers.
func TestFastQueryDecodesAsDecodeStrict(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []byte(`{}[],:"\ 0123456789-+.eE_atnulfrsq` + "\x00\x7f\xc3")
	for _, body := range queryBodies(rng, 3000) {
		sameQuery(t, body)
		for i := range len(body) {
			sameQuery(t, body[:i])
		}
		for range 8 {
			if len(body) == 0 {
				break
			}
			m := []byte(string(body))
			m[rng.IntN(len(m))] = alphabet[rng.IntN(len(alphabet))]
			sameQuery(t, m)
		}
	}
}

// FuzzDecodeQuery holds DecodeQuery to DecodeStrict on any body.
func FuzzDecodeQuery(f *testing.F) {
	for _, b := range queryBodies(rand.New(rand.NewPCG(1, 2)), 40) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameQuery(t, body) })
}

// BenchmarkDecodeQuery: a benefits question as Client.Query writes it,
// through the scanner and through DecodeStrict alone.
func BenchmarkDecodeQuery(b *testing.B) {
	body := []byte(`{"partner_id":"P-00042","at":"2024-05-10T07:00:00Z"}`)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rpc.DecodeQuery(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var q ledger.Query
			if err := rpc.DecodeStrict(body, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
}
