package domain

// The decider (DOMAIN.md §2, §5; CONTRACT.md submit codes): every code a line
// can be rejected with once it parses, duplicates, and the order of the
// activation checks. Each case is a minimal story run through Book.Submit.

import (
	"testing"
	"time"
)

// base is a partner P-1 with a live transact offer O-1, enrolled, with a
// marketing contact, and tier-1 from 2024-02-01 (first receipt).
func base(t *testing.T) *story {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-10")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-01"))
	return s
}

func TestRejectedLineChangesNothing(t *testing.T) {
	s := base(t)
	before := s.b.LastSeq()
	p := s.partner("P-1")
	events, sales := p.Core.Events, len(p.Sales)
	s.rejects(CodeUnknownSale, flagged("S-404", "confirmed", "2024-03-01"))
	s.rejects(CodeDuplicateConflict, sold("S-1", "O-1", 3_000_001, "2024-02-01"))
	for raw, code := range map[string]Code{`{`: CodeInvalidJSON, `{"specversion":"1.0"}`: CodeInvalidEnvelope} {
		if r := s.b.Submit([]byte(raw), clock); CodeOf(r.Err) != code || r.Seq != 0 {
			t.Fatalf("%s: got %+v", raw, r)
		}
	}
	if s.b.LastSeq() != before || p.Core.Events != events || len(p.Sales) != sales {
		t.Fatalf("rejections changed the book: last %d→%d events %d→%d", before, s.b.LastSeq(), events, p.Core.Events)
	}
	// A rejected envelope id is not remembered: the same id with valid content is new.
	s.rejects(CodeUnknownSale, flagged("S-404", "confirmed", "2024-03-01").withID("reused"))
	seq := s.ok(flagged("S-1", "suspected", "2024-03-01").withID("reused"))
	if seq != before+1 {
		t.Fatalf("the line after the rejections got seq %d, want %d", seq, before+1)
	}
	// Read your own writes: a correction right after its sale is routed.
	s.ok(sold("S-2", "O-1", 100, "2024-03-02"))
	s.ok(cancelled("S-2", "2024-03-02"))
}

