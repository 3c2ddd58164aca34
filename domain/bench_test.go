package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

var benchSale = []byte(`{"specversion":"1.0","id":"billing-eu-778812","source":"billing/eu","type":"SaleBilled","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000}}`)

var benchNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkParseEnvelope is the cost of decoding and validating one input
// line (paid by the writer, and again by the projector on replay).
func BenchmarkParseEnvelope(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseEnvelope(benchSale, benchNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseManyMembers is the worst line the size limit lets through:
// 64 KiB of extension attributes, each a distinct name to check for
// repetition. It must stay linear in the line's size (it was quadratic: half
// a second per line, minutes for a request of such lines).
func BenchmarkParseManyMembers(b *testing.B) {
	line := []byte(`{"specversion":"1.0","id":"e-1","source":"s","type":"SaleFraudCleared","time":"2024-05-01T09:30:00Z","data":{"sale_id":"S-1"}`)
	for i := 0; len(line) < 64<<10-16; i++ {
		line = fmt.Appendf(line, `,"%x":0`, i)
	}
	line = append(line, '}')
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseEnvelope(line, benchNow); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPartner builds a partner with n sales over three years, a flag and a
// cancellation every 100 sales.
func benchPartner(b *testing.B, n int) (*domain.Book, string) {
	b.Helper()
	book := domain.NewBook(domain.DefaultPolicy())
	line := func(id, typ string, t time.Time, data string) []byte {
		return fmt.Appendf(nil, `{"specversion":"1.0","id":"%s","source":"bench","type":"%s","time":"%s","data":%s}`, id, typ, t.Format(time.RFC3339), data)
	}
	must := func(r domain.Result) {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	must(book.Submit(line("pub", "OfferPublished", t0, `{"offer_id":"O-1","partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}`), benchNow))
	must(book.Submit(line("enrol", "PartnerEnrolled", t0, `{"partner_id":"P-1","name":"Bench","account_email":"a@b.example"}`), benchNow))
	must(book.Submit(line("contact", "MarketingContactAssigned", t0, `{"partner_id":"P-1","user_id":"u","phone":"+1 555 0100","language":"en"}`), benchNow))
	step := 3 * 365 * 24 * time.Hour / time.Duration(n)
	for i := range n {
		t := t0.Add(time.Duration(i+1) * step)
		must(book.Submit(line(fmt.Sprint("s", i), "SaleBilled", t, fmt.Sprintf(`{"sale_id":"S-%d","offer_id":"O-1","customer_id":"C","amount_usd_cents":%d}`, i, 50_000+i%7*100_000)), benchNow))
		if i%100 == 50 {
			must(book.Submit(line(fmt.Sprint("f", i), "SaleFlaggedFraud", t, fmt.Sprintf(`{"sale_id":"S-%d","confidence":"confirmed"}`, i)), benchNow))
			must(book.Submit(line(fmt.Sprint("c", i), "PurchaseCancelled", t, fmt.Sprintf(`{"sale_id":"S-%d","reason":"accidental"}`, i-1)), benchNow))
		}
	}
	return book, "P-1"
}

// BenchmarkCompile is the cost of compiling a partner's View (tracks, first
// receipt, held-tier timeline), per partner size.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprint("sales=", n), func(b *testing.B) {
			book, id := benchPartner(b, n)
			p := book.Partner(id)
			b.ReportAllocs()
			for b.Loop() {
				domain.Compile(book.Policy(), p, domain.AllKnown)
			}
		})
	}
}

// BenchmarkTierQuery answers tier and benefits documents from a compiled View.
func BenchmarkTierQuery(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprint("sales=", n), func(b *testing.B) {
			book, id := benchPartner(b, n)
			v := domain.Compile(book.Policy(), book.Partner(id), domain.AllKnown)
			at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for b.Loop() {
				v.Tier(at, 1)
			}
		})
	}
}

// BenchmarkBenefitsQuery answers the benefits document, as the queries do:
// from a detached View, at instants across the partner's history.
func BenchmarkBenefitsQuery(b *testing.B) {
	book, id := benchPartner(b, 100)
	v := domain.Compile(book.Policy(), book.Partner(id), domain.AllKnown).Detach()
	var ats []time.Time
	for m := range 36 {
		ats = append(ats, time.Date(2023, time.Month(m+1), 15, 0, 0, 0, 0, time.UTC))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v.Benefits(ats[i%len(ats)], 1)
		i++
	}
}

// BenchmarkDecide is the write-side decision for a sale of an existing partner.
func BenchmarkDecide(b *testing.B) {
	book, id := benchPartner(b, 100)
	p := book.Partner(id)
	in, err := domain.ParseEnvelope([]byte(`{"specversion":"1.0","id":"new","source":"bench","type":"SaleBilled","time":"2025-01-01T00:00:00Z","data":{"sale_id":"S-new","offer_id":"O-1","customer_id":"C","amount_usd_cents":100}}`), benchNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.Decide(p, in, benchNow, book.Policy()); err != nil {
			b.Fatal(err)
		}
	}
}
