package domain

// Parsing and validation of input lines (DOMAIN.md §1–2, CONTRACT.md submit
// codes): every code ParseEnvelope produces, the field it names, and the
// normalization that content comparison relies on.

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// parseNow is the ledger clock for parsing tests.
var parseNow = ts("2024-06-01T12:00:00Z")

// validData is a valid data object for every input type.
func validData() map[string]M {
	return map[string]M{
		TypeOfferPublished: {"offer_id": "O-1", "partner_id": "P-1", "publisher_id": "PUB-1", "listing_type": "transact",
			"storefront": "azure-marketplace", "category": "m365-app"},
		TypeOfferDelisted:            {"offer_id": "O-1", "reason": "retired"},
		TypePartnerEnrolled:          {"partner_id": "P-1", "name": "Contoso", "account_email": "admin@contoso.example"},
		TypeMarketingContactAssigned: {"partner_id": "P-1", "user_id": "u-1", "email": "m@contoso.example", "phone": "+1 425 555 0100", "language": "en-US"},
		TypeSaleBilled:               {"sale_id": "S-1", "offer_id": "O-1", "customer_id": "C-1", "amount_usd_cents": 8000000, "seats": 10},
		TypeSaleFlaggedFraud:         {"sale_id": "S-1", "confidence": "confirmed"},
		TypeSaleFraudCleared:         {"sale_id": "S-1"},
		TypePurchaseCancelled:        {"sale_id": "S-1", "reason": "before-use"},
		TypeMetricReported:           {"partner_id": "P-1", "metric": "teams_mau", "period": "2024-05", "value": 0},
		TypeBenefitActivated:         {"partner_id": "P-1", "benefit_id": "press-release", "offer_id": "O-1"},
		TypeRewardsTeamContacted:     {"partner_id": "P-1", "benefit_id": "press-release"},
		TypeEngagementOptedOut:       {"partner_id": "P-1", "benefit_id": "press-release", "offer_id": "O-1"},
		TypeEngagementOptedIn:        {"partner_id": "P-1"},
		TypePartnerSanctioned:        {"partner_id": "P-1", "ground": "sponsorship-violation", "note": "see case 12"},
		TypePartnerReinstated:        {"partner_id": "P-1"},
	}
}

// requiredFields lists each type's required data fields (DOMAIN.md §2).
var requiredFields = map[string][]string{
	TypeOfferPublished:           {"offer_id", "partner_id", "publisher_id", "listing_type", "storefront"},
	TypeOfferDelisted:            {"offer_id"},
	TypePartnerEnrolled:          {"partner_id", "name", "account_email"},
	TypeMarketingContactAssigned: {"partner_id", "phone", "language"},
	TypeSaleBilled:               {"sale_id", "offer_id", "customer_id", "amount_usd_cents"},
	TypeSaleFlaggedFraud:         {"sale_id", "confidence"},
	TypeSaleFraudCleared:         {"sale_id"},
	TypePurchaseCancelled:        {"sale_id", "reason"},
	TypeMetricReported:           {"partner_id", "metric", "period", "value"},
	TypeBenefitActivated:         {"partner_id", "benefit_id"},
	TypeRewardsTeamContacted:     {"partner_id", "benefit_id"},
	TypeEngagementOptedOut:       {"partner_id"},
	TypeEngagementOptedIn:        {"partner_id"},
	TypePartnerSanctioned:        {"partner_id", "ground"},
	TypePartnerReinstated:        {"partner_id"},
}

// baseEnvelope is a valid envelope of typ with data.
func baseEnvelope(typ string, data M) M {
	return M{"specversion": "1.0", "id": "billing-eu-778812", "source": "billing/eu", "type": typ,
		"time": "2024-05-01T09:30:00Z", "data": data}
}

// saleLine is a valid SaleBilled envelope changed by mod.
func saleLine(mod func(env, data M)) []byte {
	data := validData()[TypeSaleBilled]
	env := baseEnvelope(TypeSaleBilled, data)
	if mod != nil {
		mod(env, data)
	}
	return envelope(env)
}