func TestDecideCodes(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *story)
		code  Code
		line  ev
	}{
		// unknown_partner: the partner has never published.
		{"enrol unknown partner", nil, CodeUnknownPartner, enrolled("P-9", "2024-03-01")},
		{"metric of unknown partner", nil, CodeUnknownPartner, metric("P-9", "teams_mau", "2024-02", 5, "2024-03-01")},
		{"opt-out of unknown partner", nil, CodeUnknownPartner, optedOut("P-9", "2024-03-01")},
		{"sanction of unknown partner", nil, CodeUnknownPartner, sanctioned("P-9", "2024-03-01")},
		{"reinstatement of unknown partner", nil, CodeUnknownPartner, reinstated("P-9", "2024-03-01")},
		{"contact report of unknown partner", nil, CodeUnknownPartner, contacted("P-9", "press-release", "2024-03-01")},

		// unknown_offer and unknown_sale.
		{"sale of unknown offer", nil, CodeUnknownOffer, sold("S-9", "O-9", 100, "2024-03-01")},
		{"delisting of unknown offer", nil, CodeUnknownOffer, delisted("O-9", "2024-03-01")},
		{"activation naming another partner's offer", func(s *story) { s.ok(published("O-2", "P-2", "trial", "2024-03-01")) },
			CodeUnknownOffer, activated("P-1", "engagement-manager", "2024-03-02").with("offer_id", "O-2")},
		{"opt-out naming an unknown offer", nil, CodeUnknownOffer, optedOut("P-1", "2024-03-01").with("offer_id", "O-9")},
		{"flag of unknown sale", nil, CodeUnknownSale, flagged("S-9", "confirmed", "2024-03-01")},
		{"clearance of unknown sale", nil, CodeUnknownSale, cleared("S-9", "2024-03-01")},
		{"cancellation of unknown sale", nil, CodeUnknownSale, cancelled("S-9", "2024-03-01")},

		// not_transactable.
		{"sale of a trial offer", func(s *story) { s.ok(published("O-2", "P-1", "trial", "2024-01-10")) },
			CodeNotTransactable, sold("S-9", "O-2", 100, "2024-03-01")},
		{"sale of a list offer", func(s *story) { s.ok(published("O-2", "P-1", "list", "2024-01-10")) },
			CodeNotTransactable, sold("S-9", "O-2", 100, "2024-03-01")},
		{"sale before publication", nil, CodeNotTransactable, sold("S-9", "O-1", 100, "2024-01-09T23:59:59Z")},
		{"sale of an offer republished as trial", func(s *story) {
			s.all(delisted("O-1", "2024-03-01"), published("O-1", "P-1", "trial", "2024-04-01"))
		}, CodeNotTransactable, sold("S-9", "O-1", 100, "2024-04-02")},

		// duplicate_conflict. ev-4 is the envelope id of base's sale S-1.
		{"envelope id reused with other data", nil, CodeDuplicateConflict, sold("S-9", "O-1", 100, "2024-03-01").withID("ev-4")},
		{"envelope id reused with another time", nil, CodeDuplicateConflict, sold("S-1", "O-1", 3_000_000, "2024-02-02").withID("ev-4")},
		{"envelope id reused with another type", nil, CodeDuplicateConflict, cancelled("S-1", "2024-03-01").withID("ev-4")},
		{"sale_id reused with another amount", nil, CodeDuplicateConflict, sold("S-1", "O-1", 3_000_001, "2024-02-01")},
		{"sale_id reused with another time", nil, CodeDuplicateConflict, sold("S-1", "O-1", 3_000_000, "2024-02-02")},
		{"sale_id reused for another partner's offer", func(s *story) { s.ok(published("O-2", "P-2", "transact", "2024-01-01")) },
			CodeDuplicateConflict, sold("S-1", "O-2", 3_000_000, "2024-02-01")},
		{"live offer republished as trial", nil, CodeDuplicateConflict, published("O-1", "P-1", "trial", "2024-01-10")},
		{"live offer republished later", nil, CodeDuplicateConflict, published("O-1", "P-1", "transact", "2024-03-01")},
		{"live offer republished with a category", nil, CodeDuplicateConflict, published("O-1", "P-1", "transact", "2024-01-10").with("category", "m365-app")},
		{"offer published for another partner", nil, CodeDuplicateConflict, published("O-1", "P-2", "transact", "2024-03-01")},
		{"delisted offer published for another partner", func(s *story) { s.ok(delisted("O-1", "2024-03-01")) },
			CodeDuplicateConflict, published("O-1", "P-2", "transact", "2024-04-01")},

		// offer_not_live, already_enrolled, contact_email_conflict, not_enrolled.
		{"delisting a delisted offer", func(s *story) { s.ok(delisted("O-1", "2024-03-01")) }, CodeOfferNotLive, delisted("O-1", "2024-03-02")},
		{"enrolling twice", nil, CodeAlreadyEnrolled, enrolled("P-1", "2024-03-01")},
		{"contact email equal to the account email", nil, CodeContactEmailConflict,
			contactAssigned("P-1", "2024-03-01").with("email", "admin@p-1.example")},
		{"contact email equal ignoring case", nil, CodeContactEmailConflict,
			contactAssigned("P-1", "2024-03-01").with("email", "ADMIN@P-1.Example")},
		{"contact before the enrolment time", func(s *story) {
			s.ok(published("O-2", "P-2", "list", "2024-01-01"))
			s.ok(enrolled("P-2", "2024-03-01"))
		},
			CodeNotEnrolled, contactAssigned("P-2", "2024-02-29T23:59:59Z")},
		{"contact of a partner never enrolled", func(s *story) { s.ok(published("O-2", "P-2", "list", "2024-01-01")) },
			CodeNotEnrolled, contactAssigned("P-2", "2024-03-01")},
		{"contact of an unknown partner", nil, CodeNotEnrolled, contactAssigned("P-9", "2024-03-01")},

		// Corrections.
		{"clearing an unflagged sale", nil, CodeNotFlagged, cleared("S-1", "2024-03-01")},
		{"clearing a cleared sale", func(s *story) {
			s.all(flagged("S-1", "suspected", "2024-03-01"), cleared("S-1", "2024-03-02"))
		}, CodeNotFlagged, cleared("S-1", "2024-03-03")},
		{"cancelling twice", func(s *story) { s.ok(cancelled("S-1", "2024-03-01")) }, CodeAlreadyCancelled, cancelled("S-1", "2024-03-02")},
		{"reinstating a partner never sanctioned", nil, CodeNotSanctioned, reinstated("P-1", "2024-03-01")},
		{"reinstating twice", func(s *story) { s.all(sanctioned("P-1", "2024-03-01"), reinstated("P-1", "2024-03-02")) },
			CodeNotSanctioned, reinstated("P-1", "2024-03-03")},
		{"sanctioning twice", func(s *story) { s.ok(sanctioned("P-1", "2024-03-01")) }, CodeAlreadySanctioned, sanctioned("P-1", "2024-03-02")},
		{"sanction dated before the open one still is already_sanctioned", func(s *story) { s.ok(sanctioned("P-1", "2024-03-01")) },
			CodeAlreadySanctioned, sanctioned("P-1", "2024-02-01")},

		// no_open_activation.
		{"contact report without activations", nil, CodeNoOpenActivation, contacted("P-1", "press-release", "2024-03-01")},
		{"contact report for another benefit", func(s *story) { s.ok(activated("P-1", "press-release", "2024-03-01")) },
			CodeNoOpenActivation, contacted("P-1", "social-amplification", "2024-03-02")},
		{"contact report dated before the activation", func(s *story) { s.ok(activated("P-1", "press-release", "2024-03-01")) },
			CodeNoOpenActivation, contacted("P-1", "press-release", "2024-02-29")},
		{"contact report after the only activation was contacted", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-03-01"), contacted("P-1", "press-release", "2024-03-02"))
		}, CodeNoOpenActivation, contacted("P-1", "press-release", "2024-03-03")},
		{"contact report for a revoked activation", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-03-01"), flagged("S-1", "confirmed", "2024-03-02"))
		}, CodeNoOpenActivation, contacted("P-1", "press-release", "2024-03-03")},
		{"contact report for an ended activation", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-03-01"), optedOut("P-1", "2024-03-02"))
		}, CodeNoOpenActivation, contacted("P-1", "press-release", "2024-03-03")},

		// Unknown catalog entries are invalid fields.
		{"activation of an unknown benefit", nil, CodeInvalidField, activated("P-1", "free-lunch", "2024-03-01")},
		{"opt-out of an unknown benefit", nil, CodeInvalidField, optedOut("P-1", "2024-03-01").with("benefit_id", "free-lunch")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base(t)
			if c.setup != nil {
				c.setup(s)
			}
			s.rejects(c.code, c.line)
		})
	}
}

