package domain_test

// Fuzz targets for bad input (`go test -fuzz`; scripts/fuzz runs each for
// minutes). Both are seeded from every line of every acceptance scenario,
// read at test time, so new scenarios seed them without code changes; the
// seeds (and testdata/fuzz) run as ordinary tests in `go test ./...`.
//
//   - FuzzParseEnvelope: one input line. Never panics; rejections are coded
//     with a parse-level code; the JSON layer agrees with encoding/json; an
//     accepted input's fingerprint survives re-rendering.
//   - FuzzBook: a sequence of lines (scenario and story lines picked by
//     index, mutated by time shifts, field splices and byte edits, plus one
//     raw line of the fuzzer's own) submitted to a fresh Book. A rejected
//     line changes nothing, an accepted one is recorded, a duplicate names
//     an existing sequence, and the log rebuilds the same documents.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/scenario"
)

// fuzzNow is the ledger's clock in the fuzz targets: after every scenario's
// event times.
var fuzzNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// render is an input line with the attributes in a fixed order.
func render(id, typ, at string, data map[string]any) []byte {
	d, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":"test/fuzz","type":%q,"time":%q,"data":%s}`, id, typ, at, d)
}

// storyLines cover the event types and eras the scenarios do not: delistings
// and republication, per-offer grants, metrics and their replacement, fraud
// clearance, contact reports, opt-outs, sanctions, the 2024-08 listing
// package, a second partner. Not every line is meant to be accepted.
func storyLines() [][]byte {
	type M = map[string]any
	ls := []struct {
		typ, at string
		data    M
	}{
		{domain.TypeOfferPublished, "2020-08-01T00:00:00Z", M{"offer_id": "O-F1", "partner_id": "P-F", "publisher_id": "PUB-F", "listing_type": "transact", "storefront": "azure-marketplace"}},
		{domain.TypeOfferPublished, "2020-09-01T00:00:00Z", M{"offer_id": "O-F2", "partner_id": "P-F", "publisher_id": "PUB-F", "listing_type": "trial", "storefront": "appsource", "category": "m365-app"}},
		{domain.TypePartnerEnrolled, "2020-09-02T00:00:00Z", M{"partner_id": "P-F", "name": "Fabrikam", "account_email": "acct@fabrikam.example"}},
		{domain.TypeMarketingContactAssigned, "2020-09-03T00:00:00Z", M{"partner_id": "P-F", "email": "m@fabrikam.example", "phone": "+1 425 555 0100", "language": "en-US"}},
		{domain.TypeSaleBilled, "2020-10-01T00:00:00Z", M{"sale_id": "S-F1", "offer_id": "O-F1", "customer_id": "C-1", "amount_usd_cents": 3000000, "seats": 150}},
		{domain.TypeBenefitActivated, "2020-10-02T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "engagement-manager", "offer_id": "O-F2"}},
		{domain.TypeBenefitActivated, "2020-10-03T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "technical-consultation"}},
		{domain.TypeRewardsTeamContacted, "2020-10-05T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "engagement-manager"}},
		{domain.TypeSaleFlaggedFraud, "2020-11-01T00:00:00Z", M{"sale_id": "S-F1", "confidence": "suspected"}},
		{domain.TypeBenefitActivated, "2020-11-02T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "press-release"}},
		{domain.TypeSaleFraudCleared, "2020-11-15T00:00:00Z", M{"sale_id": "S-F1"}},
		{domain.TypeBenefitActivated, "2020-11-16T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "press-release"}},
		{domain.TypeOfferDelisted, "2021-01-15T00:00:00Z", M{"offer_id": "O-F2", "reason": "retired"}},
		{domain.TypeEngagementOptedOut, "2021-02-01T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "press-release"}},
		{domain.TypeEngagementOptedIn, "2021-03-01T00:00:00Z", M{"partner_id": "P-F"}},
		{domain.TypeOfferPublished, "2022-01-01T00:00:00Z", M{"offer_id": "O-F2", "partner_id": "P-F", "publisher_id": "PUB-F", "listing_type": "trial", "storefront": "appsource", "category": "m365-app"}},
		{domain.TypeMetricReported, "2024-01-01T00:00:00Z", M{"partner_id": "P-F", "metric": "teams_mau", "period": "2023-12", "value": 6000}},
		{domain.TypeMetricReported, "2024-02-01T00:00:00Z", M{"partner_id": "P-F", "metric": "bizapps_value", "period": "2024-01", "value": 12000000}},
		{domain.TypeBenefitActivated, "2024-02-02T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "customer-case-study"}},
		{domain.TypeMetricReported, "2024-02-03T00:00:00Z", M{"partner_id": "P-F", "metric": "teams_mau", "period": "2023-12", "value": 500}},
		{domain.TypeSaleBilled, "2024-03-01T00:00:00Z", M{"sale_id": "S-F2", "offer_id": "O-F1", "customer_id": "C-2", "amount_usd_cents": 50000000}},
		{domain.TypeBenefitActivated, "2024-03-02T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "marketing-campaign"}},
		{domain.TypePurchaseCancelled, "2024-04-01T00:00:00Z", M{"sale_id": "S-F2", "reason": "accidental"}},
		{domain.TypeSaleFlaggedFraud, "2024-05-01T00:00:00Z", M{"sale_id": "S-F1", "confidence": "confirmed"}},
		{domain.TypePartnerSanctioned, "2024-06-01T00:00:00Z", M{"partner_id": "P-F", "ground": "fraudulent-purchase", "note": "case 7"}},
		{domain.TypePartnerReinstated, "2024-07-01T00:00:00Z", M{"partner_id": "P-F"}},
		{domain.TypeOfferPublished, "2024-09-01T00:00:00Z", M{"offer_id": "O-F3", "partner_id": "P-F", "publisher_id": "PUB-F", "listing_type": "list", "storefront": "appsource"}},
		{domain.TypeBenefitActivated, "2024-09-02T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "press-release"}},
		{domain.TypeRewardsTeamContacted, "2024-09-20T00:00:00Z", M{"partner_id": "P-F", "benefit_id": "press-release"}},
		{domain.TypeOfferPublished, "2024-01-10T00:00:00Z", M{"offer_id": "O-G1", "partner_id": "P-G", "publisher_id": "PUB-G", "listing_type": "consulting", "storefront": "azure-marketplace", "category": "business-app"}},
		{domain.TypePartnerEnrolled, "2024-01-11T00:00:00Z", M{"partner_id": "P-G", "name": "Globex", "account_email": "acct@globex.example"}},
		{domain.TypeMarketingContactAssigned, "2024-01-12T00:00:00Z", M{"partner_id": "P-G", "user_id": "u-g", "phone": "(555) 010-0199", "language": "sv-SE"}},
		{domain.TypeBenefitActivated, "2024-02-01T00:00:00Z", M{"partner_id": "P-G", "benefit_id": "engagement-manager", "offer_id": "O-G1"}},
		{domain.TypeEngagementOptedOut, "2024-03-01T00:00:00Z", M{"partner_id": "P-G", "offer_id": "O-G1"}},
		{domain.TypeOfferDelisted, "2024-04-01T00:00:00Z", M{"offer_id": "O-G1"}},
		{domain.TypeSaleBilled, "2024-04-02T00:00:00Z", M{"sale_id": "S-G1", "offer_id": "O-G1", "customer_id": "C-3", "amount_usd_cents": 100}},
		{domain.TypeSaleBilled, "2020-10-01T00:00:00Z", M{"sale_id": "S-F1", "offer_id": "O-F1", "customer_id": "C-1", "amount_usd_cents": 3000000, "seats": 150}},
		{domain.TypeMetricReported, "2024-05-01T00:00:00Z", M{"partner_id": "P-G", "metric": "teams_mau", "period": "2024-04", "value": 30000}},
		{domain.TypeBenefitActivated, "2024-05-02T00:00:00Z", M{"partner_id": "P-G", "benefit_id": "marketing-campaign"}},
		{domain.TypePartnerSanctioned, "2024-06-01T00:00:00Z", M{"partner_id": "P-G", "ground": "ip-violation"}},
	}
	out := make([][]byte, len(ls))
	for i, l := range ls {
		out[i] = render(fmt.Sprintf("story-%d", i+1), l.typ, l.at, l.data)
	}
	return out
}

// parseCodes are the codes ParseEnvelope may reject with.
var parseCodes = []domain.Code{domain.CodeInvalidJSON, domain.CodeInvalidEnvelope, domain.CodeUnknownType, domain.CodeInvalidField}

// parseEdgeCases are hand-made lines at the edges of the JSON layer and the
// envelope rules.
func parseEdgeCases() []string {
	ok := `{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFlaggedFraud","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","confidence":"confirmed"}}`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	nest := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	// many is n extension attributes (or data fields) named x0, x1, …, then
	// the name of the k-th again when k ≥ 0.
	many := func(n, k int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `"x%d":%d,`, i, i)
		}
		if k >= 0 {
			fmt.Fprintf(&b, `"x%d":0,`, k)
		}
		return b.String()
	}
	return []string{
		ok,
		"", " ", "\n", "{}", "[]", "null", "1", `"x"`, "{", "}", "{}{}", ok + " x", ok + "\n" + ok, "\ufeff" + ok, "\x00" + ok,
		// Duplicate names, spelled alike or through escapes, at each depth.
		`{"specversion":"1.0","specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","\u0069d":"e-1","id":"e-2","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","sale_id":"S-2"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","x":{"a":1,"a":2}}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"},"ext":{"a":1,"a":2}}`,
		`{"\ud800":1,"\udbff":2}`, `{"\ud800\udc00":1,"\ud800\udc01":2}`,
		strings.Replace(ok, `"data":`, many(40, -1)+`"data":`, 1),
		strings.Replace(ok, `"data":`, many(40, 3)+`"data":`, 1),
		strings.Replace(ok, `"data":`, many(40, 39)+`"data":`, 1),
		strings.Replace(ok, `"data":`, many(15, 0)+`"data":`, 1),
		strings.Replace(ok, `{"sale_id"`, "{"+many(40, 20)+`"sale_id"`, 1),
		strings.Replace(ok, `{"sale_id"`, "{"+many(3000, -1)+`"sale_id"`, 1),
		// Escapes and surrogates in values.
		`{"specversion":"1.0","id":"\u0065-1\/\"","source":"s\u00e9","type":"Sale\u0046raudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S\u002d1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s\n","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"\ud83d\ude00","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"\ud800","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"\udc00\ud800\u0041","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"\ud800\\","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"PartnerSanctioned","time":"2024-05-01T09:30:00Z","data":{"partner_id":"P-1","ground":"delisted","note":"` + strings.Repeat("é", 300) + `"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"PartnerSanctioned","time":"2024-05-01T09:30:00Z","data":{"partner_id":"P-1","ground":"delisted","note":"x` + strings.Repeat("é", 300) + `"}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","x` + strings.Repeat("é", 100) + `":1}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"Sale` + strings.Repeat("é", 100) + `","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		// Deep nesting, within and beyond encoding/json's limit.
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","x":` + deep + `}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","x":` + nest(5000) + `}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":` + nest(3) + `}`,
		// Huge, negative, fractional and exponent numbers.
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":1e400}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":99999999999999999999999999}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":10000000000000,"seats":-0}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":10000000000001}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":1.0,"seats":1E2}}`,
		`{"specversion":"1.0","id":"e-1","source":"s","type":"MetricReported","time":"2024-05-01T09:30:00Z","data":{"partner_id":"P-1","metric":"teams_mau","period":"2024-04","value":-1}}`,
		`{"specversion":1.0,"id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}}`,
		// Invalid UTF-8: a lone continuation byte, an overlong slash, a truncated rune, a surrogate encoded in UTF-8.
		"{\"specversion\":\"1.0\",\"id\":\"e-\x80\",\"source\":\"s\",\"type\":\"SaleFraudCleared\",\"time\":\"2024-05-01T09:30:00Z\",\"data\":{\"sale_id\":\"S-1\"}}",
		"{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"\xc0\xaf\",\"type\":\"SaleFraudCleared\",\"time\":\"2024-05-01T09:30:00Z\",\"data\":{\"sale_id\":\"S-1\"}}",
		"{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"s\",\"type\":\"SaleFraudCleared\",\"time\":\"2024-05-01T09:30:00Z\",\"data\":{\"sale_id\":\"S-1\",\"\xe2\x82\":1}}",
		"{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"\xed\xa0\x80\",\"type\":\"SaleFraudCleared\",\"time\":\"2024-05-01T09:30:00Z\",\"data\":{\"sale_id\":\"S-1\"}}",
		// Times: offsets, bounds, the future, odd spellings.
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2024-05-01T09:30:00.123456789+14:00", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "1970-01-01T00:59:59+01:00", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "1969-12-31T23:59:59Z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2030-01-01T00:05:00Z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2030-01-01T00:05:00.000000001Z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2024-02-30T00:00:00Z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2024-05-01t09:30:00z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2016-12-31T23:59:60Z", 1),
		strings.Replace(ok, "2024-05-01T09:30:00Z", "2024-05-01T09:30:00-23:59", 1),
		// Extension attributes and optional CloudEvents attributes.
		strings.Replace(ok, `"data":`, `"traceparent":"00-abc","partition":7,"flag":true,"datacontenttype":"application/json","data":`, 1),
		strings.Replace(ok, `"data":`, `"Ext":1,"data":`, 1),
		strings.Replace(ok, `"data":`, `"dataschema":null,"data":`, 1),
		strings.Replace(ok, `"data":`, `"ext":[1],"data":`, 1),
	}
}

// FuzzParseEnvelope checks ParseEnvelope on arbitrary lines.
func FuzzParseEnvelope(f *testing.F) {
	for _, sc := range scenario.Lines(f) {
		for _, l := range sc {
			f.Add(l)
		}
	}
	for _, l := range storyLines() {
		f.Add(l)
	}
	for _, l := range parseEdgeCases() {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkParse(t, raw)
	})
}

func checkParse(t *testing.T, raw []byte) {
	orig := bytes.Clone(raw)
	in, err := domain.ParseEnvelope(raw, fuzzNow)
	if !bytes.Equal(raw, orig) {
		t.Fatal("ParseEnvelope changed its input")
	}
	in2, err2 := domain.ParseEnvelope(raw, fuzzNow)
	if fmt.Sprint(err) != fmt.Sprint(err2) || (err == nil && in.Fingerprint() != in2.Fingerprint()) {
		t.Fatalf("parsing twice differs: %v / %v", err, err2)
	}

	// The JSON layer, as encoding/json sees the line.
	valid := utf8.Valid(raw) && json.Valid(raw)
	object, shallowDup := jsonShape(raw)
	var code domain.Code
	if err != nil {
		var e *domain.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not a *domain.Error: %v", err, err)
		}
		code = e.Code
		if !slices.Contains(parseCodes, code) {
			t.Fatalf("code %q is not a parse code (%v)", code, err)
		}
		if utf8.Valid(raw) && !utf8.ValidString(e.Msg) {
			t.Fatalf("error message of a valid UTF-8 line is not valid UTF-8: %q", e.Msg)
		}
	}
	switch {
	case !valid && code != domain.CodeInvalidJSON:
		t.Fatalf("not valid JSON (or not UTF-8), got code %q (err %v)", code, err)
	case valid && !object && code != domain.CodeInvalidJSON:
		t.Fatalf("valid JSON but not an object, got code %q (err %v)", code, err)
	case valid && object && shallowDup && code != domain.CodeInvalidJSON:
		t.Fatalf("an object with a repeated name, got code %q (err %v)", code, err)
	case valid && object && !shallowDup && code == domain.CodeInvalidJSON:
		t.Fatalf("a JSON object without repeated names rejected as invalid_json: %v", err)
	}
	if err != nil {
		return
	}

	// Accepted: normalized, and what encoding/json reads.
	if in.Time.Location() != time.UTC {
		t.Fatalf("time %v is not UTC", in.Time)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("accepted, but encoding/json cannot decode it: %v", err)
	}
	if m["id"] != in.ID || m["source"] != in.Source || m["type"] != in.Type {
		t.Fatalf("envelope read as id %q source %q type %q, encoding/json reads %q %q %q", in.ID, in.Source, in.Type, m["id"], m["source"], m["type"])
	}
	checkData(t, m["data"].(map[string]any), in.Data)

	// Re-rendered (keys reordered, escapes normalized) and with the instant
	// spelled at another offset, it is the same content.
	fp := in.Fingerprint()
	for _, zone := range []*time.Location{nil, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -11*3600)} {
		if zone != nil {
			m["time"] = in.Time.In(zone).Format(time.RFC3339Nano)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		re, err := domain.ParseEnvelope(again, fuzzNow)
		if err != nil {
			t.Fatalf("re-rendered line rejected: %v\n%s", err, again)
		}
		if re.Fingerprint() != fp || re.ID != in.ID || re.Source != in.Source || !re.Time.Equal(in.Time) {
			t.Fatalf("re-rendered line differs: fingerprint %x vs %x\n%s\n%s", re.Fingerprint(), fp, raw, again)
		}
	}
}

// checkData compares the typed data with encoding/json's reading of the data
// object: every string and integer given is kept as given.
func checkData(t *testing.T, given map[string]any, d domain.Data) {
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var typed map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&typed); err != nil {
		t.Fatal(err)
	}
	for k, v := range given {
		switch v := v.(type) {
		case string:
			if typed[k] != v {
				t.Fatalf("data.%s read as %q, encoding/json reads %q", k, typed[k], v)
			}
		case json.Number:
			want, err := v.Int64()
			got, _ := typed[k].(json.Number)
			n, _ := got.Int64()
			if err != nil || (n != want && !(want == 0 && got == "")) {
				t.Fatalf("data.%s read as %v, encoding/json reads %v", k, typed[k], v)
			}
		}
	}
}

// jsonShape reports, for valid JSON, whether it is an object and whether a
// name repeats in it or in an object that is the direct value of one of its
// members (the depths the ledger reads). Names compare unescaped.
func jsonShape(raw []byte) (object, dup bool) {
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return false, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return false, false
	}
	var value func(depth int) bool
	object1 := func(depth int) bool { // after '{'
		seen := map[string]bool{}
		dup := false
		for {
			tok, _ := dec.Token()
			if tok == json.Delim('}') || tok == nil {
				return dup
			}
			name := tok.(string)
			if depth <= 1 && seen[name] {
				dup = true
			}
			seen[name] = true
			if value(depth + 1) {
				dup = true
			}
		}
	}
	value = func(depth int) bool {
		tok, _ := dec.Token()
		switch tok {
		case json.Delim('{'):
			return object1(depth)
		case json.Delim('['):
			for dec.More() {
				value(depth + 1)
			}
			dec.Token() // ']'
		}
		return false
	}
	return true, object1(0)
}

// bookCase is one FuzzBook run: the corpus lines it picks from and the value
// pools it splices from.
type bookCase struct {
	corpus [][]byte
	pools  map[string][]any
	keys   []string
}

// spliceKeys are the attributes and data fields a splice may set.
var spliceKeys = []string{"id", "type", "time", "partner_id", "offer_id", "sale_id", "benefit_id", "listing_type",
	"amount_usd_cents", "seats", "confidence", "category", "metric", "period", "value", "email", "account_email",
	"user_id", "reason", "ground", "storefront", "customer_id", "publisher_id"}

func newBookCase(scenarios [][][]byte) *bookCase {
	c := &bookCase{pools: map[string][]any{}, keys: spliceKeys}
	for _, sc := range scenarios {
		c.corpus = append(c.corpus, sc...)
	}
	c.corpus = append(c.corpus, storyLines()...)
	add := func(k string, v any) {
		if !slices.ContainsFunc(c.pools[k], func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
			c.pools[k] = append(c.pools[k], v)
		}
	}
	for _, l := range c.corpus {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			continue
		}
		for _, k := range []string{"id", "type", "time"} {
			add(k, m[k])
		}
		if d, ok := m["data"].(map[string]any); ok {
			for k, v := range d {
				add(k, v)
			}
		}
	}
	for _, b := range []string{"listing-optimization", "engagement-manager", "press-release", "social-amplification",
		"customer-case-study", "co-sell-enablement", "marketing-campaign", "executive-sponsorship",
		"technical-consultation", "azure-sponsorship", "no-such-benefit"} {
		add("benefit_id", b)
	}
	for _, lt := range []string{"list", "trial", "consulting", "transact"} {
		add("listing_type", lt)
	}
	for _, typ := range []string{domain.TypeOfferPublished, domain.TypeOfferDelisted, domain.TypePartnerEnrolled,
		domain.TypeMarketingContactAssigned, domain.TypeSaleBilled, domain.TypeSaleFlaggedFraud, domain.TypeSaleFraudCleared,
		domain.TypePurchaseCancelled, domain.TypeMetricReported, domain.TypeBenefitActivated, domain.TypeRewardsTeamContacted,
		domain.TypeEngagementOptedOut, domain.TypeEngagementOptedIn, domain.TypePartnerSanctioned, domain.TypePartnerReinstated} {
		add("type", typ)
	}
	for _, v := range []any{json.Number("1"), json.Number("10000000000000"), json.Number("0"), json.Number("-5"), nil, "", "P.1", "x y"} {
		add("amount_usd_cents", v)
		add("partner_id", v)
	}
	for _, at := range []string{"2020-07-05T23:59:59Z", "2020-07-06T00:00:00Z", "2021-06-30T23:59:59Z", "2021-07-01T00:00:00Z",
		"2023-11-30T23:59:59Z", "2023-12-01T00:00:00Z", "2024-08-19T00:00:00Z", "2024-02-29T12:00:00+02:00", "2030-01-01T00:05:00Z",
		"2030-01-01T00:05:01Z", "1970-01-01T00:00:00Z"} {
		add("time", at)
	}
	return c
}