func TestParseEveryTypeValid(t *testing.T) {
	if len(validData()) != len(dataParsers) || len(requiredFields) != len(dataParsers) {
		t.Fatalf("the tables cover %d/%d of %d types", len(validData()), len(requiredFields), len(dataParsers))
	}
	for typ, data := range validData() {
		in, err := ParseEnvelope(envelope(baseEnvelope(typ, data)), parseNow)
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		if in.Type != typ || in.Data.EventType() != typ || in.ID != "billing-eu-778812" || in.Source != "billing/eu" {
			t.Errorf("%s: parsed as %+v", typ, in)
		}
	}
}

func TestParseInvalidJSON(t *testing.T) {
	valid := string(saleLine(nil))
	cases := map[string]string{
		"not JSON":            `hello`,
		"empty":               ``,
		"truncated":           valid[:len(valid)-1],
		"array":               `[` + valid + `]`,
		"empty array":         `[]`,
		"string":              `"x"`,
		"number":              `42`,
		"null":                `null`,
		"two objects":         valid + valid,
		"two objects, spaced": valid + "\n" + valid,
		"trailing garbage":    valid + ` x`,
		"duplicate attribute": `{"specversion":"1.0","id":"a","id":"b","source":"s","type":"SaleFraudCleared","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-1"}}`,
		"duplicate data key":  `{"specversion":"1.0","id":"a","source":"s","type":"SaleFraudCleared","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-1","sale_id":"S-2"}}`,
		"invalid UTF-8":       `{"specversion":"1.0","id":"a","source":"s` + "\xff" + `","type":"SaleFraudCleared","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-1"}}`,
		"invalid UTF-8 data":  `{"specversion":"1.0","id":"a","source":"s","type":"SaleFraudCleared","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-` + "\xc3\x28" + `"}}`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(raw), parseNow)
			if CodeOf(err) != CodeInvalidJSON {
				t.Fatalf("want invalid_json, got %q (%v)", CodeOf(err), err)
			}
		})
	}
	// Surrounding whitespace (a line with its newline) is fine.
	if _, err := ParseEnvelope([]byte(" "+valid+"\r\n"), parseNow); err != nil {
		t.Fatalf("whitespace around the object: %v", err)
	}
}

func TestParseInvalidEnvelope(t *testing.T) {
	type tc struct {
		name string
		mod  func(env, data M)
	}
	var cases []tc
	for _, attr := range []string{"specversion", "id", "source", "type", "time", "data"} {
		cases = append(cases, tc{attr + " missing", func(env, _ M) { delete(env, attr) }})
		cases = append(cases, tc{attr + " null", func(env, _ M) { env[attr] = nil }})
		cases = append(cases, tc{attr + " number", func(env, _ M) { env[attr] = 1 }})
		cases = append(cases, tc{attr + " boolean", func(env, _ M) { env[attr] = true }})
		cases = append(cases, tc{attr + " array", func(env, _ M) { env[attr] = []any{"1.0"} }})
		if attr != "data" {
			cases = append(cases, tc{attr + " object", func(env, _ M) { env[attr] = M{"v": "1.0"} }})
		} else {
			cases = append(cases, tc{"data string", func(env, _ M) { env["data"] = `{"sale_id":"S-1"}` }})
		}
	}
	cases = append(cases,
		tc{"specversion 0.3", func(env, _ M) { env["specversion"] = "0.3" }},
		tc{"specversion 1", func(env, _ M) { env["specversion"] = "1" }},
		tc{"specversion empty", func(env, _ M) { env["specversion"] = "" }},
		tc{"extension with a bad name", func(env, _ M) { env["Trace-Parent"] = "x" }},
		tc{"extension with an object value", func(env, _ M) { env["traceparent"] = M{"a": 1} }},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseEnvelope(saleLine(c.mod), parseNow)
			if CodeOf(err) != CodeInvalidEnvelope {
				t.Fatalf("want invalid_envelope, got %q (%v)", CodeOf(err), err)
			}
		})
	}
	// Optional CloudEvents attributes and scalar extensions are accepted.
	ok := saleLine(func(env, _ M) {
		env["subject"] = "S-1"
		env["datacontenttype"] = "application/json"
		env["traceparent"] = "00-abc"
		env["retries"] = 2
	})
	if _, err := ParseEnvelope(ok, parseNow); err != nil {
		t.Fatalf("extensions: %v", err)
	}
}

