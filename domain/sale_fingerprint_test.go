package domain_test

import (
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// TestSaleFingerprintIsItsEvents: the fingerprint a sale computes from what
// it holds is the content fingerprint of the SaleBilled event that recorded
// it, for every sale of a generated log (seats given and omitted) and for
// times spelled with an offset. Duplicate and conflict detection of a
// repeated sale id rests on this: the read models do not store it.
func TestSaleFingerprintIsItsEvents(t *testing.T) {
	book, err := gen.Book(gen.Config{Events: 20_000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	sales := 0
	for _, id := range book.PartnerIDs() {
		for _, s := range book.Partner(id).Sales {
			_, fp, ok := book.Envelope(s.Event)
			if !ok || fp != s.Fingerprint() {
				t.Fatalf("sale %s: fingerprint %x, its event %s has %x (%v)", s.ID, s.Fingerprint(), s.Event, fp, ok)
			}
			sales++
		}
	}
	if sales < 10_000 {
		t.Fatalf("only %d sales checked", sales)
	}

	// An offset time and an omitted seats field are normalized before the
	// event's fingerprint, so the sale's matches both spellings.
	in, err := domain.ParseEnvelope([]byte(`{"specversion":"1.0","id":"x","source":"b","type":"SaleBilled","time":"2024-05-01T11:30:00.5+02:00","data":{"sale_id":"S-3","offer_id":"O-1","customer_id":"C-9","amount_usd_cents":8000000,"seats":0}}`), benchNow)
	if err != nil {
		t.Fatal(err)
	}
	d := in.Data.(domain.SaleBilled)
	s := &domain.Sale{ID: d.SaleID, OfferID: d.OfferID, CustomerID: d.CustomerID, Amount: d.AmountUSDCents, Seats: d.Seats,
		Stamp: domain.Stamp{Time: in.Time}}
	if s.Fingerprint() != in.Fingerprint() {
		t.Fatalf("sale fingerprint %x, event %x", s.Fingerprint(), in.Fingerprint())
	}
	s.Amount++
	if s.Fingerprint() == in.Fingerprint() {
		t.Fatal("a sale with another amount has the same fingerprint")
	}
}
