package ledger_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
)

// recordedAt is the clock of the records these tests build.
const recordedAt = "2024-06-01T00:00:00Z"

// rawRecord is a stored message of schema 1 for partner P-1, with the
// headers the ledger writes; edit changes them before the record is built.
func rawRecord(typ, data string, edit func(subject *string, h nats.Header)) eventstore.Record {
	subject := eventstore.Subject("P-1", typ)
	h := nats.Header{}
	h.Set(eventstore.HdrSchema, eventstore.Schema1)
	h.Set(eventstore.HdrType, typ)
	h.Set(eventstore.HdrPartner, "P-1")
	h.Set(ledger.HdrRecorded, recordedAt)
	switch typ {
	case domain.TypeBenefitActivated:
		h.Set(ledger.HdrGrantLine, "L-1")
		h.Set(ledger.HdrGrantStart, "2024-06-01T00:00:00Z")
		h.Set(ledger.HdrGrantEnd, "2025-06-01T00:00:00Z")
	case domain.TypeRewardsTeamContacted:
		h.Set(ledger.HdrTarget, "7")
	}
	if edit != nil {
		edit(&subject, h)
	}
	return eventstore.NewRecord(42, subject, h, []byte(data), time.Unix(0, 0))
}

func sale(envelope string) string {
	if envelope == "" {
		envelope = `"time":"2024-05-01T00:00:00Z"`
	}
	return `{"specversion":"1.0","id":"sale-1","source":"test","type":"SaleBilled",` + envelope +
		`,"data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}}`
}

func saleData(data string) string {
	return `{"specversion":"1.0","id":"sale-1","source":"test","type":"SaleBilled","time":"2024-05-01T00:00:00Z","data":{` + data + `}}`
}

func contact(data string) string {
	return `{"specversion":"1.0","id":"mc-1","source":"test","type":"MarketingContactAssigned","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1",` + data + `}}`
}

// TestRecordedHistoryNotRevalidated: recorded events that today's input
// rules refuse — as they would after any rule is tightened — still decode,
// to exactly what they hold: the read path trusts what was accepted and
// never stops on it.
func TestRecordedHistoryNotRevalidated(t *testing.T) {
	cases := []struct {
		name, typ, data string
		check           func(domain.Event) bool
	}{
		{"time after the recording clock", domain.TypeSaleBilled, sale(`"time":"2030-01-01T00:00:00Z"`),
			func(e domain.Event) bool { return e.Time.Year() == 2030 }},
		{"time before 1970", domain.TypeSaleBilled, sale(`"time":"1969-12-31T00:00:00Z"`),
			func(e domain.Event) bool { return e.Time.Year() == 1969 }},
		{"a future time with an offset, normalized", domain.TypeSaleBilled, sale(`"time":"2030-05-01T02:00:00+02:00"`),
			func(e domain.Event) bool {
				return e.Time.Equal(time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)) && e.Time.Location() == time.UTC
			}},
		{"no specversion and no source", domain.TypeSaleBilled, `{"id":"sale-1","type":"SaleBilled","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}}`,
			func(e domain.Event) bool { return e.Source == "" }},
		{"extension attributes of any kind", domain.TypeSaleBilled, sale(`"time":"2024-05-01T00:00:00Z","Bad_Name":1,"big":` + strings.Repeat("9", 1000) + `,"obj":{"a":[1]}`),
			func(e domain.Event) bool { return e.ID == "sale-1" }},
		{"amount out of today's range", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":0`),
			func(e domain.Event) bool { return e.Data.(domain.SaleBilled).AmountUSDCents == 0 }},
		{"negative seats", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":5,"seats":-3`),
			func(e domain.Event) bool { return e.Data.(domain.SaleBilled).Seats == -3 }},
		{"ids today's format refuses", domain.TypeSaleBilled, saleData(`"sale_id":"S 1 ü","offer_id":"O-1","customer_id":"","amount_usd_cents":5`),
			func(e domain.Event) bool {
				d := e.Data.(domain.SaleBilled)
				return d.SaleID == "S 1 ü" && d.CustomerID == ""
			}},
		{"fields unknown today", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":5,"currency":"EUR"`),
			func(e domain.Event) bool { return e.Data.(domain.SaleBilled).SaleID == "S-1" }},
		{"phone and language today's patterns refuse", domain.TypeMarketingContactAssigned, contact(`"email":"a@b.example","phone":"call me, ext. 7","language":"not a tag"`),
			func(e domain.Event) bool {
				d := e.Data.(domain.MarketingContactAssigned)
				return d.Phone == "call me, ext. 7" && d.Language == "not a tag"
			}},
		{"neither user_id nor email", domain.TypeMarketingContactAssigned, contact(`"phone":"+1 555 0100","language":"en","user_id":null`),
			func(e domain.Event) bool { return e.Data.(domain.MarketingContactAssigned).UserID == "" }},
		{"an enumeration value unknown today", domain.TypeSaleFlaggedFraud, `{"id":"f-1","type":"SaleFlaggedFraud","time":"2024-05-01T00:00:00Z","data":{"sale_id":"S-1","confidence":"probable"}}`,
			func(e domain.Event) bool { return e.Data.(domain.SaleFlaggedFraud).Confidence == "probable" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rawRecord(c.typ, c.data, nil)
			if _, err := domain.ParseEnvelope(r.Data, time.Now()); err == nil {
				t.Fatalf("today's input rules accept %s: the case proves nothing", c.data)
			}
			e, err := ledger.DecodeRecorded(r)
			if err != nil {
				t.Fatalf("recorded event refused: %v", err)
			}
			if e.Seq != 42 || e.Partner != "P-1" || e.Type != c.typ || !c.check(e) {
				t.Errorf("decoded to %+v", e)
			}
		})
	}
}