func TestParseUnknownType(t *testing.T) {
	for _, typ := range []string{"SaleRefunded", "salebilled", "", "OfferPublished "} {
		_, err := ParseEnvelope(envelope(baseEnvelope(typ, M{})), parseNow)
		if CodeOf(err) != CodeUnknownType {
			t.Errorf("type %q: want unknown_type, got %q (%v)", typ, CodeOf(err), err)
		}
	}
	// The type is judged before the fields: a bad id on an unknown type is unknown_type.
	env := baseEnvelope("Nope", M{})
	env["id"] = "has space"
	if _, err := ParseEnvelope(envelope(env), parseNow); CodeOf(err) != CodeUnknownType {
		t.Errorf("unknown type with bad id: got %q", CodeOf(err))
	}
}

// fieldCase is one invalid_field case: a mutation of a valid envelope of a
// type and the field the error must name ("" when valid).
type fieldCase struct {
	name  string
	typ   string
	mod   func(env, data M)
	field string
}

func set(k string, v any) func(env, data M) { return func(_, data M) { data[k] = v } }
func del(k string) func(env, data M)        { return func(_, data M) { delete(data, k) } }
func setEnv(k string, v any) func(env, data M) {
	return func(env, _ M) { env[k] = v }
}

func runFieldCases(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := validData()[c.typ]
			env := baseEnvelope(c.typ, data)
			c.mod(env, data)
			raw := envelope(env)
			_, err := ParseEnvelope(raw, parseNow)
			if c.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v\n%s", err, raw)
				}
				return
			}
			var e *Error
			if CodeOf(err) != CodeInvalidField || !errors.As(err, &e) {
				t.Fatalf("want invalid_field %s, got %q (%v)\n%s", c.field, CodeOf(err), err, raw)
			}
			if e.Field != c.field {
				t.Fatalf("want field %s, got %q (%v)", c.field, e.Field, err)
			}
			if !strings.Contains(e.Msg, c.field) {
				t.Fatalf("the message %q does not name %s", e.Msg, c.field)
			}
		})
	}
}

func TestParseIDs(t *testing.T) {
	s128, s129 := strings.Repeat("a", 128), strings.Repeat("a", 129)
	p64, p65 := strings.Repeat("P", 64), strings.Repeat("P", 65)
	S, P := TypeSaleBilled, TypeBenefitActivated
	runFieldCases(t, []fieldCase{
		{"id ok: printable punctuation", S, setEnv("id", `a!"#$%&'()*+,-./:;<=>?@[\]^_{|}~z`), ""},
		{"id 128 chars", S, setEnv("id", s128), ""},
		{"id 129 chars", S, setEnv("id", s129), "id"},
		{"id empty", S, setEnv("id", ""), "id"},
		{"id with space", S, setEnv("id", "billing 1"), "id"},
		{"id with tab", S, setEnv("id", "billing\t1"), "id"},
		{"id non-ASCII", S, setEnv("id", "factura-ñ"), "id"},
		{"id control char", S, setEnv("id", "a\u007fb"), "id"},
		{"source empty", S, setEnv("source", ""), "source"},
		{"sale_id 128", S, set("sale_id", s128), ""},
		{"sale_id 129", S, set("sale_id", s129), "data.sale_id"},
		{"sale_id space", S, set("sale_id", "S 1"), "data.sale_id"},
		{"offer_id unicode", S, set("offer_id", "Ö-1"), "data.offer_id"},
		{"customer_id empty", S, set("customer_id", ""), "data.customer_id"},
		{"sale_id number", S, set("sale_id", 7), "data.sale_id"},
		{"sale_id null", S, set("sale_id", nil), "data.sale_id"},
		{"publisher_id space", TypeOfferPublished, set("publisher_id", "PUB 1"), "data.publisher_id"},
		{"benefit_id non-ASCII", P, set("benefit_id", "prèss"), "data.benefit_id"},
		{"partner_id 64", P, set("partner_id", p64), ""},
		{"partner_id all classes", P, set("partner_id", "aZ09_-"), ""},
		{"partner_id 65", P, set("partner_id", p65), "data.partner_id"},
		{"partner_id empty", P, set("partner_id", ""), "data.partner_id"},
		{"partner_id dot", P, set("partner_id", "P.1"), "data.partner_id"},
		{"partner_id star", P, set("partner_id", "P*"), "data.partner_id"},
		{"partner_id gt", P, set("partner_id", "P>"), "data.partner_id"},
		{"partner_id space", P, set("partner_id", "P 1"), "data.partner_id"},
		{"partner_id unicode", P, set("partner_id", "Pä"), "data.partner_id"},
		{"partner_id slash", P, set("partner_id", "P/1"), "data.partner_id"},
		{"partner_id of a publication", TypeOfferPublished, set("partner_id", "a.b"), "data.partner_id"},
		{"partner_id of a metric", TypeMetricReported, set("partner_id", ">"), "data.partner_id"},
	})
}

