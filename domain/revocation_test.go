package domain

// Activation statuses (DOMAIN.md §5): revoked (sanctioned, or no longer
// entitled with its reasons), ended (opted out, offer delisted), active; dated
// happenings only up to the query's at; the contacted flag.

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// statusCheck is the expected state of an activation queried at an instant.
type statusCheck struct {
	at      string
	status  string
	reasons string // comma-separated, sorted
}

func checkStatus(t *testing.T, s *story, seq uint64, checks ...statusCheck) {
	t.Helper()
	for _, c := range checks {
		st := s.state("P-1", seq, c.at)
		if st.Status != c.status || strings.Join(st.Reasons, ",") != c.reasons {
			t.Errorf("activation %d at %s: %s %v, want %s [%s]", seq, c.at, st.Status, st.Reasons, c.status, c.reasons)
		}
		if st.Reasons == nil || !slices.IsSorted(st.Reasons) {
			t.Errorf("activation %d at %s: reasons %#v must be a sorted, non-nil list", seq, c.at, st.Reasons)
		}
	}
}

// tier1 is P-1 with a transact offer and tier-1 from 2024-02-01 (TTM era),
// benefit period 2024-02-01 – 2025-02-01.
func tier1(t *testing.T) *story {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-10")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-01"))
	return s
}

func TestRevokedSanctioned(t *testing.T) {
	t.Run("sanctioned inside the period, after the activation", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		sanction := s.ok(sanctioned("P-1", "2024-06-01"))
		s.ok(reinstated("P-1", "2024-07-01"))
		if st := s.stateKnown("P-1", a, "2024-08-01", sanction-1); st.Status != StatusActive {
			t.Errorf("before the sanction was recorded: %s %v", st.Status, st.Reasons)
		}
		checkStatus(t, s, a,
			statusCheck{"2024-05-31T23:59:59Z", StatusActive, ""}, // the sanction is dated after at
			statusCheck{"2024-06-01", StatusRevoked, ReasonSanctioned},
			statusCheck{"2024-08-01", StatusRevoked, ReasonSanctioned}, // reinstatement does not revive it
		)
	})
	t.Run("sanctioned after the period", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(sanctioned("P-1", "2025-02-01")) // exactly the period's end
		checkStatus(t, s, a, statusCheck{"2025-03-01", StatusActive, ""})
	})
	t.Run("sanctioned on the last instant of the period", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(sanctioned("P-1", "2025-01-31T23:59:59.999999999Z"))
		checkStatus(t, s, a, statusCheck{"2025-03-01", StatusRevoked, ReasonSanctioned})
	})
	t.Run("sanction and reinstatement both before the activation", func(t *testing.T) {
		s := tier1(t)
		s.ok(sanctioned("P-1", "2024-02-10"))
		s.ok(reinstated("P-1", "2024-02-20"))
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		checkStatus(t, s, a, statusCheck{"2024-12-01", StatusActive, ""})
	})
	t.Run("sanction of the fiscal year of an offer line", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "listing-optimization", "2024-03-01")) // period: fiscal year to 2024-07-01
		s.ok(sanctioned("P-1", "2024-07-01"))
		checkStatus(t, s, a, statusCheck{"2024-08-01", StatusActive, ""})
		s2 := tier1(t)
		a2 := s2.ok(activated("P-1", "listing-optimization", "2024-03-01"))
		s2.ok(sanctioned("P-1", "2024-06-30"))
		checkStatus(t, s2, a2, statusCheck{"2024-08-01", StatusRevoked, ReasonSanctioned})
	})
	t.Run("sanctioned beats not entitled and ended", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.all(optedOut("P-1", "2024-03-05"), sanctioned("P-1", "2024-04-01"), flagged("S-1", "confirmed", "2024-04-02"))
		checkStatus(t, s, a,
			statusCheck{"2024-03-02", StatusRevoked, ReasonFraudRemoved},
			statusCheck{"2024-03-10", StatusRevoked, ReasonFraudRemoved},
			statusCheck{"2024-04-01", StatusRevoked, ReasonSanctioned},
		)
	})
}

