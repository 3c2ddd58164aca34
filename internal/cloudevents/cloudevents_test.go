package cloudevents

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
)

const sale = `{"specversion":"1.0","id":"billing-1","source":"billing/eu","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`

func binaryHeaders() map[string][]string {
	return map[string][]string{
		"ce-specversion": {"1.0"}, "ce-id": {"billing-1"}, "ce-source": {"billing/eu"},
		"ce-type": {"SaleFraudCleared"}, "ce-time": {"2024-05-01T09:30:00Z"}, "Content-Type": {"application/json"},
	}
}

func with(h map[string][]string, edit func(map[string][]string)) map[string][]string {
	edit(h)
	return h
}

// TestDecode: every mode, and every way a message is refused, with the line
// (envelope or code) each one yields.
func TestDecode(t *testing.T) {
	type want struct {
		raw  string      // the envelope, when the line is submitted
		code domain.Code // the refusal, otherwise
	}
	for _, tc := range []struct {
		name    string
		h       map[string][]string
		body    string
		mode    Mode
		lines   []want
		reqCode domain.Code // the whole message refused
	}{
		{name: "structured, no headers", body: sale, mode: Structured, lines: []want{{raw: sale}}},
		{name: "structured NDJSON", h: map[string][]string{"Content-Type": {"application/json"}}, body: sale + "\n\n" + sale + "\n",
			mode: Structured, lines: []want{{raw: sale}, {raw: ""}, {raw: sale}}},
		{name: "structured cloudevents+json", h: map[string][]string{"content-type": {"application/cloudevents+json; charset=utf-8"}}, body: sale,
			mode: Structured, lines: []want{{raw: sale}}},
		{name: "binary denotes the structured envelope", h: binaryHeaders(), body: ` {"sale_id":"S-1"} `, mode: Binary,
			lines: []want{{raw: sale}}},
		{name: "binary header names case-insensitive", h: map[string][]string{"CE-SpecVersion": {"1.0"}, "Ce-Id": {"billing-1"}, "CE-SOURCE": {"billing/eu"},
			"ce-Type": {"SaleFraudCleared"}, "ce-time": {"2024-05-01T09:30:00Z"}}, body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{raw: sale}}},
		{name: "binary extension attribute", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-traceparent"] = []string{"t-1"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary,
			lines: []want{{raw: strings.Replace(sale, `,"data"`, `,"traceparent":"t-1","data"`, 1)}}},
		{name: "binary other data content type", h: with(binaryHeaders(), func(h map[string][]string) { h["Content-Type"] = []string{"text/plain"} }),
			body: `{"sale_id":"S-1"}`, reqCode: domain.CodeUnsupportedMediaType},
		{name: "binary without specversion is left to the parser", h: with(binaryHeaders(), func(h map[string][]string) { delete(h, "ce-specversion") }),
			body: `{"sale_id":"S-1"}`, mode: Binary,
			lines: []want{{raw: strings.Replace(sale, `"specversion":"1.0",`, "", 1)}}},
		{name: "binary body not JSON", h: binaryHeaders(), body: `{"sale_id":`, mode: Binary, lines: []want{{code: domain.CodeInvalidJSON}}},
		{name: "binary body empty", h: binaryHeaders(), body: ``, mode: Binary, lines: []want{{code: domain.CodeInvalidJSON}}},
		{name: "binary body smuggling attributes", h: binaryHeaders(), body: `{"sale_id":"S-1"},"id":"other"`, mode: Binary, lines: []want{{code: domain.CodeInvalidJSON}}},
		{name: "binary header twice", h: with(binaryHeaders(), func(h map[string][]string) { h["CE-ID"] = []string{"x"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "binary header with two values", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-id"] = []string{"a", "b"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "binary ce-data header", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-data"] = []string{"{}"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "binary bad attribute name", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-foo_bar"] = []string{"1"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "binary value not UTF-8", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-source"] = []string{"\xff"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "binary value as sent on NATS (no percent-decoding)", h: with(binaryHeaders(), func(h map[string][]string) { h["ce-source"] = []string{"billing%2Feu"} }),
			body: `{"sale_id":"S-1"}`, mode: Binary, lines: []want{{raw: strings.Replace(sale, `"billing/eu"`, `"billing%2Feu"`, 1)}}},
		{name: "NDJSON content type", h: map[string][]string{"Content-Type": {ContentTypeNDJSON}}, body: sale + "\n \n" + sale,
			mode: Structured, lines: []want{{raw: sale}, {raw: " "}, {raw: sale}}},
		{name: "ce headers on a structured body", h: binaryHeaders(), body: sale, mode: Binary, lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "ce headers on a cloudevents+json body", h: map[string][]string{"Content-Type": {ContentTypeStructured}, "ce-id": {"x"}}, body: sale + "\n" + sale,
			mode: Structured, lines: []want{{code: domain.CodeInvalidEnvelope}, {code: domain.CodeInvalidEnvelope}}},
		{name: "batch", h: map[string][]string{"Content-Type": {ContentTypeBatch}}, body: "[" + sale + ",\n " + sale + ", 3]", mode: Batch,
			lines: []want{{raw: sale}, {raw: sale}, {raw: "3"}}},
		{name: "empty batch", h: map[string][]string{"Content-Type": {ContentTypeBatch}}, body: "[]", mode: Batch},
		{name: "batch not an array", h: map[string][]string{"Content-Type": {ContentTypeBatch}}, body: sale, mode: Batch,
			lines: []want{{code: domain.CodeInvalidJSON}}},
		{name: "ce headers on a batch", h: map[string][]string{"Content-Type": {ContentTypeBatch}, "ce-type": {"x"}}, body: "[" + sale + "]", mode: Batch,
			lines: []want{{code: domain.CodeInvalidEnvelope}}},
		{name: "unknown content type", h: map[string][]string{"Content-Type": {"text/csv"}}, body: sale, reqCode: domain.CodeUnsupportedMediaType},
		{name: "other charset", h: map[string][]string{"Content-Type": {"application/json; charset=latin1"}}, body: sale, reqCode: domain.CodeUnsupportedMediaType},
		{name: "content type twice", h: map[string][]string{"Content-Type": {"application/json", "application/json"}}, body: sale, reqCode: domain.CodeUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, lines, err := Decode(tc.h, []byte(tc.body))
			if tc.reqCode != "" {
				if domain.CodeOf(err) != tc.reqCode {
					t.Fatalf("got %v, want code %s", err, tc.reqCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.mode {
				t.Errorf("mode %s, want %s", mode, tc.mode)
			}
			if len(lines) != len(tc.lines) {
				t.Fatalf("%d lines, want %d: %+v", len(lines), len(tc.lines), lines)
			}
			for i, l := range lines {
				w := tc.lines[i]
				switch {
				case w.code != "" && (l.Err == nil || l.Err.Code != w.code):
					t.Errorf("line %d: %+v, want code %s", i+1, l, w.code)
				case w.code == "" && (l.Err != nil || string(l.Raw) != w.raw):
					t.Errorf("line %d: %q (%v), want %q", i+1, l.Raw, l.Err, w.raw)
				}
			}
		})
	}
}

// TestBinaryParsesAsStructured: the envelope a binary message denotes
// parses to the same input, with the same fingerprint, as the structured
// one, and a binary message missing an attribute gets the parser's code.
func TestBinaryParsesAsStructured(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	want, err := domain.ParseEnvelope([]byte(sale), now)
	if err != nil {
		t.Fatal(err)
	}
	_, lines, err := Decode(binaryHeaders(), []byte(`{"sale_id":"S-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := domain.ParseEnvelope(lines[0].Raw, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Source != want.Source || got.Type != want.Type || !got.Time.Equal(want.Time) || got.Fingerprint() != want.Fingerprint() {
		t.Errorf("binary parsed to %+v, structured to %+v", got, want)
	}
	for attr, code := range map[string]domain.Code{"ce-specversion": domain.CodeInvalidEnvelope, "ce-time": domain.CodeInvalidEnvelope, "ce-type": domain.CodeInvalidEnvelope} {
		h := binaryHeaders()
		delete(h, attr)
		_, lines, _ := Decode(h, []byte(`{"sale_id":"S-1"}`))
		if _, err := domain.ParseEnvelope(lines[0].Raw, now); domain.CodeOf(err) != code {
			t.Errorf("without %s: %v, want %s", attr, err, code)
		}
	}
	h := binaryHeaders()
	h["ce-specversion"] = []string{"0.3"}
	_, lines, _ = Decode(h, []byte(`{"sale_id":"S-1"}`))
	if _, err := domain.ParseEnvelope(lines[0].Raw, now); domain.CodeOf(err) != domain.CodeInvalidEnvelope {
		t.Errorf("specversion 0.3: %v", err)
	}
}

// TestMerge: refused lines keep their position; the others take the
// writer's results in order.
func TestMerge(t *testing.T) {
	lines := []Line{{Raw: []byte("a")}, {ID: "x", Err: &domain.Error{Code: domain.CodeInvalidEnvelope, Msg: "m"}}, {Raw: []byte("b")}}
	got := Merge(lines, []ledger.LineResult{{Line: 1, ID: "a", OK: true, Seq: 5}, {Line: 2, ID: "b", OK: true, Seq: 6}})
	want := []ledger.LineResult{{Line: 1, ID: "a", OK: true, Seq: 5}, {Line: 2, ID: "x", Code: domain.CodeInvalidEnvelope, Error: "m"}, {Line: 3, ID: "b", OK: true, Seq: 6}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

// TestToBinaryRoundTrip: the binary form of an envelope decodes back to an
// envelope that parses to the same input; envelopes without a binary form
// say so.
func TestToBinaryRoundTrip(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	h, data, ok := ToBinary([]byte(sale))
	if !ok {
		t.Fatal("no binary form")
	}
	hh := map[string][]string{}
	for k, v := range h {
		hh[k] = []string{v}
	}
	_, lines, err := Decode(hh, data)
	if err != nil || lines[0].Err != nil || string(lines[0].Raw) != sale {
		t.Fatalf("round trip: %q %v %v", lines[0].Raw, lines[0].Err, err)
	}
	if _, err := domain.ParseEnvelope(lines[0].Raw, now); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]string{
		"not JSON":        `{"id":`,
		"array":           `[1]`,
		"number attr":     strings.Replace(sale, `"1.0"`, `1.0`, 1),
		"data not object": strings.Replace(sale, `{"sale_id":"S-1"}`, `"x"`, 1),
		"no data":         `{"specversion":"1.0","id":"a"}`,
		"duplicate":       strings.Replace(sale, `"id":"billing-1"`, `"id":"a","id":"b"`, 1),
		"newline":         strings.Replace(sale, `"billing/eu"`, `"a\nb"`, 1),
		"bad name":        strings.Replace(sale, `"id":`, `"foo_bar":"1","id":`, 1),
	} {
		if _, _, ok := ToBinary([]byte(env)); ok {
			t.Errorf("%s: has a binary form", name)
		}
	}
}

// TestBindingsAgree: the same binary-mode event sent with HTTP headers
// (canonical names, percent-encoded values) and with NATS headers (names
// and values as sent) decodes to the same envelope, or the same refusal.
func TestBindingsAgree(t *testing.T) {
	type attr struct{ name, value string } // the value as the attribute is
	base := []attr{{"specversion", "1.0"}, {"id", "billing-1"}, {"source", "billing/eu"}, {"type", "SaleFraudCleared"}, {"time", "2024-05-01T09:30:00Z"}}
	withAttr := func(a attr) []attr { return append(slices.Clone(base), a) }
	for _, tc := range []struct {
		name  string
		attrs []attr
		body  string
		httpV map[string][]string // HTTP header values replacing the encoded ones
		natsV map[string][]string
		want  string      // the envelope
		code  domain.Code // or the refusal
	}{
		{name: "plain", attrs: base, body: `{"sale_id":"S-1"}`, want: sale},
		{name: "extension attribute", attrs: withAttr(attr{"traceparent", "00-abc"}), body: `{"sale_id":"S-1"}`,
			want: strings.Replace(sale, `,"data"`, `,"traceparent":"00-abc","data"`, 1)},
		{name: "space, slash, non-ASCII and HTML characters", attrs: withAttr(attr{"note", "a <b> & c/ü"}), body: ` {"sale_id":"S-1"} `,
			want: strings.Replace(sale, `,"data"`, `,"note":"a <b> & c/ü","data"`, 1)},
		{name: "missing attribute left to the parser", attrs: base[1:], body: `{"sale_id":"S-1"}`,
			want: strings.Replace(sale, `"specversion":"1.0",`, "", 1)},
		{name: "repeated", attrs: base, body: `{}`, httpV: map[string][]string{"Ce-Id": {"a", "b"}}, natsV: map[string][]string{"ce-id": {"a", "b"}}, code: domain.CodeInvalidHeader},
		{name: "ce-data", attrs: withAttr(attr{"data", "{}"}), body: `{}`, code: domain.CodeInvalidHeader},
		{name: "bad name", attrs: withAttr(attr{"foo_bar", "1"}), body: `{}`, code: domain.CodeInvalidHeader},
		{name: "not UTF-8", attrs: base, body: `{}`, httpV: map[string][]string{"Ce-Source": {"%ff"}}, natsV: map[string][]string{"ce-source": {"\xff"}}, code: domain.CodeInvalidHeader},
		{name: "body not JSON", attrs: base, body: `{"sale_id":`, code: domain.CodeInvalidJSON},
		{name: "body an envelope", attrs: base, body: sale, code: domain.CodeInvalidEnvelope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := http.Header{"Content-Type": {ContentTypeJSON}}
			nh := nats.Header{"Content-Type": {ContentTypeJSON}}
			for _, a := range tc.attrs {
				hh.Set(HeaderPrefix+a.name, url.PathEscape(a.value))
				nh.Set(HeaderPrefix+a.name, a.value)
			}
			for k, v := range tc.httpV {
				hh[k] = v
			}
			for k, v := range tc.natsV {
				nh[k] = v
			}
			decode := func(b Binding, h map[string][]string) Line {
				t.Helper()
				mode, lines, err := b.Decode(h, []byte(tc.body))
				if err != nil || mode != Binary || len(lines) != 1 {
					t.Fatalf("%v %s %+v", err, mode, lines)
				}
				return lines[0]
			}
			viaHTTP, viaNATS := decode(HTTP, hh), decode(NATS, nh)
			for name, l := range map[string]Line{"HTTP": viaHTTP, "NATS": viaNATS} {
				want := tc.code
				if want == domain.CodeInvalidHeader { // the same refusal, each binding's code for it
					want = map[string]Binding{"HTTP": HTTP, "NATS": NATS}[name].HeaderCode
				}
				switch {
				case tc.code != "" && (l.Err == nil || l.Err.Code != want):
					t.Errorf("%s: %q %v, want %s", name, l.Raw, l.Err, want)
				case tc.code == "" && (l.Err != nil || string(l.Raw) != tc.want):
					t.Errorf("%s: %q %v, want %s", name, l.Raw, l.Err, tc.want)
				}
			}
			if string(viaHTTP.Raw) != string(viaNATS.Raw) || viaHTTP.ID != viaNATS.ID {
				t.Errorf("HTTP %q (id %q), NATS %q (id %q)", viaHTTP.Raw, viaHTTP.ID, viaNATS.Raw, viaNATS.ID)
			}
		})
	}
}