func TestParseAmounts(t *testing.T) {
	S := TypeSaleBilled
	amount := func(raw string) func(env, data M) { return set("amount_usd_cents", json.RawMessage(raw)) }
	runFieldCases(t, []fieldCase{
		{"1", S, amount("1"), ""},
		{"10^13", S, amount("10000000000000"), ""},
		{"0", S, amount("0"), "data.amount_usd_cents"},
		{"10^13+1", S, amount("10000000000001"), "data.amount_usd_cents"},
		{"beyond int64", S, amount("99999999999999999999999"), "data.amount_usd_cents"},
		{"negative", S, amount("-5"), "data.amount_usd_cents"},
		{"1.0", S, amount("1.0"), "data.amount_usd_cents"},
		{"1e3", S, amount("1e3"), "data.amount_usd_cents"},
		{"1E3", S, amount("1E3"), "data.amount_usd_cents"},
		{"fraction", S, amount("12.5"), "data.amount_usd_cents"},
		{"string", S, amount(`"100"`), "data.amount_usd_cents"},
		{"boolean", S, amount("true"), "data.amount_usd_cents"},
		{"null", S, amount("null"), "data.amount_usd_cents"},
		{"seats 0", S, set("seats", 0), ""},
		{"seats negative", S, set("seats", -1), "data.seats"},
		{"seats fraction", S, set("seats", 1.5), "data.seats"},
		{"seats null is absent", S, set("seats", nil), ""},
		{"metric value 0", TypeMetricReported, set("value", 0), ""},
		{"metric value negative", TypeMetricReported, set("value", -1), "data.value"},
		{"metric value 1.0", TypeMetricReported, set("value", json.RawMessage("1.0")), "data.value"},
		{"metric value string", TypeMetricReported, set("value", "5"), "data.value"},
	})
	in, err := ParseEnvelope(saleLine(func(_, d M) { d["amount_usd_cents"] = json.RawMessage("10000000000000") }), parseNow)
	if err != nil || in.Data.(SaleBilled).AmountUSDCents != MaxAmountCents {
		t.Fatalf("10^13 parsed as %+v (%v)", in.Data, err)
	}
}

func TestParseFieldsKnownAndRequired(t *testing.T) {
	var cases []fieldCase
	for typ, fields := range requiredFields {
		for _, f := range fields {
			cases = append(cases, fieldCase{typ + " without " + f, typ, del(f), "data." + f})
		}
		cases = append(cases, fieldCase{typ + " with an unknown field", typ, set("amount_usd_cent", 1), "data.amount_usd_cent"})
		cases = append(cases, fieldCase{typ + " with a misspelt field", typ, set("partnerId", "P-1"), "data.partnerId"})
	}
	// Optional fields may be omitted (or null).
	optional := map[string][]string{
		TypeOfferPublished:     {"category"},
		TypeOfferDelisted:      {"reason"},
		TypeSaleBilled:         {"seats"},
		TypeBenefitActivated:   {"offer_id"},
		TypeEngagementOptedOut: {"benefit_id", "offer_id"},
		TypePartnerSanctioned:  {"note"},
	}
	for typ, fields := range optional {
		for _, f := range fields {
			cases = append(cases, fieldCase{typ + " without optional " + f, typ, del(f), ""})
			cases = append(cases, fieldCase{typ + " with null optional " + f, typ, set(f, nil), ""})
		}
	}
	// An unknown field is named even when another field is also invalid.
	cases = append(cases, fieldCase{"unknown before invalid", TypeSaleBilled,
		func(_, d M) { d["amount_usd_cents"] = 0; d["zzz"] = 1 }, "data.zzz"})
	runFieldCases(t, cases)
}

