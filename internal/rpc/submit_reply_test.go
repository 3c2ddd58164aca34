package rpc_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// parseWithEncodingJSON is the oracle: the reply decoded line by line with
// encoding/json, as ParseSubmitReply did before it had a scanner of its own
// (bufio.ScanLines' lines, without its token limit).
func parseWithEncodingJSON(reply []byte) ([]ledger.LineResult, error) {
	var out []ledger.LineResult
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(nil, len(reply)+1)
	for sc.Scan() {
		var r ledger.LineResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("rpc: bad submit reply line %d: %w", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// encodeReply writes results as the submit endpoint does (json.Encoder,
// one line each).
func encodeReply(rs []ledger.LineResult) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range rs {
		enc.Encode(r)
	}
	return b.Bytes()
}

// sameParse fails t unless ParseSubmitReply and encoding/json agree on
// reply: the same results, or both an error (with the same text).
func sameParse(t *testing.T, reply []byte) {
	t.Helper()
	got, gotErr := rpc.ParseSubmitReply(reply)
	want, wantErr := parseWithEncodingJSON(reply)
	if (gotErr != nil) != (wantErr != nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("reply %q: error %v, encoding/json %v", reply, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("reply %q:\n got %+v\nwant %+v", reply, got, want)
	}
}

// TestSubmitReplyDecodesAsEncodingJSON: the service's replies, and lines it
// never writes, decode exactly as encoding/json decodes them.
func TestSubmitReplyDecodesAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "evt-1", "P-100", `quote " backslash \ slash /`, "<html> & co", "tab\tnewline\n", "é ü ∑ 😀", "\x7f\x00", "\xff invalid", "\u2028"}
	codes := []domain.Code{"", domain.CodeInvalidField, domain.CodeDuplicateConflict, domain.CodeUnknownPartner}
	var rs []ledger.LineResult
	for i := range 5000 {
		r := ledger.LineResult{Line: i + 1, OK: rng.IntN(2) == 0, Duplicate: rng.IntN(5) == 0}
		if rng.IntN(3) > 0 {
			r.ID = texts[rng.IntN(len(texts))]
		}
		switch rng.IntN(4) {
		case 0:
			r.Seq = rng.Uint64()
		case 1:
			r.Seq = uint64(rng.IntN(1000))
		}
		if !r.OK {
			r.Code = codes[rng.IntN(len(codes))]
			r.Error = texts[rng.IntN(len(texts))]
		}
		rs = append(rs, r)
	}
	rs = append(rs, ledger.LineResult{}, ledger.LineResult{Line: math.MaxInt32, Seq: math.MaxUint64}, ledger.LineResult{Line: -3})
	reply := encodeReply(rs)
	got, err := rpc.ParseSubmitReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Fatalf("%d results for %d lines", len(got), len(rs))
	}
	for i := range rs {
		if got[i] != rs[i] && !strings.Contains(rs[i].ID+rs[i].Error, "\xff") { // invalid UTF-8 comes back as U+FFFD
			t.Fatalf("line %d decodes to %+v, encoded from %+v", i+1, got[i], rs[i])
		}
	}
	sameParse(t, reply)
	for _, line := range bytes.Split(reply, []byte("\n")) {
		sameParse(t, line)
	}

	// Lines the service does not write: each is handed to encoding/json,
	// or taken by the scanner only where encoding/json reads the same.
	odd := []string{
		``, `{}`, `{`, `}`, `[]`, `null`, `{"line":1}x`, ` {"line":1}`, `{"line":1} `, `{"line" :1}`, `{"line": 1}`,
		`{"line":01}`, `{"line":-1}`, `{"line":1.0}`, `{"line":1e3}`, `{"line":2147483648}`, `{"line":9223372036854775808}`,
		`{"seq":18446744073709551615}`, `{"seq":18446744073709551616}`, `{"seq":-0}`, `{"seq":0}`, `{"seq":00}`,
		`{"ok":true,}`, `{,"ok":true}`, `{"ok":tru}`, `{"ok":truee}`, `{"ok":null}`, `{"ok":1}`, `{"ok":"true"}`,
		`{"OK":true}`, `{"Line":4}`, `{"ok":true,"ok":false}`, `{"id":"a","id":"b"}`, `{"id":"a\"b"}`, `{"id":"\u0041"}`,
		`{"id":5}`, `{"id":null}`, `{"error":"é"}`, `{"error":"tab	here"}`, `{"extra":1}`, `{"":1}`, `{"line":1,"typ":"x"}`,
		"{\"line\":1}\r", "{\"line\":1}\r\n{\"line\":2}", "\n\n", "{\"line\":1}\n\n{\"line\":2}\n", `{"line":1}{"line":2}`,
		`{"line":1,"id":"x","ok":true,"seq":5,"duplicate":false}`, `{"duplicate":true,"seq":5,"ok":false,"code":"invalid_field","error":"bad","line":9}`,
	}
	for _, s := range odd {
		sameParse(t, []byte(s))
	}
}

// FuzzParseSubmitReply holds ParseSubmitReply to encoding/json on any reply.
func FuzzParseSubmitReply(f *testing.F) {
	f.Add([]byte(`{"line":1,"id":"evt-1","ok":true,"seq":5,"duplicate":false}`))
	f.Add([]byte("{\"line\":2,\"ok\":false,\"duplicate\":false,\"code\":\"invalid_field\",\"error\":\"x \\u003c y\"}\n{\"line\":3}"))
	f.Add([]byte(`{"seq":18446744073709551615,"line":2147483647}`))
	f.Fuzz(func(t *testing.T, reply []byte) { sameParse(t, reply) })
}

// BenchmarkParseSubmitReply decodes a reply to 1,000 accepted lines, and
// the same with encoding/json alone.
func BenchmarkParseSubmitReply(b *testing.B) {
	rs := make([]ledger.LineResult, 1000)
	for i := range rs {
		rs[i] = ledger.LineResult{Line: i + 1, ID: fmt.Sprintf("evt-%08d", i), OK: true, Seq: uint64(1_000_000 + i)}
	}
	reply := encodeReply(rs)
	for _, p := range []struct {
		name  string
		parse func([]byte) ([]ledger.LineResult, error)
	}{{"scanner", rpc.ParseSubmitReply}, {"encoding-json", parseWithEncodingJSON}} {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(reply)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