// A time before the thing a line refers to is invalid_field naming "time".
func TestDecideTimeBeforeReferent(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *story)
		line  ev
		ok    ev // the same line at the earliest valid instant
	}{
		{"flag before its sale", nil, flagged("S-1", "confirmed", "2024-01-31T23:59:59Z"), flagged("S-1", "confirmed", "2024-02-01")},
		{"cancellation before its sale", nil, cancelled("S-1", "2024-01-31"), cancelled("S-1", "2024-02-01")},
		{"clearance before its flag", func(s *story) { s.ok(flagged("S-1", "suspected", "2024-03-01")) },
			cleared("S-1", "2024-02-15"), cleared("S-1", "2024-03-01")},
		{"delisting before its publication", nil, delisted("O-1", "2024-01-09"), delisted("O-1", "2024-01-10")},
		{"republication before the delisting", func(s *story) { s.ok(delisted("O-1", "2024-03-01")) },
			published("O-1", "P-1", "transact", "2024-02-01"), published("O-1", "P-1", "transact", "2024-03-01")},
		{"enrolment before the first publication", func(s *story) { s.ok(published("O-2", "P-2", "list", "2024-03-01")) },
			enrolled("P-2", "2024-02-01"), enrolled("P-2", "2024-03-01")},
		{"reinstatement before the sanction", func(s *story) { s.ok(sanctioned("P-1", "2024-03-01")) },
			reinstated("P-1", "2024-02-01"), reinstated("P-1", "2024-03-01")},
		{"sanction before the last reinstatement", func(s *story) { s.all(sanctioned("P-1", "2024-03-01"), reinstated("P-1", "2024-04-01")) },
			sanctioned("P-1", "2024-03-15"), sanctioned("P-1", "2024-04-01")},
		{"metric before its period", nil, metric("P-1", "teams_mau", "2024-03", 10, "2024-02-29"), metric("P-1", "teams_mau", "2024-03", 10, "2024-03-01")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base(t)
			if c.setup != nil {
				c.setup(s)
			}
			if e := s.rejects(CodeInvalidField, c.line); e.Field != "time" {
				t.Fatalf("field %q, want time", e.Field)
			}
			s.ok(c.ok)
		})
	}
}