// TestForeignRecordsNamed: records the ledger did not write — missing or
// unknown schema, missing or unreadable ledger headers, a subject not of the
// ledger's form, a body without the structure the fold needs — are refused
// as ErrForeign, naming their sequence, and never panic.
func TestForeignRecordsNamed(t *testing.T) {
	del := func(k string) func(*string, nats.Header) { return func(_ *string, h nats.Header) { h.Del(k) } }
	set := func(k, v string) func(*string, nats.Header) { return func(_ *string, h nats.Header) { h.Set(k, v) } }
	ok := sale("")
	cases := []struct {
		name, typ, data string
		edit            func(*string, nats.Header)
	}{
		{"a reply without any ledger header", domain.TypeSaleBilled, `{"events":12,"partners":3}`, func(_ *string, h nats.Header) {
			for k := range h {
				delete(h, k)
			}
		}},
		{"no schema header", domain.TypeSaleBilled, ok, del(eventstore.HdrSchema)},
		{"an unknown schema", domain.TypeSaleBilled, ok, set(eventstore.HdrSchema, "99")},
		{"no recorded header", domain.TypeSaleBilled, ok, del(ledger.HdrRecorded)},
		{"an unreadable recorded header", domain.TypeSaleBilled, ok, set(ledger.HdrRecorded, "yesterday")},
		{"a subject of fewer tokens", domain.TypeSaleBilled, ok, func(s *string, _ nats.Header) { *s = "ledger.events.P-1" }},
		{"a subject of more tokens", domain.TypeSaleBilled, ok, func(s *string, _ nats.Header) { *s = "ledger.events.P-1.SaleBilled.extra" }},
		{"a partner header other than the subject's", domain.TypeSaleBilled, ok, set(eventstore.HdrPartner, "P-2")},
		{"a type header other than the subject's", domain.TypeSaleBilled, ok, set(eventstore.HdrType, "SaleFraudCleared")},
		{"a body that is no JSON", domain.TypeSaleBilled, "this is not an envelope", nil},
		{"invalid UTF-8", domain.TypeSaleBilled, "{\"id\":\"\xff\"}", nil},
		{"a JSON array", domain.TypeSaleBilled, `[1,2]`, nil},
		{"duplicate names", domain.TypeSaleBilled, `{"id":"a","id":"b"}`, nil},
		{"no data", domain.TypeSaleBilled, `{"id":"sale-1","type":"SaleBilled","time":"2024-05-01T00:00:00Z"}`, nil},
		{"data not an object", domain.TypeSaleBilled, `{"id":"sale-1","type":"SaleBilled","time":"2024-05-01T00:00:00Z","data":"x"}`, nil},
		{"no id", domain.TypeSaleBilled, `{"type":"SaleBilled","time":"2024-05-01T00:00:00Z","data":{}}`, nil},
		{"an id that is a number", domain.TypeSaleBilled, `{"id":7,"type":"SaleBilled","time":"2024-05-01T00:00:00Z","data":{}}`, nil},
		{"a time that does not parse", domain.TypeSaleBilled, sale(`"time":"May 1st"`), nil},
		{"an unknown type", "SaleBilledTwice", strings.Replace(ok, `"SaleBilled"`, `"SaleBilledTwice"`, 1), nil},
		{"an envelope type other than the subject's", domain.TypeSaleFraudCleared, ok, nil},
		{"a required field missing", domain.TypeSaleBilled, saleData(`"offer_id":"O-1","customer_id":"C-1","amount_usd_cents":5`), nil},
		{"a required field null", domain.TypeSaleBilled, saleData(`"sale_id":null,"offer_id":"O-1","customer_id":"C-1","amount_usd_cents":5`), nil},
		{"a string field holding a number", domain.TypeSaleBilled, saleData(`"sale_id":1,"offer_id":"O-1","customer_id":"C-1","amount_usd_cents":5`), nil},
		{"an amount that is a string", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":"5"`), nil},
		{"an amount with a fraction", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":1.5`), nil},
		{"an amount beyond 64 bits", domain.TypeSaleBilled, saleData(`"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":1e30`), nil},
		{"an activation without its grant note", domain.TypeBenefitActivated,
			`{"id":"a-1","type":"BenefitActivated","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, del(ledger.HdrGrantLine)},
		{"a grant period that does not parse", domain.TypeBenefitActivated,
			`{"id":"a-1","type":"BenefitActivated","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, set(ledger.HdrGrantEnd, "later")},
		{"a contact report without its target", domain.TypeRewardsTeamContacted,
			`{"id":"c-1","type":"RewardsTeamContacted","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, del(ledger.HdrTarget)},
		{"a target that is no sequence", domain.TypeRewardsTeamContacted,
			`{"id":"c-1","type":"RewardsTeamContacted","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`, set(ledger.HdrTarget, "-1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := ledger.DecodeRecorded(rawRecord(c.typ, c.data, c.edit))
			if !errors.Is(err, ledger.ErrForeign) || !strings.Contains(err.Error(), "seq 42") {
				t.Fatalf("decoded to %+v, %v; want ErrForeign naming seq 42", e, err)
			}
			if !reflect.DeepEqual(e, domain.Event{}) {
				t.Errorf("a foreign record decoded to %+v", e)
			}
		})
	}
	// The template itself is a ledger event: the cases above fail for
	// what they change.
	for _, typ := range []string{domain.TypeSaleBilled} {
		if _, err := ledger.DecodeRecorded(rawRecord(typ, ok, nil)); err != nil {
			t.Fatalf("template: %v", err)
		}
	}
	for _, data := range []string{
		`{"id":"a-1","type":"BenefitActivated","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`,
		`{"id":"c-1","type":"RewardsTeamContacted","time":"2024-05-01T00:00:00Z","data":{"partner_id":"P-1","benefit_id":"B-1"}}`,
	} {
		typ := strings.Split(strings.Split(data, `"type":"`)[1], `"`)[0]
		if _, err := ledger.DecodeRecorded(rawRecord(typ, data, nil)); err != nil {
			t.Fatalf("template %s: %v", typ, err)
		}
	}
}
