package domain

// The attention report (DOMAIN.md §5): contact_overdue after 7 days,
// fraud_hold after 30 days, no_contact_assigned after 4 weeks (era 2020-07)
// or 3 weeks (later eras), and for partners not enrolled.

import "testing"

// attention returns the partner's attention items at at, keyed by kind.
func attention(s *story, partner, at string) map[string]AttentionItem {
	out := map[string]AttentionItem{}
	for _, it := range s.view(partner, AllKnown).Attention(ts(at)) {
		if it.PartnerID != partner {
			s.t.Errorf("item of %s in %s's report", it.PartnerID, partner)
		}
		key := it.Kind
		if _, dup := out[key]; dup {
			key += "#2"
		}
		out[key] = it
	}
	return out
}

// expectItem checks whether an item of kind is reported at each instant.
func expectItem(t *testing.T, s *story, kind string, want map[string]bool) {
	t.Helper()
	for at, on := range want {
		_, got := attention(s, "P-1", at)[kind]
		if got != on {
			t.Errorf("%s at %s: %v, want %v", kind, at, got, on)
		}
	}
}

func TestContactOverdue(t *testing.T) {
	s := tier1(t)
	a := s.ok(activated("P-1", "press-release", "2024-03-01"))
	s.ok(activated("P-1", "social-amplification", "2024-03-01"))
	s.ok(contacted("P-1", "social-amplification", "2024-03-03"))
	expectItem(t, s, AttentionContactOverdue, map[string]bool{
		"2024-03-07":                     false,
		"2024-03-08T00:00:00Z":           false, // exactly 7 days
		"2024-03-08T00:00:00.000000001Z": true,
	})
	it := attention(s, "P-1", "2024-03-09")[AttentionContactOverdue]
	if it.ActivationSeq != a || it.BenefitID != "press-release" || !it.Since.Equal(ts("2024-03-08")) {
		t.Errorf("item %+v", it)
	}
	if _, two := attention(s, "P-1", "2024-03-09")[AttentionContactOverdue+"#2"]; two {
		t.Error("the contacted activation is overdue")
	}
	// A late contact report clears it from its own time on.
	s.ok(contacted("P-1", "press-release", "2024-03-10"))
	expectItem(t, s, AttentionContactOverdue, map[string]bool{"2024-03-09": true, "2024-03-10": false})
}

func TestContactOverdueOnlyForActive(t *testing.T) {
	s := tier1(t)
	s.ok(activated("P-1", "press-release", "2024-03-01"))
	s.ok(activated("P-1", "social-amplification", "2024-03-01"))
	s.ok(optedOut("P-1", "2024-03-02").with("benefit_id", "social-amplification")) // ends one
	s.ok(sanctioned("P-1", "2024-03-20"))                                          // revokes both from then
	expectItem(t, s, AttentionContactOverdue, map[string]bool{"2024-03-19": true, "2024-03-20": false})
	if n := len(s.view("P-1", AllKnown).Attention(ts("2024-03-19"))); n != 1 {
		t.Errorf("%d items at 2024-03-19, want only the active activation", n)
	}
}

func TestFraudHoldAttention(t *testing.T) {
	s := tier1(t)
	s.ok(sold("S-2", "O-1", 100, "2024-02-10"))
	s.ok(flagged("S-2", "suspected", "2024-03-01"))
	expectItem(t, s, AttentionFraudHold, map[string]bool{
		"2024-02-29":                     false,
		"2024-03-31T00:00:00Z":           false, // exactly 30 days
		"2024-03-31T00:00:00.000000001Z": true,
	})
	it := attention(s, "P-1", "2024-04-05")[AttentionFraudHold]
	if it.SaleID != "S-2" || !it.Since.Equal(ts("2024-03-31")) {
		t.Errorf("item %+v", it)
	}
	s.ok(cleared("S-2", "2024-04-10"))
	expectItem(t, s, AttentionFraudHold, map[string]bool{
		"2024-04-10": false,
		// Before the clearance's own time the flag was unresolved: the event time
		// of a correction matters for the attention report (DOMAIN.md §1).
		"2024-04-09": true,
	})
	// A confirmed flag is no longer a hold.
	s.ok(flagged("S-2", "suspected", "2024-05-01"))
	expectItem(t, s, AttentionFraudHold, map[string]bool{"2024-06-01": true})
	s.ok(flagged("S-2", "confirmed", "2024-06-05"))
	expectItem(t, s, AttentionFraudHold, map[string]bool{"2024-06-10": false, "2024-06-04": true})
}

func TestNoContactAssigned(t *testing.T) {
	t.Run("4 weeks in era 2020-07", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2020-09-01"), enrolled("P-1", "2020-09-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{
			"2020-09-29T00:00:00Z":           false, // exactly 28 days
			"2020-09-29T00:00:00.000000001Z": true,
		})
		if it := attention(s, "P-1", "2020-10-01")[AttentionNoContactAssigned]; !it.Since.Equal(ts("2020-09-29")) {
			t.Errorf("since %v", it.Since)
		}
		s.ok(contactAssigned("P-1", "2020-10-05"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{"2020-10-04": true, "2020-10-05": false})
	})
	t.Run("3 weeks in later eras", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2024-01-01"), enrolled("P-1", "2024-01-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{
			"2024-01-22T00:00:00Z":           false, // exactly 21 days
			"2024-01-22T00:00:00.000000001Z": true,
		})
	})
	t.Run("not enrolled", func(t *testing.T) {
		s := newStory(t)
		s.ok(published("O-1", "P-1", "list", "2024-01-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{"2024-01-22": false, "2024-01-23": true})
		if it := attention(s, "P-1", "2024-01-23")[AttentionNoContactAssigned]; it.Detail == "" {
			t.Error("no detail")
		}
	})
	t.Run("entitlement restarts after a gap", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2024-01-01"), enrolled("P-1", "2024-01-01"), delisted("O-1", "2024-01-10"),
			published("O-1", "P-1", "list", "2024-03-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{
			"2024-02-15": false, // nothing entitled
			"2024-03-20": false,
			"2024-03-23": true,
		})
	})
	t.Run("entitled from the first era", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2020-06-01"), enrolled("P-1", "2020-06-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{"2020-08-03": false, "2020-08-04": true})
		if it := attention(s, "P-1", "2020-09-01")[AttentionNoContactAssigned]; !it.Since.Equal(ts("2020-08-03")) {
			t.Errorf("since %v, want 28 days after 2020-07-06", it.Since)
		}
	})
	t.Run("a sanction interrupts the entitlement", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2024-01-01"), enrolled("P-1", "2024-01-01"),
			sanctioned("P-1", "2024-01-10"), reinstated("P-1", "2024-03-01"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{
			"2024-02-15": false, // sanctioned: entitled to nothing
			"2024-03-22": false,
			"2024-03-23": true,
		})
	})
	t.Run("nothing entitled", func(t *testing.T) {
		s := newStory(t)
		s.all(published("O-1", "P-1", "list", "2024-01-01"), delisted("O-1", "2024-01-02"))
		expectItem(t, s, AttentionNoContactAssigned, map[string]bool{"2024-06-01": false})
	})
	t.Run("with a contact", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-01")
		if items := s.view("P-1", AllKnown).Attention(ts("2024-06-01")); len(items) != 0 {
			t.Errorf("items %+v", items)
		}
	})
}