func TestDecideDuplicates(t *testing.T) {
	t.Run("same envelope id, same content", func(t *testing.T) {
		s := base(t)
		line := sold("S-2", "O-1", 500, "2024-03-01").withID("billing-1")
		seq := s.ok(line)
		s.dup(seq, line)
		// Another source and another spelling of the same instant are the same content.
		r := s.b.Submit(envelope(M{"specversion": "1.0", "id": "billing-1", "source": "billing/us", "type": TypeSaleBilled,
			"time": "2024-03-01T01:00:00+01:00", "data": M{"customer_id": "C-S-2", "amount_usd_cents": 500, "offer_id": "O-1", "sale_id": "S-2"}}), clock)
		if !r.Duplicate || r.Seq != seq || r.Err != nil {
			t.Fatalf("respelt line: %+v", r)
		}
	})
	t.Run("envelope id first, whatever the state now", func(t *testing.T) {
		s := base(t)
		d := delisted("O-1", "2024-03-01").withID("delist-1")
		seq := s.ok(d)
		s.ok(published("O-1", "P-1", "transact", "2024-04-01"))
		s.dup(seq, d) // not offer_not_live: the same line again
		s.ok(delisted("O-1", "2024-05-01"))
	})
	t.Run("same sale under a new envelope id", func(t *testing.T) {
		s := base(t)
		seq := s.ok(sold("S-2", "O-1", 500, "2024-03-01"))
		s.ok(flagged("S-2", "confirmed", "2024-03-05"))
		s.dup(seq, sold("S-2", "O-1", 500, "2024-03-01").withID("another-system-7"))
		if n := len(s.partner("P-1").Sales); n != 2 {
			t.Fatalf("%d sales", n)
		}
	})
	t.Run("identical republication of a live offer", func(t *testing.T) {
		s := newStory(t)
		seq := s.ok(published("O-1", "P-1", "trial", "2024-01-10").with("category", "other"))
		s.dup(seq, published("O-1", "P-1", "trial", "2024-01-10")) // default category spelt out or not
		if n := len(s.partner("P-1").Offers[0].Pubs); n != 1 {
			t.Fatalf("%d publications", n)
		}
	})
	t.Run("republication after delisting is new", func(t *testing.T) {
		s := newStory(t)
		s.ok(published("O-1", "P-1", "trial", "2024-01-10"))
		s.ok(delisted("O-1", "2024-02-01"))
		s.ok(published("O-1", "P-1", "trial", "2024-02-01"))
		if n := len(s.partner("P-1").Offers[0].Pubs); n != 2 {
			t.Fatalf("%d publications", n)
		}
	})
	t.Run("duplicate of an activation", func(t *testing.T) {
		s := base(t)
		a := activated("P-1", "press-release", "2024-03-01").withID("act-1")
		seq := s.ok(a)
		s.dup(seq, a) // not already_activated
	})
}