func TestParseEnumsAndFormats(t *testing.T) {
	O, C, MR := TypeOfferPublished, TypeMarketingContactAssigned, TypeMetricReported
	var cases []fieldCase
	enums := []struct {
		typ, field string
		good       []string
		bad        []string
	}{
		{O, "listing_type", []string{"list", "trial", "consulting", "transact"}, []string{"free", "byol", "Transact", ""}},
		{O, "storefront", []string{"appsource", "azure-marketplace"}, []string{"web", "AppSource"}},
		{O, "category", []string{"m365-app", "business-app", "azure-app", "other"}, []string{"games", ""}},
		{TypeSaleFlaggedFraud, "confidence", []string{"suspected", "confirmed"}, []string{"likely", "cleared"}},
		{TypePurchaseCancelled, "reason", []string{"accidental", "before-use", "other"}, []string{"changed-mind"}},
		{MR, "metric", []string{"teams_mau", "bizapps_value"}, []string{"bizapps_value_usd_cents", "dau"}},
		{TypePartnerSanctioned, "ground", []string{"illegal-activity", "fraudulent-purchase", "delisted", "ip-violation", "sponsorship-violation"}, []string{"other"}},
	}
	for _, e := range enums {
		for _, v := range e.good {
			cases = append(cases, fieldCase{e.field + " " + v, e.typ, set(e.field, v), ""})
		}
		for _, v := range e.bad {
			cases = append(cases, fieldCase{e.field + " bad " + v, e.typ, set(e.field, v), "data." + e.field})
		}
		cases = append(cases, fieldCase{e.field + " number", e.typ, set(e.field, 1), "data." + e.field})
	}
	formats := []struct {
		typ, field string
		good       []string
		bad        []string
	}{
		{C, "phone", []string{"+1 425 555 0100", "123456", "(08) 123-456", "+12345678901234567890"},
			[]string{"12345", "+1 425 555 0100 ext 5", "phone", "+123456789012345678901", "++123456", ""}},
		{C, "language", []string{"en-US", "sv-SE", "en", "pl", "zh-Hant-TW"}, []string{"en_US", "english language", "", "e"}},
		{C, "email", []string{"a@b.co", "First.Last+tag@sub.example.org"}, []string{"not-an-email", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@.co", ""}},
		{TypePartnerEnrolled, "account_email", []string{"it@northwind.example"}, []string{"northwind"}},
		{TypePartnerEnrolled, "name", []string{"Northwind Traders AB"}, []string{"", "bad\nname", strings.Repeat("n", 501)}},
		{MR, "period", []string{"2024-01", "2024-12"}, []string{"2024-13", "2024-00", "2024-1", "2024/01", "202401", "2024-01-01", ""}},
	}
	for _, f := range formats {
		for _, v := range f.good {
			cases = append(cases, fieldCase{f.field + " " + v, f.typ, set(f.field, v), ""})
		}
		for _, v := range f.bad {
			cases = append(cases, fieldCase{f.field + " bad " + v, f.typ, set(f.field, v), "data." + f.field})
		}
	}
	cases = append(cases,
		fieldCase{"contact with user_id only", C, del("email"), ""},
		fieldCase{"contact with email only", C, del("user_id"), ""},
		fieldCase{"contact with neither user_id nor email", C, func(_, d M) { delete(d, "user_id"); delete(d, "email") }, "data.user_id"},
		fieldCase{"contact with both null", C, func(_, d M) { d["user_id"] = nil; d["email"] = nil }, "data.user_id"},
		fieldCase{"contact with a bad user_id", C, set("user_id", "u 1"), "data.user_id"},
	)
	runFieldCases(t, cases)
}

func TestParseTime(t *testing.T) {
	S := TypeSaleBilled
	fiveAfter := parseNow.Add(MaxClockSkew)
	runFieldCases(t, []fieldCase{
		{"Z", S, setEnv("time", "2024-05-01T09:30:00Z"), ""},
		{"offset", S, setEnv("time", "2024-05-01T11:30:00+02:00"), ""},
		{"fraction", S, setEnv("time", "2024-05-01T09:30:00.123456789Z"), ""},
		{"exactly now", S, setEnv("time", parseNow.Format(time.RFC3339Nano)), ""},
		{"exactly now+5min", S, setEnv("time", fiveAfter.Format(time.RFC3339Nano)), ""},
		{"now+5min expressed with an offset", S, setEnv("time", fiveAfter.In(time.FixedZone("", -3600)).Format(time.RFC3339Nano)), ""},
		{"now+5min+1ns", S, setEnv("time", fiveAfter.Add(time.Nanosecond).Format(time.RFC3339Nano)), "time"},
		{"next year", S, setEnv("time", "2025-05-01T09:30:00Z"), "time"},
		{"no offset", S, setEnv("time", "2024-05-01T09:30:00"), "time"},
		{"date only", S, setEnv("time", "2024-05-01"), "time"},
		{"space separator", S, setEnv("time", "2024-05-01 09:30:00Z"), "time"},
		{"not a time", S, setEnv("time", "yesterday"), "time"},
		{"month 13", S, setEnv("time", "2024-13-01T00:00:00Z"), "time"},
		{"unix seconds as string", S, setEnv("time", "1714555800"), "time"},
		// RFC 3339's time-numoffset is 00-23 hours and 00-59 minutes;
		// time.Parse alone takes +24:00 and +23:60.
		{"offset +23:59", S, setEnv("time", "2024-05-01T09:30:00+23:59"), ""},
		{"offset -23:59", S, setEnv("time", "2024-05-01T09:30:00-23:59"), ""},
		{"offset -00:00", S, setEnv("time", "2024-05-01T09:30:00-00:00"), ""},
		{"offset +24:00", S, setEnv("time", "2024-01-01T00:00:00+24:00"), "time"},
		{"offset -24:00", S, setEnv("time", "2024-01-01T00:00:00-24:00"), "time"},
		{"offset +99:00", S, setEnv("time", "2024-01-01T00:00:00+99:00"), "time"},
		{"offset +23:60", S, setEnv("time", "2024-01-01T00:00:00+23:60"), "time"},
		{"offset +00:99", S, setEnv("time", "2024-01-01T00:00:00+00:99"), "time"},
		{"offset with a fraction +24:00", S, setEnv("time", "2024-01-01T00:00:00.5+24:00"), "time"},
		{"comma before the fraction", S, setEnv("time", "2024-05-01T09:30:00,5Z"), "time"},
		{"lowercase z", S, setEnv("time", "2024-05-01T09:30:00z"), "time"},
	})
}

// TestParseTimeClipsEcho: a huge time attribute is not echoed whole in the
// message (time.Parse's own error quotes its whole input).
func TestParseTimeClipsEcho(t *testing.T) {
	for name, v := range map[string]string{
		"not a time":    strings.Repeat("9", 1<<20),
		"long fraction": "2024-05-01T09:30:00." + strings.Repeat("1", 1<<20) + "+24:00",
		"before 1970":   "1960-05-01T09:30:00." + strings.Repeat("1", 1<<20) + "Z",
	} {
		_, err := ParseEnvelope(saleLine(setEnv("time", v)), parseNow)
		if CodeOf(err) != CodeInvalidField {
			t.Fatalf("%s: want invalid_field, got %v", name, CodeOf(err))
		}
		if n := len(err.Error()); n > 400 {
			t.Errorf("%s: a %d-byte message for a %d-byte time", name, n, len(v))
		}
	}
}

// TestParseExtensionIntegers: a number in an extension attribute is a
// CloudEvents Integer, 32-bit signed, in plain digits.
func TestParseExtensionIntegers(t *testing.T) {
	S := TypeSaleBilled
	num := func(s string) func(env, data M) { return setEnv("retries", json.Number(s)) }
	runFieldCases(t, []fieldCase{
		{"zero", S, num("0"), ""},
		{"max int32", S, num("2147483647"), ""},
		{"min int32", S, num("-2147483648"), ""},
		{"max int32 + 1", S, num("2147483648"), "retries"},
		{"min int32 - 1", S, num("-2147483649"), "retries"},
		{"int64", S, num("9223372036854775807"), "retries"},
		{"1,000 digits", S, num("1" + strings.Repeat("0", 999)), "retries"},
		{"-1,000 digits", S, num("-" + strings.Repeat("9", 1000)), "retries"},
		{"fraction", S, num("1.5"), "retries"},
		{"exponent", S, num("1e3"), "retries"},
		{"string of digits", S, setEnv("retries", strings.Repeat("9", 1000)), ""}, // a String attribute
		{"boolean", S, setEnv("retries", true), ""},
	})
	_, err := ParseEnvelope(saleLine(num("1"+strings.Repeat("0", 1<<20))), parseNow)
	if n := len(err.Error()); n > 400 {
		t.Errorf("a %d-byte message for a 1 MB number", n)
	}
}

func TestParseNormalizesTime(t *testing.T) {
	in, err := ParseEnvelope(saleLine(func(env, _ M) { env["time"] = "2024-05-01T11:30:00+02:00" }), parseNow)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC)
	if !in.Time.Equal(want) || in.Time.Location() != time.UTC || in.Time.Format(time.RFC3339) != "2024-05-01T09:30:00Z" {
		t.Fatalf("time %v (%s), want %v in UTC", in.Time, in.Time.Location(), want)
	}
}

func TestParseDefaults(t *testing.T) {
	in, err := ParseEnvelope(envelope(baseEnvelope(TypeOfferPublished, M{"offer_id": "O-1", "partner_id": "P-1",
		"publisher_id": "PUB-1", "listing_type": "trial", "storefront": "appsource"})), parseNow)
	if err != nil {
		t.Fatal(err)
	}
	if c := in.Data.(OfferPublished).Category; c != CategoryOther {
		t.Fatalf("category defaults to %q", c)
	}
}

func TestFingerprint(t *testing.T) {
	fp := func(raw string) Fingerprint {
		t.Helper()
		in, err := ParseEnvelope([]byte(raw), parseNow)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return in.Fingerprint()
	}
	a := fp(`{"specversion":"1.0","id":"a","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`)
	same := map[string]string{
		"offset, key order, spacing, id and source": `{ "data" : {"amount_usd_cents":8000000, "customer_id":"C-9","offer_id":"O-1","sale_id":"S-3"}, "time":"2024-05-01T11:30:00+02:00","type":"SaleBilled","source":"billing/us","id":"b","specversion":"1.0"}`,
		"fractional zero":     `{"specversion":"1.0","id":"c","source":"x","type":"SaleBilled","time":"2024-05-01T09:30:00.000Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`,
		"escaped string":      `{"specversion":"1.0","id":"d","source":"x","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-\u0033","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`,
		"extension attribute": `{"specversion":"1.0","id":"e","source":"x","type":"SaleBilled","time":"2024-05-01T09:30:00Z","traceparent":"t","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`,
	}
	for name, raw := range same {
		if fp(raw) != a {
			t.Errorf("%s: fingerprint differs", name)
		}
	}
	differ := map[string]string{
		"amount":   `{"specversion":"1.0","id":"a","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000001}}`,
		"time":     `{"specversion":"1.0","id":"a","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:01Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`,
		"seats":    `{"specversion":"1.0","id":"a","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000,"seats":3}}`,
		"customer": `{"specversion":"1.0","id":"a","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-8","amount_usd_cents":8000000}}`,
	}
	for name, raw := range differ {
		if fp(raw) == a {
			t.Errorf("%s: fingerprint equal for different content", name)
		}
	}

	pub := func(extra string) Fingerprint {
		return fp(`{"specversion":"1.0","id":"p","source":"x","type":"OfferPublished","time":"2024-05-01T00:00:00Z","data":{"offer_id":"O-1","partner_id":"P-1","publisher_id":"PUB-1","listing_type":"trial","storefront":"appsource"` + extra + `}}`)
	}
	if pub("") != pub(`,"category":"other"`) || pub("") != pub(`,"category":null`) {
		t.Error("omitted category and explicit default differ")
	}
	if pub("") == pub(`,"category":"m365-app"`) {
		t.Error("m365-app category fingerprints as the default")
	}
	// The type is part of the content: an opt-in is not an opt-out.
	out := fp(`{"specversion":"1.0","id":"o","source":"x","type":"EngagementOptedOut","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1"}}`)
	in := fp(`{"specversion":"1.0","id":"o","source":"x","type":"EngagementOptedIn","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1"}}`)
	if out == in {
		t.Error("opt-out and opt-in of the same scope fingerprint alike")
	}
}