// opReader reads FuzzBook's operations; past the end it reads zeros.
type opReader struct {
	b []byte
	i int
}

func (r *opReader) more() bool { return r.i < len(r.b) }

func (r *opReader) byte() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *opReader) u16() int { return int(binary.BigEndian.Uint16([]byte{r.byte(), r.byte()})) }

// Operations of FuzzBook: an op byte, then its arguments.
const (
	opSubmit   = iota // idx16: a corpus line as it is
	opShift           // idx16 unit amount16: its time moved by amount units (1s, 1h, 1 day), fresh id
	opSplice          // idx16 key value: one attribute or data field set from the pools (value 255 deletes), fresh id
	opByte            // idx16 pos16 byte: one byte replaced
	opExtra           // the fuzzer's own raw line
	opRetype          // idx16 idx16: the envelope of one line with the type and data of another, fresh id
	opResubmit        // idx16: an earlier line of this run again (a duplicate or a conflict)
	opCount
)

const maxBookSteps = 48

// lines decodes the operations into the lines to submit.
func (c *bookCase) lines(ops, extra []byte) [][]byte {
	r := &opReader{b: ops}
	var out [][]byte
	for step := 0; r.more() && step < maxBookSteps; step++ {
		op := int(r.byte()) % opCount
		pick := func() []byte { return c.corpus[r.u16()%len(c.corpus)] }
		fresh := func(m map[string]any) { m["id"] = fmt.Sprintf("%v~%d", m["id"], step) }
		var line []byte
		switch op {
		case opSubmit:
			line = pick()
		case opShift:
			m := decodeLine(pick())
			unit := []time.Duration{time.Second, time.Hour, 24 * time.Hour}[r.byte()%3]
			amount := time.Duration(int16(r.u16()))
			if s, ok := m["time"].(string); ok {
				if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
					m["time"] = at.Add(amount * unit).Format(time.RFC3339Nano)
				}
			}
			fresh(m)
			line = encodeLine(m)
		case opSplice:
			m := decodeLine(pick())
			key := c.keys[int(r.byte())%len(c.keys)]
			vi := r.byte()
			target := m
			if key != "id" && key != "type" && key != "time" {
				d, ok := m["data"].(map[string]any)
				if !ok {
					d = map[string]any{}
					m["data"] = d
				}
				target = d
			}
			if pool := c.pools[key]; vi == 255 || len(pool) == 0 {
				delete(target, key)
			} else {
				target[key] = pool[int(vi)%len(pool)]
			}
			if key != "id" {
				fresh(m)
			}
			line = encodeLine(m)
		case opByte:
			line = bytes.Clone(pick())
			pos := r.u16()
			b := r.byte()
			if len(line) > 0 {
				line[pos%len(line)] = b
			}
		case opExtra:
			line = extra
		case opRetype:
			m, o := decodeLine(pick()), decodeLine(pick())
			m["type"], m["data"] = o["type"], o["data"]
			fresh(m)
			line = encodeLine(m)
		case opResubmit:
			i := r.u16()
			if len(out) == 0 {
				continue
			}
			line = out[i%len(out)]
		}
		out = append(out, line)
	}
	return out
}