func TestSaleAfterDelistingCounts(t *testing.T) {
	s := base(t)
	s.ok(delisted("O-1", "2024-03-01"))
	s.ok(sold("S-2", "O-1", 8_000_000, "2024-04-01")) // subscriptions keep billing
	if got := s.tier("P-1", "2024-04-01").Tracks.MBS; got != 11_000_000 {
		t.Fatalf("mbs %d, want 11,000,000", got)
	}
	if got := s.held("P-1", "2024-04-01"); got != 2 {
		t.Fatalf("held %d, want 2", got)
	}
}

func TestOfferBelongsToOnePartner(t *testing.T) {
	s := newStory(t)
	s.ok(published("O-1", "P-1", "transact", "2024-01-10"))
	s.rejects(CodeDuplicateConflict, published("O-1", "P-2", "transact", "2024-01-10"))
	if s.b.Partner("P-2") != nil {
		t.Fatal("a rejected publication created its partner")
	}
	s.ok(published("O-2", "P-2", "transact", "2024-01-10"))
	s.ok(sold("S-1", "O-2", 100, "2024-02-01"))
	if got := s.partner("P-2").Sale("S-1"); got == nil || s.partner("P-1").Sale("S-1") != nil {
		t.Fatal("the sale was not routed to its offer's partner")
	}
}

