package domain

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/benefits-ledger/ledger/internal/scenario"
	"testing"
	"time"
)

// salesOf serves a complete partner's sales as a SaleSource, counting fetches.
type salesOf struct {
	p       *Partner
	fetches int
	fail    bool
}

func (s *salesOf) Sale(_, id string) (*Sale, error) {
	s.fetches++
	if s.fail {
		return nil, errors.New("disk on fire")
	}
	for _, x := range s.p.Sales {
		if x.ID == id {
			c := *x
			return &c, nil
		}
	}
	return nil, nil
}

func (s *salesOf) Sales(string) ([]*Sale, error) {
	s.fetches++
	if s.fail {
		return nil, errors.New("disk on fire")
	}
	out := make([]*Sale, len(s.p.Sales))
	for i, x := range s.p.Sales {
		c := *x
		out[i] = &c
	}
	return out, nil
}

// TestPartialPartnerDecidesAsComplete: a partner held without its sales
// decides exactly as the complete one, fetching only what a decision needs.
func TestPartialPartnerDecidesAsComplete(t *testing.T) {
	b := NewBook(DefaultPolicy())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(id, typ, at, data string) []byte {
		return fmt.Appendf(nil, `{"specversion":"1.0","id":"%s","source":"t","type":"%s","time":"%s","data":%s}`, id, typ, at, data)
	}
	for _, l := range [][]byte{
		line("p", "OfferPublished", "2024-01-01T00:00:00Z", `{"offer_id":"O-1","partner_id":"P-1","publisher_id":"x","listing_type":"transact","storefront":"appsource"}`),
		line("e", "PartnerEnrolled", "2024-01-02T00:00:00Z", `{"partner_id":"P-1","name":"P","account_email":"a@p.example"}`),
		line("c", "MarketingContactAssigned", "2024-01-03T00:00:00Z", `{"partner_id":"P-1","user_id":"u","phone":"+1 555 0100","language":"en"}`),
		line("s1", "SaleBilled", "2024-02-01T00:00:00Z", `{"sale_id":"S-1","offer_id":"O-1","customer_id":"C","amount_usd_cents":3000000}`),
		line("s2", "SaleBilled", "2024-03-01T00:00:00Z", `{"sale_id":"S-2","offer_id":"O-1","customer_id":"C","amount_usd_cents":100}`),
	} {
		if r := b.Submit(l, now); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	full := b.Partner("P-1")
	inputs := [][]byte{
		line("n1", "SaleBilled", "2024-04-01T00:00:00Z", `{"sale_id":"S-3","offer_id":"O-1","customer_id":"C","amount_usd_cents":5}`),
		line("n2", "SaleBilled", "2024-02-01T00:00:00Z", `{"sale_id":"S-1","offer_id":"O-1","customer_id":"C","amount_usd_cents":3000000}`),
		line("n3", "SaleBilled", "2024-02-01T00:00:00Z", `{"sale_id":"S-1","offer_id":"O-1","customer_id":"C","amount_usd_cents":1}`),
		line("n4", "SaleFlaggedFraud", "2024-05-01T00:00:00Z", `{"sale_id":"S-2","confidence":"suspected"}`),
		line("n5", "SaleFraudCleared", "2024-05-01T00:00:00Z", `{"sale_id":"S-2"}`),
		line("n6", "BenefitActivated", "2024-05-02T00:00:00Z", `{"partner_id":"P-1","benefit_id":"press-release"}`),
		line("n7", "BenefitActivated", "2024-05-02T00:00:00Z", `{"partner_id":"P-1","benefit_id":"co-sell-enablement"}`),
	}
	for _, raw := range inputs {
		in, err := ParseEnvelope(raw, now)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := Decide(full, in, now, b.Policy())
		src := &salesOf{p: full}
		partial := RestorePartial(full.Core, full.Offers, full.Metrics, full.Activations, src)
		got, gerr := Decide(partial, in, now, b.Policy())
		if !reflect.DeepEqual(want, got) || fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Errorf("%s: partial %v %v, complete %v %v", in.ID, got, gerr, want, werr)
		}
		if in.Type != TypeBenefitActivated && src.fetches > 1 {
			t.Errorf("%s fetched %d times; it needs one sale at most", in.ID, src.fetches)
		}
	}
	// A failing source is an error, never a rejection.
	in, _ := ParseEnvelope(inputs[3], now)
	partial := RestorePartial(full.Core, full.Offers, full.Metrics, full.Activations, &salesOf{p: full, fail: true})
	if _, err := Decide(partial, in, now, b.Policy()); err == nil || CodeOf(err) != "" {
		t.Errorf("a failing sale source gave %v; want an uncoded error", err)
	}
}

// TestDetachedViewAnswersAsCompiled: a detached View gives the same tier and
// benefits documents as the View it came from, for every scenario partner
// and many instants, revoked activations included.
func TestDetachedViewAnswersAsCompiled(t *testing.T) {
	b := scenarioBookForTest(t)
	reasons := map[string]int{}
	for _, id := range b.PartnerIDs() {
		v := Compile(b.Policy(), b.Partner(id), AllKnown)
		d := v.Detach()
		for at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2027; at = at.AddDate(0, 1, 3) {
			bv := v.Benefits(at, 1)
			if !reflect.DeepEqual(v.Tier(at, 1), d.Tier(at, 1)) || !reflect.DeepEqual(bv, d.Benefits(at, 1)) {
				t.Fatalf("%s at %s: detached View answers differently", id, at)
			}
			for _, a := range bv.Activations {
				if a.Status == StatusRevoked {
					for _, r := range a.Reasons {
						reasons[r]++
					}
				}
			}
		}
		if len(b.Partner(id).Sales) > 0 && d.Bytes() >= v.Bytes() {
			t.Errorf("%s: the detached View holds %d bytes, the View with its sales %d", id, d.Bytes(), v.Bytes())
		}
	}
	// The reasons a detached View settles at Detach, from the recounts.
	for _, r := range []string{ReasonFraudRemoved, ReasonPurchaseCancelled} {
		if reasons[r] == 0 {
			t.Errorf("no activation revoked for %q among the scenarios (reasons %v): Detach's recounts went untested", r, reasons)
		}
	}
}

// scenarioBookForTest submits every acceptance scenario into one Book.
func scenarioBookForTest(t *testing.T) *Book {
	t.Helper()
	b := NewBook(DefaultPolicy())
	for _, lines := range scenario.Lines(t) {
		for _, l := range lines {
			b.Submit(l, time.Now())
		}
	}
	return b
}