func decodeLine(raw []byte) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil || m == nil {
		return map[string]any{}
	}
	return m
}

func encodeLine(m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// docInstants are the instants the documents are compared at: around every
// era boundary and the seats cut-off, and in each scenario's years.
var docInstants = func() []time.Time {
	var out []time.Time
	for _, s := range []string{"2020-01-01T00:00:00Z", "2020-08-15T00:00:00Z", "2021-06-30T23:59:59Z", "2021-07-01T00:00:00Z",
		"2022-03-01T00:00:00Z", "2023-11-30T23:59:59Z", "2023-12-15T00:00:00Z", "2024-03-01T00:00:00Z", "2024-06-15T00:00:00Z",
		"2024-08-19T00:00:00Z", "2024-10-01T00:00:00Z", "2025-03-01T00:00:00Z", "2026-06-01T00:00:00Z", "2029-12-31T00:00:00Z"} {
		t, _ := time.Parse(time.RFC3339, s)
		out = append(out, t)
	}
	return out
}()

// documents renders every partner's documents as known at known: tier and
// benefits at each instant, the tier history, attention at a few instants.
func documents(b *domain.Book, known uint64) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	for _, id := range b.PartnerIDs() {
		p := b.Partner(id)
		if !p.KnownAt(known) {
			continue
		}
		v := domain.Compile(b.Policy(), p, known)
		sb.WriteString(id + "\n")
		for _, at := range docInstants {
			enc.Encode(v.Tier(at, 0))
			enc.Encode(v.Benefits(at, 0))
		}
		for i, at := range docInstants {
			if i%4 == 0 {
				enc.Encode(v.Attention(at))
			}
		}
		enc.Encode(domain.History(b.Policy(), p, known, 0))
	}
	return sb.String()
}