// The activation checks of DOMAIN.md §5, in order: when two fail, the earlier names the error.
func TestActivationCheckOrder(t *testing.T) {
	cases := []struct {
		name  string
		setup func(s *story) // on top of base: P-1 tier-1 since 2024-02-01
		line  ev
		code  Code // "" when accepted
	}{
		{"all checks pass", nil, activated("P-1", "press-release", "2024-03-01"), ""},

		{"not enrolled", func(s *story) { s.ok(published("O-2", "P-2", "transact", "2024-01-01")) },
			activated("P-2", "listing-optimization", "2024-03-01"), CodeNotEnrolled},
		{"activation at the enrolment instant", nil, activated("P-1", "listing-optimization", "2024-01-10"), ""},
		{"activation before the enrolment time", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), enrolled("P-2", "2024-03-01"))
		},
			activated("P-2", "listing-optimization", "2024-02-15"), CodeNotEnrolled},
		{"unknown partner", nil, activated("P-9", "listing-optimization", "2024-03-01"), CodeNotEnrolled},
		{"not enrolled and sanctioned", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), sanctioned("P-2", "2024-02-01"))
		},
			activated("P-2", "listing-optimization", "2024-03-01"), CodeNotEnrolled},

		{"sanctioned", func(s *story) { s.ok(sanctioned("P-1", "2024-02-20")) }, activated("P-1", "press-release", "2024-03-01"), CodeSanctioned},
		{"sanctioned and not entitled", func(s *story) { s.ok(sanctioned("P-1", "2024-02-20")) },
			activated("P-1", "executive-sponsorship", "2024-03-01"), CodeSanctioned},
		{"sanctioned and fraud hold", func(s *story) { s.all(sanctioned("P-1", "2024-02-20"), flagged("S-1", "suspected", "2024-02-21")) },
			activated("P-1", "press-release", "2024-03-01"), CodeSanctioned},
		{"sanctioned later than the activation instant", func(s *story) { s.ok(sanctioned("P-1", "2024-03-02")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"reinstated before the activation", func(s *story) { s.all(sanctioned("P-1", "2024-02-20"), reinstated("P-1", "2024-02-25")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"activation at the reinstatement instant", func(s *story) { s.all(sanctioned("P-1", "2024-02-20"), reinstated("P-1", "2024-03-01")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"activation at the sanction instant", func(s *story) { s.ok(sanctioned("P-1", "2024-03-01")) },
			activated("P-1", "press-release", "2024-03-01"), CodeSanctioned},

		{"fraud hold", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-02-15"))
		},
			activated("P-1", "press-release", "2024-03-01"), CodeFraudHold},
		{"fraud hold on a flag dated at the activation", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-03-01"))
		},
			activated("P-1", "press-release", "2024-03-01"), CodeFraudHold},
		{"fraud hold and opted out", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-02-15"), optedOut("P-1", "2024-02-16"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeFraudHold},
		{"fraud hold and not entitled", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-02-15"))
		},
			activated("P-1", "executive-sponsorship", "2024-03-01"), CodeFraudHold},
		{"suspected flag dated after the activation", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-03-02"))
		},
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"suspected flag cleared", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-02-15"), cleared("S-2", "2024-02-20"))
		}, activated("P-1", "press-release", "2024-03-01"), ""},
		{"suspected flag since confirmed", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "suspected", "2024-02-15"), flagged("S-2", "confirmed", "2024-02-20"))
		}, activated("P-1", "press-release", "2024-03-01"), ""},
		{"confirmed flag then suspected again", func(s *story) {
			s.all(sold("S-2", "O-1", 100, "2024-02-10"), flagged("S-2", "confirmed", "2024-02-15"), flagged("S-2", "suspected", "2024-02-20"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeFraudHold},

		{"opted out of everything", func(s *story) { s.ok(optedOut("P-1", "2024-02-20")) }, activated("P-1", "press-release", "2024-03-01"), CodeOptedOut},
		{"opted out and no contact", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), enrolled("P-2", "2024-01-01"), optedOut("P-2", "2024-02-01"))
		}, activated("P-2", "listing-optimization", "2024-03-01"), CodeOptedOut},
		{"opted out of the benefit", func(s *story) { s.ok(optedOut("P-1", "2024-02-20").with("benefit_id", "press-release")) },
			activated("P-1", "press-release", "2024-03-01"), CodeOptedOut},
		{"opted out of another benefit", func(s *story) { s.ok(optedOut("P-1", "2024-02-20").with("benefit_id", "social-amplification")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"opted out of an offer, activation naming it", func(s *story) {
			s.all(published("O-2", "P-1", "trial", "2024-02-10"), optedOut("P-1", "2024-02-20").with("offer_id", "O-2"))
		}, activated("P-1", "engagement-manager", "2024-03-01").with("offer_id", "O-2"), CodeOptedOut},
		{"opted out of an offer, activation without offer", func(s *story) {
			s.all(published("O-2", "P-1", "trial", "2024-02-10"), optedOut("P-1", "2024-02-20").with("offer_id", "O-2"))
		}, activated("P-1", "engagement-manager", "2024-03-01"), ""},
		{"opted out of a benefit and offer, other offer", func(s *story) {
			s.all(published("O-2", "P-1", "trial", "2024-02-10"), published("O-3", "P-1", "consulting", "2024-02-10"),
				optedOut("P-1", "2024-02-20").with("offer_id", "O-2").with("benefit_id", "engagement-manager"))
		}, activated("P-1", "engagement-manager", "2024-03-01").with("offer_id", "O-3"), ""},
		{"opted out after the activation instant", func(s *story) { s.ok(optedOut("P-1", "2024-03-02")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"opted in again", func(s *story) { s.all(optedOut("P-1", "2024-02-20"), optedIn("P-1", "2024-02-25")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"opted in again to the benefit only", func(s *story) {
			s.all(optedOut("P-1", "2024-02-20"), optedIn("P-1", "2024-02-25").with("benefit_id", "press-release"))
		}, activated("P-1", "press-release", "2024-03-01"), ""},
		{"opted in to another benefit only", func(s *story) {
			s.all(optedOut("P-1", "2024-02-20"), optedIn("P-1", "2024-02-25").with("benefit_id", "social-amplification"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeOptedOut},
		{"opted in before opting out", func(s *story) {
			s.all(optedOut("P-1", "2024-02-25"), optedIn("P-1", "2024-02-20"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeOptedOut},
		{"opted out of the benefit, opted in to everything", func(s *story) {
			s.all(optedOut("P-1", "2024-02-20").with("benefit_id", "press-release"), optedIn("P-1", "2024-02-25"))
		}, activated("P-1", "press-release", "2024-03-01"), ""},

		{"no marketing contact", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), enrolled("P-2", "2024-01-01"))
		},
			activated("P-2", "listing-optimization", "2024-03-01"), CodeNoMarketingContact},
		{"no marketing contact and not entitled", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), enrolled("P-2", "2024-01-01"))
		},
			activated("P-2", "executive-sponsorship", "2024-03-01"), CodeNoMarketingContact},
		{"contact assigned after the activation instant", func(s *story) {
			s.all(published("O-2", "P-2", "transact", "2024-01-01"), enrolled("P-2", "2024-01-01"), contactAssigned("P-2", "2024-03-02"))
		}, activated("P-2", "listing-optimization", "2024-03-01"), CodeNoMarketingContact},

		{"not entitled", nil, activated("P-1", "customer-case-study", "2024-03-01"), CodeNotEntitled},
		{"not entitled before the first receipt", nil, activated("P-1", "press-release", "2024-01-31"), CodeNotEntitled},
		{"technical benefits end with era 2020-07", nil, activated("P-1", "technical-consultation", "2024-03-01"), CodeNotEntitled},
		{"offer_id for a benefit with no per-offer grant", nil,
			activated("P-1", "press-release", "2024-03-01").with("offer_id", "O-1"), CodeNotEntitled},
		{"offer_id of a transact offer", nil,
			activated("P-1", "engagement-manager", "2024-03-01").with("offer_id", "O-1"), CodeNotEntitled},
		{"offer_id of a trial offer", func(s *story) { s.ok(published("O-2", "P-1", "trial", "2024-02-10")) },
			activated("P-1", "engagement-manager", "2024-03-01").with("offer_id", "O-2"), ""},
		{"offer_id of a list offer", func(s *story) { s.ok(published("O-2", "P-1", "list", "2024-02-10")) },
			activated("P-1", "engagement-manager", "2024-03-01").with("offer_id", "O-2"), CodeNotEntitled},

		{"already activated", func(s *story) { s.ok(activated("P-1", "press-release", "2024-02-15")) },
			activated("P-1", "press-release", "2024-03-01"), CodeAlreadyActivated},
		{"already activated, earlier one revoked", func(s *story) {
			// The first activation is revoked by a fraud flag; a new sale restores tier-1.
			s.all(activated("P-1", "press-release", "2024-02-15"), flagged("S-1", "confirmed", "2024-02-20"), sold("S-2", "O-1", 2_600_000, "2024-02-25"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeAlreadyActivated},
		{"already activated and not entitled", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-02-15"), flagged("S-1", "confirmed", "2024-02-20"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeNotEntitled},
		{"already activated, earlier one ended by an opt-out", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-02-15"), optedOut("P-1", "2024-02-20"), optedIn("P-1", "2024-02-25"))
		}, activated("P-1", "press-release", "2024-03-01"), CodeAlreadyActivated},
		{"earlier activation of another benefit", func(s *story) { s.ok(activated("P-1", "social-amplification", "2024-02-15")) },
			activated("P-1", "press-release", "2024-03-01"), ""},
		{"next anniversary period", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-02-15"), sold("S-2", "O-1", 3_000_000, "2025-01-15"))
		}, activated("P-1", "press-release", "2025-02-01"), ""},
		{"last instant of the period", func(s *story) {
			s.all(activated("P-1", "press-release", "2024-02-15"), sold("S-2", "O-1", 3_000_000, "2025-01-15"))
		}, activated("P-1", "press-release", "2025-01-31T23:59:59.999999999Z"), CodeAlreadyActivated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base(t)
			if c.setup != nil {
				c.setup(s)
			}
			if c.code == "" {
				s.ok(c.line)
			} else {
				s.rejects(c.code, c.line)
			}
		})
	}
}

// The same benefit with another offer_id, or without one, is another engagement.
func TestAlreadyActivatedPerOffer(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "trial", "2021-01-04")
	s.ok(published("O-2", "P-1", "consulting", "2021-01-05"))
	s.ok(activated("P-1", "engagement-manager", "2021-01-10").with("offer_id", "O-1"))
	s.ok(activated("P-1", "engagement-manager", "2021-01-10").with("offer_id", "O-2"))
	s.rejects(CodeAlreadyActivated, activated("P-1", "engagement-manager", "2021-02-10").with("offer_id", "O-1"))
	// Without offer_id, no line grants it (no transact offer, no listing package).
	s.rejects(CodeNotEntitled, activated("P-1", "engagement-manager", "2021-02-10"))
	s.ok(published("O-3", "P-1", "transact", "2021-02-01"))
	s.ok(activated("P-1", "engagement-manager", "2021-02-10"))
	s.rejects(CodeAlreadyActivated, activated("P-1", "engagement-manager", "2021-06-30T23:59:59Z"))
	s.ok(activated("P-1", "engagement-manager", "2021-07-01")) // next fiscal year
}

// Technical benefits need no marketing contact.
func TestTechnicalBenefitWithoutContact(t *testing.T) {
	s := newStory(t)
	s.all(published("O-1", "P-1", "transact", "2020-08-01"), enrolled("P-1", "2020-08-01"), sold("S-1", "O-1", 2_500_000, "2020-08-02"))
	s.ok(activated("P-1", "technical-consultation", "2020-08-03"))
	s.rejects(CodeNoMarketingContact, activated("P-1", "press-release", "2020-08-03"))
	s.rejects(CodeNotEntitled, activated("P-1", "azure-sponsorship", "2020-08-03")) // tier-2, technical: not_entitled, not no_marketing_contact
	s.ok(contactAssigned("P-1", "2020-08-04"))
	s.ok(activated("P-1", "press-release", "2020-08-04"))
}

// Replaying a log folds events in order only.
func TestBookRecordOrder(t *testing.T) {
	s := base(t)
	p := s.partner("P-1")
	e := Event{Input: Input{ID: "x", Type: TypePartnerReinstated, Time: ts("2024-03-01"), Data: PartnerReinstated{PartnerID: "P-1"}},
		Seq: s.b.LastSeq(), Partner: "P-1"}
	if err := s.b.Record(e); err == nil {
		t.Fatal("an event at an old sequence was folded")
	}
	if p.LastSeq() != s.b.LastSeq() {
		t.Fatalf("partner at %d, book at %d", p.LastSeq(), s.b.LastSeq())
	}
}

// TestEnrolmentAfterEarliestPublication: enrolment is checked against the
// earliest-dated publication, not the first one recorded.
func TestEnrolmentAfterEarliestPublication(t *testing.T) {
	b := NewBook(DefaultPolicy())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines := []string{
		`{"specversion":"1.0","id":"a1","source":"x","type":"OfferPublished","time":"2024-05-01T00:00:00Z","data":{"offer_id":"O-1","partner_id":"P-1","publisher_id":"pub","listing_type":"list","storefront":"appsource"}}`,
		`{"specversion":"1.0","id":"a2","source":"x","type":"OfferPublished","time":"2023-01-01T00:00:00Z","data":{"offer_id":"O-2","partner_id":"P-1","publisher_id":"pub","listing_type":"transact","storefront":"appsource"}}`,
		`{"specversion":"1.0","id":"a3","source":"x","type":"PartnerEnrolled","time":"2023-06-01T00:00:00Z","data":{"partner_id":"P-1","name":"P","account_email":"a@p.example"}}`,
		`{"specversion":"1.0","id":"a4","source":"x","type":"PartnerEnrolled","time":"2022-06-01T00:00:00Z","data":{"partner_id":"P-1","name":"P","account_email":"a@p.example"}}`,
	}
	for i, l := range lines[:3] {
		if r := b.Submit([]byte(l), now); r.Err != nil {
			t.Fatalf("line %d: %v", i+1, r.Err)
		}
	}
	b2 := NewBook(DefaultPolicy())
	for _, l := range lines[:2] {
		b2.Submit([]byte(l), now)
	}
	if r := b2.Submit([]byte(lines[3]), now); CodeOf(r.Err) != CodeInvalidField {
		t.Fatalf("enrolment before every publication: %v, want invalid_field", r.Err)
	}
}