func TestRevokedReasons(t *testing.T) {
	cases := []struct {
		name    string
		sales   []ev // on top of the tier1 story, before the activation
		benefit string
		after   []ev // after the activation
		reasons string
	}{
		{"fraud", nil, "press-release", []ev{flagged("S-1", "confirmed", "2024-04-01")}, ReasonFraudRemoved},
		{"cancellation", nil, "press-release", []ev{cancelled("S-1", "2024-04-01")}, ReasonPurchaseCancelled},
		{"fraud and cancellation of the same sale", nil, "press-release",
			[]ev{cancelled("S-1", "2024-04-01"), flagged("S-1", "confirmed", "2024-04-02")}, ReasonFraudRemoved},
		{"either alone would restore it", []ev{sold("S-2", "O-1", 3_000_000, "2024-02-02")}, "press-release",
			[]ev{flagged("S-1", "confirmed", "2024-04-01"), cancelled("S-2", "2024-04-01")}, ReasonFraudRemoved + "," + ReasonPurchaseCancelled},
		{"a suspected flag revokes nothing", nil, "press-release", []ev{flagged("S-1", "suspected", "2024-04-01")}, ""},
		{"a cleared flag revokes nothing", nil, "press-release", []ev{flagged("S-1", "confirmed", "2024-04-01"), cleared("S-1", "2024-04-02")}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tier1(t)
			s.all(c.sales...)
			a := s.ok(activated("P-1", c.benefit, "2024-03-01"))
			before := s.b.LastSeq()
			s.all(c.after...)
			status := StatusRevoked
			if c.reasons == "" {
				status = StatusActive
			}
			// Corrections are retroactive by knowledge: the status is revoked even at
			// an instant before the correction's own event time.
			checkStatus(t, s, a, statusCheck{"2024-03-01", status, c.reasons}, statusCheck{"2024-12-01", status, c.reasons})
			if st := s.stateKnown("P-1", a, "2024-12-01", before); st.Status != StatusActive {
				t.Errorf("before the corrections were known: %s %v", st.Status, st.Reasons)
			}
		})
	}
}

func TestRevokedOnlyBothTogether(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-10")
	s.ok(sold("S-1", "O-1", 1_500_000, "2024-02-01"))
	s.ok(sold("S-2", "O-1", 1_500_000, "2024-02-02"))
	a := s.ok(activated("P-1", "press-release", "2024-03-01"))
	s.ok(flagged("S-1", "confirmed", "2024-04-01"))
	s.ok(cancelled("S-2", "2024-04-01"))
	// Neither alone restores tier-1 (1.5M each): only both together.
	checkStatus(t, s, a, statusCheck{"2024-05-01", StatusRevoked, ReasonFraudRemoved + "," + ReasonPurchaseCancelled})
}

func TestRevokedCorrected(t *testing.T) {
	t.Run("backdated delisting", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-10")
		a := s.ok(activated("P-1", "listing-optimization", "2024-03-01"))
		s.ok(delisted("O-1", "2024-02-15")) // recorded after the activation, dated before it
		checkStatus(t, s, a, statusCheck{"2024-03-01", StatusRevoked, ReasonCorrected})
	})
	t.Run("backdated delisting of a per-offer grant", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "trial", "2021-01-10")
		a := s.ok(activated("P-1", "engagement-manager", "2021-02-01").with("offer_id", "O-1"))
		s.ok(delisted("O-1", "2021-01-20"))
		checkStatus(t, s, a, statusCheck{"2021-03-01", StatusRevoked, ReasonCorrected})
	})
	t.Run("replaced metric report", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-10")
		s.ok(metric("P-1", "teams_mau", "2024-01", 1_000, "2024-02-01"))
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(metric("P-1", "teams_mau", "2024-01", 999, "2024-04-01"))
		checkStatus(t, s, a, statusCheck{"2024-05-01", StatusRevoked, ReasonCorrected})
	})
}

func TestEnded(t *testing.T) {
	t.Run("opted out after it", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(optedOut("P-1", "2024-04-01").with("benefit_id", "press-release"))
		s.ok(optedIn("P-1", "2024-05-01"))
		checkStatus(t, s, a,
			statusCheck{"2024-03-31", StatusActive, ""},
			statusCheck{"2024-04-01", StatusEnded, ReasonOptedOut},
			statusCheck{"2024-06-01", StatusEnded, ReasonOptedOut}, // opting in again does not revive it
		)
	})
	t.Run("opted out of something else", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(optedOut("P-1", "2024-04-01").with("benefit_id", "social-amplification"))
		s.ok(optedOut("P-1", "2024-04-01").with("offer_id", "O-1")) // an offer scope covers only activations naming it
		checkStatus(t, s, a, statusCheck{"2024-06-01", StatusActive, ""})
	})
	t.Run("opted in after it", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.ok(optedIn("P-1", "2024-04-01").with("benefit_id", "press-release"))
		checkStatus(t, s, a, statusCheck{"2024-06-01", StatusActive, ""})
	})
	t.Run("opted out before it, in again before it", func(t *testing.T) {
		s := tier1(t)
		s.all(optedOut("P-1", "2024-02-10"), optedIn("P-1", "2024-02-20"))
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		checkStatus(t, s, a, statusCheck{"2024-06-01", StatusActive, ""})
	})
	t.Run("offer delisted after a per-offer activation", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "trial", "2021-01-10")
		a := s.ok(activated("P-1", "engagement-manager", "2021-02-01").with("offer_id", "O-1"))
		s.ok(delisted("O-1", "2021-03-01"))
		checkStatus(t, s, a,
			statusCheck{"2021-02-28", StatusActive, ""},
			statusCheck{"2021-03-01", StatusEnded, ReasonOfferDelisted},
		)
		s.ok(optedOut("P-1", "2021-03-02").with("offer_id", "O-1"))
		checkStatus(t, s, a, statusCheck{"2021-03-02", StatusEnded, ReasonOfferDelisted + "," + ReasonOptedOut})
	})
	t.Run("delisting ends only per-offer activations", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "engagement-manager", "2024-03-01")) // transact-offer line
		b := s.ok(activated("P-1", "listing-optimization", "2024-03-01"))
		s.ok(delisted("O-1", "2024-04-01"))
		checkStatus(t, s, a, statusCheck{"2024-05-01", StatusActive, ""})
		checkStatus(t, s, b, statusCheck{"2024-05-01", StatusActive, ""})
	})
	t.Run("revoked beats ended", func(t *testing.T) {
		s := tier1(t)
		a := s.ok(activated("P-1", "press-release", "2024-03-01"))
		s.all(optedOut("P-1", "2024-03-05"), flagged("S-1", "confirmed", "2024-04-02"))
		checkStatus(t, s, a, statusCheck{"2024-05-01", StatusRevoked, ReasonFraudRemoved})
	})
}