// process runs the line through the write-side pipeline against the Book
// without recording anything, as the writer does, and summarizes the outcome.
func process(b *domain.Book, line []byte) string {
	load := func(id string) (*domain.Partner, error) {
		if p := b.Partner(id); p != nil {
			return p, nil
		}
		return domain.NewPartner(id), nil
	}
	_, events, err := domain.Process(b, load, nil, line, fuzzNow, b.Policy())
	seq, dup := domain.IsDuplicate(err)
	if dup {
		err = nil
	} else if err == nil {
		seq = b.LastSeq() + 1
	}
	return outcome(err, dup, seq, len(events))
}

func outcome(err error, dup bool, seq uint64, events int) string {
	if err != nil {
		return "rejected " + string(domain.CodeOf(err)) + ": " + err.Error()
	}
	return fmt.Sprintf("seq %d duplicate %v, %d events", seq, dup, events)
}

// firstDiff shows where two renderings part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-300)
	return fmt.Sprintf("…%s\n  vs\n…%s", a[from:min(len(a), i+200)], b[from:min(len(b), i+200)])
}

// involvedPartner is the partner a line is routed to: the one whose facts
// the decider sees ("" when the line is not routed to any).
func involvedPartner(b *domain.Book, in domain.Input, perr error) string {
	if perr != nil {
		return ""
	}
	id, err := domain.Route(b, in)
	if seq, ok := domain.IsDuplicate(err); ok {
		return b.Events()[seq-1].Partner
	}
	if err != nil {
		return ""
	}
	return id
}

