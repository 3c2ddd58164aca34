package domain

// The attention report (DOMAIN.md §5): contact_overdue after 7 days,
// fraud_hold after 30 days, no_contact_assigned after 4 weeks (era 2020-07)
// or 3 weeks (later eras), and for partners not enrolled.

import (
	"runtime"
	"testing"
	"time"
)

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

// TestListingCalendar: the calendar computed once up to an instant answers
// every earlier instant as listingPeriod does afresh, and later ones too.
func TestListingCalendar(t *testing.T) {
	s := newStory(t)
	s.all(published("O-1", "P-1", "list", "2024-09-01"), delisted("O-1", "2026-03-01"),
		published("O-2", "P-1", "trial", "2027-05-10"))
	v := s.view("P-1", AllKnown)
	cal := newListingCalendar(v.pol, v.spans, ts("2040-01-01"))
	for at := ts("2024-01-01"); at.Before(ts("2045-01-01")); at = at.AddDate(0, 0, 17) {
		for _, t1 := range []time.Time{at, at.Add(-time.Nanosecond)} {
			want, wok := listingPeriod(v.pol, v.spans, t1)
			got, ok := cal.at(t1)
			if ok != wok || !samePeriod(got, want) {
				t.Fatalf("at %s: calendar %v %s, afresh %v %s", t1, ok, fmtPeriod(got), wok, fmtPeriod(want))
			}
		}
	}
}

// TestAttentionCostGrowsLinearly: the no-contact check walks back through
// the listing-package periods up to the query's instant. It used to compute
// those periods afresh for every instant it looked at, so a query far in the
// future (at=9999-12-31 burned 40 s of CPU) cost the square of the span. The
// memory it allocates now grows with the span, not its square: from 76 to
// 175 years of periods (x2.3) it grew x4.5 before, about x2.4 now.
func TestAttentionCostGrowsLinearly(t *testing.T) {
	s := newStory(t)
	s.all(published("O-1", "P-1", "list", "2024-09-01"), enrolled("P-1", "2024-09-01"))
	v := s.view("P-1", AllKnown)
	bytesAt := func(at string) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 3 {
			if items := v.Attention(ts(at)); len(items) != 1 {
				t.Fatalf("at %s: %+v, want the missing contact", at, items)
			}
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	near, far := bytesAt("2100-01-01"), bytesAt("2199-12-31")
	if ratio := float64(far) / float64(near); ratio > 3.5 {
		t.Errorf("attention at 2199 allocated %d bytes, %.1f times as much as at 2100 (%d): cost grows faster than the span", far, ratio, near)
	}
}