func TestActivationsListing(t *testing.T) {
	s := tier1(t)
	a := s.ok(activated("P-1", "press-release", "2024-03-01"))
	b := s.ok(activated("P-1", "social-amplification", "2024-02-15")) // recorded later, dated earlier
	doc := s.benefits("P-1", "2024-02-20")
	if len(doc.Activations) != 1 || doc.Activations[0].Seq != b {
		t.Fatalf("activated_at ≤ at only: %+v", doc.Activations)
	}
	doc = s.benefits("P-1", "2024-03-01")
	if len(doc.Activations) != 2 || doc.Activations[0].Seq != a || doc.Activations[1].Seq != b {
		t.Fatalf("in recorded order: %+v", doc.Activations)
	}
	raw, _ := json.Marshal(doc.Activations[0])
	for _, want := range []string{`"reasons":[]`, `"offer_id":null`, `"status":"active"`, `"contacted":false`, `"granted_by":"tier"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s lacks %s", raw, want)
		}
	}
	// known_seq hides activations recorded after it.
	if got := s.view("P-1", a).Activations(ts("2024-12-01")); len(got) != 1 {
		t.Errorf("known at %d: %d activations", a, len(got))
	}
}

func TestContacted(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2023-12-10")
	a := s.ok(activated("P-1", "listing-optimization", "2024-01-10")) // fiscal year 2023-07 – 2024-07
	b := s.ok(activated("P-1", "listing-optimization", "2024-07-10")) // fiscal year 2024-07 – 2025-07
	c1 := s.ok(contacted("P-1", "listing-optimization", "2024-08-01"))
	if got := s.activation("P-1", a).Contacts; len(got) != 1 || got[0].Seq != c1 {
		t.Fatalf("the earliest active uncontacted activation is marked: %+v", got)
	}
	if len(s.activation("P-1", b).Contacts) != 0 {
		t.Fatal("the later one is marked too")
	}
	if st := s.state("P-1", a, "2024-07-31"); st.Contacted {
		t.Error("contacted before the report's own time")
	}
	if st := s.state("P-1", a, "2024-08-01"); !st.Contacted {
		t.Error("not contacted at the report's time")
	}
	if st := s.stateKnown("P-1", a, "2024-09-01", c1-1); st.Contacted {
		t.Error("contacted before the report was known")
	}
	c2 := s.ok(contacted("P-1", "listing-optimization", "2024-08-02"))
	if got := s.activation("P-1", b).Contacts; len(got) != 1 || got[0].Seq != c2 {
		t.Fatalf("second report marks the next one: %+v", got)
	}
	s.rejects(CodeNoOpenActivation, contacted("P-1", "listing-optimization", "2024-08-03"))
}

func TestContactReportSkipsInactive(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2023-12-10")
	s.ok(sold("S-1", "O-1", 3_000_000, "2023-12-15"))
	a := s.ok(activated("P-1", "press-release", "2024-01-10")) // period 2023-12-15 – 2024-12-15
	s.ok(sold("S-2", "O-1", 3_000_000, "2024-12-01"))
	b := s.ok(activated("P-1", "press-release", "2024-12-20"))
	s.ok(cancelled("S-1", "2025-01-01")) // revokes a (first receipt moves to 2024-12-01)
	if st := s.state("P-1", a, "2025-01-02"); st.Status != StatusRevoked {
		t.Fatalf("a: %s %v", st.Status, st.Reasons)
	}
	s.ok(contacted("P-1", "press-release", "2025-01-02"))
	if len(s.activation("P-1", a).Contacts) != 0 || len(s.activation("P-1", b).Contacts) != 1 {
		t.Fatal("the revoked activation was marked")
	}
	// A report dated before the only open activation finds nothing.
	s2 := tier1(t)
	s2.ok(activated("P-1", "press-release", "2024-03-01"))
	s2.rejects(CodeNoOpenActivation, contacted("P-1", "press-release", "2024-02-28"))
}