// stepInstants are the instants partnerDocs compares at, around the era
// boundaries.
var stepInstants = []time.Time{docInstants[1], docInstants[3], docInstants[6], docInstants[8], docInstants[10], docInstants[13]}

// partnerDocs are a partner's tier and benefits documents at stepInstants,
// nil when it does not exist.
func partnerDocs(b *domain.Book, id string) any {
	p := b.Partner(id)
	if p == nil {
		return nil
	}
	v := domain.Compile(b.Policy(), p, domain.AllKnown)
	var docs []any
	for _, at := range stepInstants {
		docs = append(docs, v.Tier(at, 0), v.Benefits(at, 0))
	}
	return docs
}

// factShape summarizes every partner's facts: what folding an event changes.
func factShape(b *domain.Book) string {
	var sb strings.Builder
	for _, id := range b.PartnerIDs() {
		p := b.Partner(id)
		fmt.Fprintf(&sb, "%s %d %d %d/", id, p.LastSeq(), p.Core.Events, len(p.Metrics))
		for _, o := range p.Offers {
			fmt.Fprintf(&sb, "o%s:", o.ID)
			for _, pub := range o.Pubs {
				fmt.Fprintf(&sb, "%d:%v,", pub.Seq, pub.Delisted != nil)
			}
		}
		for _, s := range p.Sales {
			fmt.Fprintf(&sb, "s%s:%d:%v,", s.ID, len(s.Marks), s.Cancel != nil)
		}
		for _, a := range p.Activations {
			fmt.Fprintf(&sb, "a%d:%d,", a.Seq, len(a.Contacts))
		}
		fmt.Fprintf(&sb, "e%v c%d o%d x", p.Core.Enrolment != nil, len(p.Core.Contacts), len(p.Core.Opts))
		for _, x := range p.Core.Sanctions {
			fmt.Fprintf(&sb, "%d:%v,", x.Seq, x.Reinstated != nil)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// FuzzBook submits sequences of lines to a fresh Book.
func FuzzBook(f *testing.F) {
	scs := scenario.Lines(f)
	c := newBookCase(scs)
	submitAll := func(from, n int) []byte {
		var ops []byte
		for i := range n {
			ops = append(ops, opSubmit)
			ops = binary.BigEndian.AppendUint16(ops, uint16(from+i))
		}
		return ops
	}
	from := 0
	for _, sc := range scs {
		f.Add(submitAll(from, len(sc)), sc[0])
		from += len(sc)
	}
	story := submitAll(from, len(c.corpus)-from)
	f.Add(story, []byte(`{"specversion":"1.0"}`))
	// The story with every kind of mutation mixed in.
	mixed := append(bytes.Clone(story[:30]),
		opShift, 0, byte(from+4), 2, 0xff, 0xf0, // a sale 16 days earlier
		opSplice, 0, byte(from+8), 5, 3, // a flag naming another sale
		opByte, 0, byte(from+20), 0, 40, '9',
		opRetype, 0, byte(from+1), 0, byte(from+22),
		opResubmit, 0, 3,
		opExtra)
	mixed = append(mixed, story[30:]...)
	f.Add(mixed, c.corpus[from+5])
	// Scenario and story lines interleaved: partners of different eras side
	// by side; the fuzzer's own line starts as one of the story's sales.
	var interleaved []byte
	for i := 0; i < maxBookSteps/2; i++ {
		interleaved = append(interleaved, submitAll(i%max(from, 1), 1)...)
		interleaved = append(interleaved, submitAll(from+i%(len(c.corpus)-from), 1)...)
	}
	f.Add(interleaved, c.corpus[from+20])
	f.Fuzz(func(t *testing.T, ops, extra []byte) {
		runBook(t, c.lines(ops, extra))
	})
}

// runBook submits lines to a fresh Book and checks every result, then the
// whole log against replay and resubmission.
func runBook(t *testing.T, lines [][]byte) {
	b := domain.NewBook(domain.DefaultPolicy())
	var accepted [][]byte // lines recorded, in order
	var seqs []uint64
	for i, line := range lines {
		last, n := b.LastSeq(), len(b.Events())
		in, perr := domain.ParseEnvelope(line, fuzzNow)
		// Before: the shape of every partner's facts, and the documents
		// of the partner the line is routed to.
		involved := involvedPartner(b, in, perr)
		shape, docs := factShape(b), partnerDocs(b, involved)
		// Deciding is pure: the pipeline alone, twice, decides the same
		// and changes nothing; Submit then decides as it did.
		decided := process(b, line)
		if again := process(b, line); again != decided {
			t.Fatalf("line %d: decided %s, then %s", i+1, decided, again)
		}
		if factShape(b) != shape {
			t.Fatalf("line %d: deciding changed the facts\n%s", i+1, line)
		}
		r := b.Submit(line, fuzzNow)
		if got := outcome(r.Err, r.Duplicate, r.Seq, len(b.Events())-n); got != decided {
			t.Fatalf("line %d: submitted %s, decided %s", i+1, got, decided)
		}
		unchanged := func() bool {
			return b.LastSeq() == last && len(b.Events()) == n && factShape(b) == shape &&
				reflect.DeepEqual(partnerDocs(b, involved), docs)
		}
		switch {
		case r.Err != nil:
			code := domain.CodeOf(r.Err)
			if code == "" {
				t.Fatalf("line %d: uncoded rejection %v\n%s", i+1, r.Err, line)
			}
			if perr != nil && code != domain.CodeOf(perr) {
				t.Fatalf("line %d: rejected %s, ParseEnvelope says %s", i+1, code, domain.CodeOf(perr))
			}
			if !unchanged() {
				t.Fatalf("line %d: rejected (%s: %v) but the book changed (seq %d→%d, partner %q)\n%s", i+1, code, r.Err, last, b.LastSeq(), involved, line)
			}
		case perr != nil:
			t.Fatalf("line %d: accepted, but ParseEnvelope rejects it: %v\n%s", i+1, perr, line)
		case r.Duplicate:
			if r.Seq == 0 || r.Seq > last || b.Events()[r.Seq-1].Fingerprint() != in.Fingerprint() {
				t.Fatalf("line %d: duplicate of seq %d, which is not the same content (last %d)\n%s", i+1, r.Seq, last, line)
			}
			if !unchanged() {
				t.Fatalf("line %d: a duplicate changed the book (partner %q)\n%s", i+1, involved, line)
			}
		default:
			if r.Seq != last+1 || b.LastSeq() != r.Seq || len(b.Events()) != n+1 {
				t.Fatalf("line %d: accepted as seq %d after %d, book at %d with %d events", i+1, r.Seq, last, b.LastSeq(), len(b.Events()))
			}
			e := b.Events()[n]
			if e.ID != in.ID || e.Fingerprint() != in.Fingerprint() || e.Seq != r.Seq {
				t.Fatalf("line %d: recorded %s seq %d, not the line", i+1, e.ID, e.Seq)
			}
			if p := b.Partner(e.Partner); p == nil || p.LastSeq() != r.Seq {
				t.Fatalf("line %d: partner %s does not hold seq %d", i+1, e.Partner, r.Seq)
			}
			if e.Partner != involved {
				t.Fatalf("line %d: recorded for partner %s, routed to %q", i+1, e.Partner, involved)
			}
			accepted = append(accepted, line)
			seqs = append(seqs, r.Seq)
		}
	}

	// The log replayed into a fresh Book gives the same documents, at every
	// knowledge cut-off tried.
	replay := domain.NewBook(domain.DefaultPolicy())
	for _, e := range b.Events() {
		if err := replay.Record(e); err != nil {
			t.Fatalf("replaying seq %d: %v", e.Seq, err)
		}
	}
	cuts := []uint64{domain.AllKnown, b.LastSeq() / 2}
	for _, k := range cuts {
		if documents(replay, k) != documents(b, k) {
			t.Fatalf("replayed log gives other documents at known %d", k)
		}
	}
	if !slices.Equal(replay.PartnerIDs(), b.PartnerIDs()) {
		t.Fatalf("replayed partners %v, want %v", replay.PartnerIDs(), b.PartnerIDs())
	}

	// Knowledge cut-offs: the documents as known at k are those of the log
	// cut after k.
	for _, k := range []uint64{b.LastSeq() / 2, b.LastSeq() * 3 / 4} {
		prefix := domain.NewBook(domain.DefaultPolicy())
		for _, e := range b.Events()[:k] {
			if err := prefix.Record(e); err != nil {
				t.Fatalf("replaying seq %d: %v", e.Seq, err)
			}
		}
		if got, want := documents(b, k), documents(prefix, domain.AllKnown); got != want {
			t.Fatalf("documents known at %d differ from those of the log's first %d events:\n%s", k, k, firstDiff(got, want))
		}
	}

	// Only the accepted lines, submitted to a fresh Book, are accepted with
	// the same sequences: the rejected and duplicate lines changed nothing.
	again := domain.NewBook(domain.DefaultPolicy())
	for i, line := range accepted {
		if r := again.Submit(line, fuzzNow); r.Err != nil || r.Duplicate || r.Seq != seqs[i] {
			t.Fatalf("accepted line resubmitted alone: %+v, want seq %d\n%s", r, seqs[i], line)
		}
	}
	if documents(again, domain.AllKnown) != documents(b, domain.AllKnown) {
		t.Fatal("the accepted lines alone give other documents")
	}

	// Every accepted line again is a duplicate of itself.
	for i, line := range accepted {
		if r := b.Submit(line, fuzzNow); !r.Duplicate || r.Seq != seqs[i] {
			t.Fatalf("accepted line %d again: %+v, want a duplicate of seq %d", i+1, r, seqs[i])
		}
	}
}
