package domain

// Tiers (DOMAIN.md §1, §3, §4): track windows and thresholds, the cumulative
// era and its seats cut-off, first receipt, anniversary periods, the Dec-2023
// straddle, metric tracks, and retroactive corrections by knowledge.

import (
	"slices"
	"testing"
)

// tierCheck is one expectation on the tier document at an instant.
type tierCheck struct {
	at    string
	rank  int
	mbs   int64 // -1: not checked
	first string
}

func checkTiers(t *testing.T, s *story, partner string, checks []tierCheck) {
	t.Helper()
	for _, c := range checks {
		doc := s.tier(partner, c.at)
		if doc.Tier.Rank != c.rank || doc.Tier.Name != s.b.Policy().TierName(c.rank) {
			t.Errorf("at %s: tier %+v, want rank %d", c.at, doc.Tier, c.rank)
		}
		if c.mbs >= 0 && doc.Tracks.MBS != c.mbs {
			t.Errorf("at %s: mbs %d, want %d", c.at, doc.Tracks.MBS, c.mbs)
		}
		switch {
		case c.first == "-":
		case c.first == "" && doc.FirstReceipt != nil:
			t.Errorf("at %s: first receipt %v, want none", c.at, doc.FirstReceipt)
		case c.first != "" && (doc.FirstReceipt == nil || !doc.FirstReceipt.Equal(ts(c.first))):
			t.Errorf("at %s: first receipt %v, want %s", c.at, doc.FirstReceipt, c.first)
		}
	}
}

func TestCalendar(t *testing.T) {
	t.Run("ttm start", func(t *testing.T) {
		for at, want := range map[string]string{
			"2025-03-01T00:00:00Z": "2024-03-01T00:00:00Z",
			"2024-02-29T12:00:00Z": "2023-03-01T12:00:00Z", // AddDate normalizes
			"2025-02-28T00:00:00Z": "2024-02-28T00:00:00Z",
		} {
			if got := ttmStart(ts(at)); !got.Equal(ts(want)) {
				t.Errorf("ttmStart(%s) = %v, want %s", at, got, want)
			}
		}
	})
	t.Run("fiscal year", func(t *testing.T) {
		for at, want := range map[string]Period{
			"2020-07-01T00:00:00Z":           period("2020-07-01", "2021-07-01"),
			"2021-06-30T23:59:59.999999999Z": period("2020-07-01", "2021-07-01"),
			"2021-01-15T00:00:00Z":           period("2020-07-01", "2021-07-01"),
			"2021-07-01T00:00:00Z":           period("2021-07-01", "2022-07-01"),
			"2021-12-31T00:00:00Z":           period("2021-07-01", "2022-07-01"),
		} {
			if got := fiscalYear(ts(at), 7); !samePeriod(got, want) {
				t.Errorf("fiscalYear(%s) = %s", at, fmtPeriod(got))
			}
		}
	})
	t.Run("anniversaries of Feb 29", func(t *testing.T) {
		first := ts("2024-02-29T10:00:00Z")
		for at, want := range map[string]Period{
			"2024-02-29T10:00:00Z":           period("2024-02-29T10:00:00Z", "2025-03-01T10:00:00Z"),
			"2025-02-28T23:00:00Z":           period("2024-02-29T10:00:00Z", "2025-03-01T10:00:00Z"),
			"2025-03-01T09:59:59.999999999Z": period("2024-02-29T10:00:00Z", "2025-03-01T10:00:00Z"),
			"2025-03-01T10:00:00Z":           period("2025-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
			"2027-12-31T00:00:00Z":           period("2027-03-01T10:00:00Z", "2028-02-29T10:00:00Z"),
			"2028-02-29T10:00:00Z":           period("2028-02-29T10:00:00Z", "2029-03-01T10:00:00Z"),
		} {
			if got := anniversary(first, ts(at)); !samePeriod(got, want) {
				t.Errorf("anniversary at %s = %s, want %s", at, fmtPeriod(got), fmtPeriod(want))
			}
		}
	})
	t.Run("AddDate normalizes", func(t *testing.T) {
		if got := ts("2020-11-30").AddDate(0, 3, 0); !got.Equal(ts("2021-03-02")) {
			t.Errorf("Nov 30 + 3 months = %v", got)
		}
	})
}

func TestTTMWindowBoundaries(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 1_000_000, "2024-03-01T00:00:00Z"))
	s.ok(sold("S-2", "O-1", 2_000_000, "2024-03-01T00:00:00.000000001Z"))
	s.ok(sold("S-3", "O-1", 4_000_000, "2025-03-01T00:00:00Z"))
	for at, want := range map[string]int64{
		"2024-02-29T23:59:59.999999999Z": 0,
		"2024-03-01T00:00:00Z":           1_000_000, // a sale at exactly t is in
		"2024-03-01T00:00:00.000000001Z": 3_000_000,
		"2025-02-28T23:59:59.999999999Z": 3_000_000,
		"2025-03-01T00:00:00Z":           6_000_000, // S-1 at exactly t−1 year is out, S-2 a nanosecond later is in, S-3 at t is in
		"2025-03-01T00:00:00.000000001Z": 4_000_000,
	} {
		if got := s.tier("P-1", at).Tracks.MBS; got != want {
			t.Errorf("mbs at %s = %d, want %d", at, got, want)
		}
	}
	// At a Feb 29 the window starts at Mar 1 of the year before (AddDate).
	s2 := newStory(t)
	s2.onboard("P-1", "O-1", "transact", "2023-01-01")
	s2.ok(sold("S-1", "O-1", 1_000_000, "2023-03-01T00:00:00Z"))
	s2.ok(sold("S-2", "O-1", 2_000_000, "2023-03-01T00:00:00.000000001Z"))
	if got := s2.tier("P-1", "2024-02-29T00:00:00Z").Tracks.MBS; got != 2_000_000 {
		t.Errorf("mbs at 2024-02-29 = %d, want 2,000,000", got)
	}
}

func TestThresholdsReachedAtEquality(t *testing.T) {
	cases := []struct {
		name  string
		cents int64
		at    string // sale instant, also the query instant
		rank  int
	}{
		{"just below tier-1 (TTM)", 2_499_999, "2024-05-01", 0},
		{"exactly tier-1 (TTM)", 2_500_000, "2024-05-01", 1},
		{"exactly tier-2", 10_000_000, "2024-05-01", 2},
		{"exactly tier-3", 100_000_000, "2024-05-01", 3},
		{"$4M is tier-4 from 2023-12", 400_000_000, "2024-05-01", 4},
		{"$4M is tier-3 in 2020-07", 400_000_000, "2022-05-01", 3},
		{"exactly $5M is tier-4 in 2020-07", 500_000_000, "2022-05-01", 4},
		{"exactly tier-1 (cumulative)", 2_500_000, "2022-05-01", 1},
		{"just below tier-1 (cumulative)", 2_499_999, "2022-05-01", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			s.onboard("P-1", "O-1", "transact", "2022-01-01")
			s.ok(sold("S-1", "O-1", c.cents, c.at))
			if got := s.tier("P-1", c.at).Tier.Rank; got != c.rank {
				t.Fatalf("rank %d, want %d", got, c.rank)
			}
		})
	}
}

func TestCumulativeEra(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2020-08-01")
	s.ok(sold("S-1", "O-1", 1_000_000, "2020-08-15"))
	s.ok(sold("S-2", "O-1", 1_000_000, "2021-08-15"))
	s.ok(sold("S-3", "O-1", 500_000, "2022-08-15"))
	checkTiers(t, s, "P-1", []tierCheck{
		{"2021-08-14", 0, 1_000_000, ""},
		{"2022-08-14", 0, 2_000_000, ""},
		{"2022-08-15", 1, 2_500_000, "2022-08-15"}, // all sales up to t, years apart
		{"2023-11-30T23:59:59Z", 1, 2_500_000, "2022-08-15"},
	})
	doc := s.tier("P-1", "2022-08-15")
	if doc.Era == nil || *doc.Era != "2020-07" || doc.Period == nil || doc.Period.Kind != PeriodFiscalYear ||
		!doc.Period.Start.Equal(ts("2022-07-01")) || !doc.Period.End.Equal(ts("2023-07-01")) {
		t.Errorf("era/period: %+v %+v", doc.Era, doc.Period)
	}
	// The fiscal year exists before first receipt.
	if doc := s.tier("P-1", "2021-01-01"); doc.Period == nil || doc.Period.Kind != PeriodFiscalYear || !doc.Period.Start.Equal(ts("2020-07-01")) {
		t.Errorf("no fiscal year before first receipt: %+v", doc.Period)
	}
}

func TestSeatsCutOff(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2020-08-01")
	s.ok(published("O-2", "P-1", "transact", "2020-08-01").with("category", "m365-app"))
	s.ok(sold("S-1", "O-2", 100, "2021-06-30T23:59:59Z").with("seats", 100))
	s.ok(sold("S-2", "O-1", 100, "2021-06-01").with("seats", 5000)) // not an m365-app offer: no seats
	checkTiers(t, s, "P-1", []tierCheck{
		{"2021-06-30T23:59:58Z", 0, -1, ""},
		{"2021-06-30T23:59:59Z", 1, 200, "2021-06-30T23:59:59Z"}, // seats count at 23:59:59
		{"2021-06-30T23:59:59.000000001Z", 0, -1, "-"},           // not after
		{"2021-07-15", 0, -1, "2021-06-30T23:59:59Z"},
	})
	if got := s.tier("P-1", "2021-07-15").Tracks.Seats; got != 100 {
		t.Errorf("seats track after the cut-off: %d, want 100 (still reported)", got)
	}
	if got := s.tier("P-1", "2021-06-30T23:59:59Z").Tracks.Seats; got != 100 {
		t.Errorf("seats track: %d, want 100 (only m365-app offers)", got)
	}
	// Seats after the cut-off still add to the reported track but grant nothing.
	s.ok(sold("S-3", "O-2", 100, "2021-08-01").with("seats", 10_000))
	if doc := s.tier("P-1", "2021-08-01"); doc.Tracks.Seats != 10_100 || doc.Tier.Rank != 0 {
		t.Errorf("after the cut-off: seats %d rank %d", doc.Tracks.Seats, doc.Tier.Rank)
	}
	if got := s.entitled("P-1", "2021-08-01"); contains(got, "press-release") {
		t.Errorf("seats-based tier grants after the cut-off: %v", got)
	}
}

func TestSeatsFollowTheCategoryAtSaleTime(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2020-08-01")
	s.ok(sold("S-1", "O-1", 100, "2020-09-01").with("seats", 60))
	s.ok(delisted("O-1", "2020-10-01"))
	s.ok(published("O-1", "P-1", "transact", "2020-10-01").with("category", "m365-app"))
	s.ok(sold("S-2", "O-1", 100, "2020-11-01").with("seats", 70))
	if got := s.tier("P-1", "2020-12-01").Tracks.Seats; got != 70 {
		t.Fatalf("seats %d, want 70 (only the sale billed while m365-app)", got)
	}
}

func TestEventsBeforeTheFirstEra(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2019-12-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2020-01-15"))
	before := s.tier("P-1", "2020-07-05T23:59:59Z")
	if before.Tier.Rank != 0 || before.Era != nil || before.Period != nil || before.FirstReceipt != nil || before.Tracks.MBS != 3_000_000 {
		t.Errorf("before the first era: %+v", before)
	}
	checkTiers(t, s, "P-1", []tierCheck{{"2020-07-06", 1, 3_000_000, "2020-07-06"}})
	if got := s.entitled("P-1", "2020-07-05T23:59:59Z"); len(got) != 0 {
		t.Errorf("entitled before the first era: %v", got)
	}
	want := []string{"engagement-manager", "listing-optimization", "press-release", "social-amplification", "technical-consultation"}
	if got := s.entitled("P-1", "2020-07-06"); !equalStrings(got, want) {
		t.Errorf("entitled at 2020-07-06: %v, want %v", got, want)
	}
	s.rejects(CodeNotEntitled, activated("P-1", "listing-optimization", "2020-07-05"))
	s.ok(activated("P-1", "listing-optimization", "2020-07-06"))
}

func TestStraddleKeepsCumulativeTier(t *testing.T) {
	t.Run("period straddling the switch", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2022-01-01")
		s.ok(sold("S-1", "O-1", 12_000_000, "2022-01-15")) // tier-2, first receipt
		checkTiers(t, s, "P-1", []tierCheck{
			{"2023-11-30T23:59:59Z", 2, 12_000_000, "2022-01-15"},
			{"2023-12-01", 2, 0, "2022-01-15"}, // TTM is 0, the cumulative tier is kept
			{"2024-01-14T23:59:59Z", 2, 0, "2022-01-15"},
			{"2024-01-15", 0, 0, "2022-01-15"}, // the next period starts after the switch
		})
		s.ok(sold("S-2", "O-1", 100_000_000, "2023-12-20")) // upgrade within the straddling period
		checkTiers(t, s, "P-1", []tierCheck{
			{"2023-12-19", 2, -1, "-"},
			{"2023-12-20", 3, -1, "-"},
			{"2024-01-15", 3, -1, "-"},
		})
	})
	t.Run("the kept tier is the cumulative tier at 2023-11-30T23:59:59Z", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2022-01-01")
		s.ok(sold("S-1", "O-1", 3_000_000, "2022-01-15"))
		s.ok(sold("S-2", "O-1", 8_000_000, "2023-11-30T23:59:59Z"))
		checkTiers(t, s, "P-1", []tierCheck{{"2023-12-15", 2, 8_000_000, "2022-01-15"}})
		s2 := newStory(t)
		s2.onboard("P-1", "O-1", "transact", "2022-01-01")
		s2.ok(sold("S-1", "O-1", 3_000_000, "2022-01-15"))
		s2.ok(sold("S-2", "O-1", 1_000_000, "2023-06-01"))
		s2.ok(flagged("S-1", "confirmed", "2024-01-01")) // the past as now known: never tier-1 before the switch
		checkTiers(t, s2, "P-1", []tierCheck{{"2023-11-15", 0, 1_000_000, ""}, {"2023-12-15", 0, 1_000_000, ""}})
	})
	t.Run("anniversary just after the switch", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2022-01-01")
		s.ok(sold("S-1", "O-1", 12_000_000, "2022-12-05"))
		checkTiers(t, s, "P-1", []tierCheck{
			{"2023-12-04T23:59:59Z", 2, 12_000_000, "2022-12-05"},
			// The new period starts at 2023-12-05: TTM then excludes the sale at exactly t − 1 year.
			{"2023-12-05", 0, 0, "2022-12-05"},
		})
	})
	t.Run("first receipt after the switch", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2022-01-01")
		s.ok(sold("S-1", "O-1", 1_000_000, "2023-06-01"))
		s.ok(sold("S-2", "O-1", 1_600_000, "2023-12-10"))
		checkTiers(t, s, "P-1", []tierCheck{{"2023-12-09", 0, 1_000_000, ""}, {"2023-12-10", 1, 2_600_000, "2023-12-10"}})
		doc := s.tier("P-1", "2023-12-10")
		if doc.Period == nil || doc.Period.Kind != PeriodAnniversary || !doc.Period.Start.Equal(ts("2023-12-10")) || !doc.Period.End.Equal(ts("2024-12-10")) {
			t.Errorf("period %+v", doc.Period)
		}
		if doc := s.tier("P-1", "2023-12-09"); doc.Period != nil {
			t.Errorf("anniversary period before first receipt: %+v", doc.Period)
		}
	})
}

func TestUpgradesAtOnceFallsAtAnniversary(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-01-10"))
	s.ok(sold("S-2", "O-1", 8_000_000, "2024-03-01"))
	checkTiers(t, s, "P-1", []tierCheck{
		{"2024-01-10", 1, 3_000_000, "2024-01-10"},
		{"2024-02-29", 1, 3_000_000, "-"},
		{"2024-03-01", 2, 11_000_000, "-"}, // upgrade at once
		{"2025-01-09", 2, 11_000_000, "-"},
		{"2025-01-10", 1, 8_000_000, "-"}, // anniversary: S-1 left the window at exactly t − 1 year
		{"2025-03-01", 1, 0, "-"},         // the TTM tier falls to none, the held tier only at the next anniversary
		{"2026-01-09T23:59:59Z", 1, 0, "-"},
		{"2026-01-10", 0, 0, "2024-01-10"},
		{"2030-01-01", 0, 0, "2024-01-10"},
	})
	doc := s.tier("P-1", "2025-06-01")
	if doc.Period == nil || !doc.Period.Start.Equal(ts("2025-01-10")) || !doc.Period.End.Equal(ts("2026-01-10")) {
		t.Errorf("period %+v", doc.Period)
	}
	// Periods keep running from the first receipt after the tier is lost.
	if doc := s.tier("P-1", "2027-02-01"); doc.Period == nil || !doc.Period.Start.Equal(ts("2027-01-10")) {
		t.Errorf("period long after: %+v", doc.Period)
	}
}

func TestFebruary29FirstReceipt(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-29"))
	s.ok(sold("S-2", "O-1", 3_000_000, "2025-02-28"))
	s.ok(sold("S-3", "O-1", 3_000_000, "2027-06-01"))
	for at, want := range map[string]Period{
		"2025-02-28T23:59:59Z": period("2024-02-29", "2025-03-01"),
		"2025-03-01":           period("2025-03-01", "2026-03-01"),
		"2027-12-31":           period("2027-03-01", "2028-02-29"),
		"2028-02-29":           period("2028-02-29", "2029-03-01"),
	} {
		doc := s.tier("P-1", at)
		if doc.Period == nil || !samePeriod(Period{doc.Period.Start, doc.Period.End}, want) {
			t.Errorf("period at %s: %+v, want %s", at, doc.Period, fmtPeriod(want))
		}
	}
	checkTiers(t, s, "P-1", []tierCheck{
		{"2025-03-01", 1, 3_000_000, "2024-02-29"}, // S-2 in the window at the Mar 1 anniversary
		{"2026-03-01", 0, 0, "2024-02-29"},
		{"2027-06-01", 1, 3_000_000, "2024-02-29"},
		{"2028-02-28", 1, 3_000_000, "-"},
		{"2028-02-29", 1, 3_000_000, "-"},
		{"2029-03-01", 0, 0, "-"},
	})
}

func TestMetricTracks(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2024-01-01")
	s.ok(metric("P-1", "teams_mau", "2024-01", 600, "2024-02-01"))
	s.ok(metric("P-1", "teams_mau", "2024-02", 700, "2024-03-01"))
	s.ok(metric("P-1", "bizapps_value", "2024-01", 1_500_000, "2024-02-01"))
	doc := s.tier("P-1", "2024-03-01")
	if doc.Tracks.MAU != 700 || doc.Tracks.BizApps != 1_500_000 || doc.Tier.Rank != 0 {
		t.Fatalf("teams_mau is the max (700), not the sum: %+v", doc)
	}
	s.ok(metric("P-1", "bizapps_value", "2024-02", 1_000_000, "2024-03-02"))
	checkTiers(t, s, "P-1", []tierCheck{{"2024-03-02", 1, 0, "2024-03-02"}}) // bizapps is summed: 2.5M
	s.ok(metric("P-1", "teams_mau", "2024-03", 5_000, "2024-04-01"))
	checkTiers(t, s, "P-1", []tierCheck{{"2024-04-01", 2, 0, "2024-03-02"}})
	// Reports leave the window one year after their own event time.
	if d := s.tier("P-1", "2025-04-01T00:00:00.000000001Z"); d.Tracks.MAU != 0 || d.Tracks.BizApps != 0 {
		t.Errorf("a year later: %+v", d.Tracks)
	}
	if d := s.tier("P-1", "2025-04-01"); d.Tracks.MAU != 0 {
		t.Errorf("at exactly a year: mau %d", d.Tracks.MAU)
	}
	if d := s.tier("P-1", "2025-03-31"); d.Tracks.MAU != 5_000 || d.Tracks.BizApps != 0 {
		t.Errorf("before a year: %+v", d.Tracks)
	}
}

func TestMetricTracksCountOnlyFromTheirEra(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2023-01-01")
	s.ok(metric("P-1", "teams_mau", "2023-05", 5_000, "2023-06-01"))
	checkTiers(t, s, "P-1", []tierCheck{
		{"2023-11-30T23:59:59Z", 0, 0, ""}, // no teams_mau track in 2020-07
		{"2023-12-01", 2, 0, "2023-12-01"}, // the era brings it in: first receipt at the era start
		{"2024-05-31", 2, 0, "-"},
		{"2024-12-01", 0, 0, "-"}, // the report left the window on 2024-06-01; the fall waits for the anniversary
	})
}

func TestMetricReplacement(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2024-01-01")
	s.ok(metric("P-1", "bizapps_value", "2024-01", 3_000_000, "2024-02-01"))
	s.ok(metric("P-1", "bizapps_value", "2024-02", 100, "2024-02-15")) // another period: not replaced
	s.ok(metric("P-1", "teams_mau", "2024-01", 10, "2024-02-16"))      // another metric: not replaced
	repl := s.ok(metric("P-1", "bizapps_value", "2024-01", 1_000_000, "2024-03-01"))

	old := s.tierKnown("P-1", "2024-02-20", repl-1)
	if old.Tier.Rank != 1 || old.Tracks.BizApps != 3_000_100 {
		t.Errorf("before the replacement was known: %+v", old)
	}
	// With the replacement known, the earlier report counts nowhere, at no instant.
	now := s.tier("P-1", "2024-02-20")
	if now.Tier.Rank != 0 || now.Tracks.BizApps != 100 || now.FirstReceipt != nil || now.Tracks.MAU != 10 {
		t.Errorf("after the replacement: %+v", now)
	}
	if got := s.tier("P-1", "2024-03-01").Tracks.BizApps; got != 1_000_100 {
		t.Errorf("the replacement counts from its own time: %d", got)
	}
	// A second replacement replaces the first.
	s.ok(metric("P-1", "bizapps_value", "2024-01", 2_400_000, "2024-03-05"))
	if got := s.tier("P-1", "2024-03-05"); got.Tracks.BizApps != 2_400_100 || got.Tier.Rank != 0 {
		t.Errorf("second replacement: %+v", got)
	}
}

func TestCorrectionsRewriteThePast(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-01"))
	s.ok(sold("S-2", "O-1", 1_000_000, "2024-02-02"))
	beforeFlag := s.b.LastSeq()
	flag := s.ok(flagged("S-1", "confirmed", "2024-09-01")) // dated long after
	checkTiers(t, s, "P-1", []tierCheck{{"2024-03-01", 0, 1_000_000, ""}})
	if d := s.tier("P-1", "2024-03-01"); d.Excluded.Fraud != 3_000_000 || d.Excluded.Cancelled != 0 {
		t.Errorf("excluded %+v", d.Excluded)
	}
	// What we knew before the flag.
	old := s.tierKnown("P-1", "2024-03-01", beforeFlag)
	if old.Tier.Rank != 1 || old.Tracks.MBS != 4_000_000 || old.Excluded.Fraud != 0 || old.FirstReceipt == nil || old.KnownSeq != beforeFlag {
		t.Errorf("at known_seq %d: %+v", beforeFlag, old)
	}
	// Clearing restores the count at every instant.
	s.ok(cleared("S-1", "2024-10-01"))
	checkTiers(t, s, "P-1", []tierCheck{{"2024-03-01", 1, 4_000_000, "2024-02-01"}})
	if d := s.tier("P-1", "2024-03-01"); d.Excluded.Fraud != 0 {
		t.Errorf("excluded after clearance %+v", d.Excluded)
	}
	if d := s.tierKnown("P-1", "2024-03-01", flag); d.Tier.Rank != 0 {
		t.Errorf("at the flag's seq the clearance is unknown: %+v", d.Tier)
	}
	// A suspected flag does not exclude; confirmed then cancelled is excluded as fraud only.
	s.ok(flagged("S-1", "suspected", "2024-10-02"))
	checkTiers(t, s, "P-1", []tierCheck{{"2024-03-01", 1, 4_000_000, "-"}})
	s.ok(cancelled("S-2", "2024-10-03"))
	s.ok(flagged("S-2", "confirmed", "2024-10-04"))
	d := s.tier("P-1", "2024-03-01")
	if d.Tracks.MBS != 3_000_000 || d.Excluded.Fraud != 1_000_000 || d.Excluded.Cancelled != 0 {
		t.Errorf("fraud and cancelled: %+v %+v", d.Tracks, d.Excluded)
	}
	s.ok(cancelled("S-1", "2024-10-05"))
	d = s.tier("P-1", "2024-03-01")
	if d.Tracks.MBS != 0 || d.Excluded.Fraud != 1_000_000 || d.Excluded.Cancelled != 3_000_000 || d.Tier.Rank != 0 {
		t.Errorf("all excluded: %+v %+v %+v", d.Tier, d.Tracks, d.Excluded)
	}
	// Excluded sums are on the era's basis (TTM here).
	if d := s.tier("P-1", "2025-02-02"); d.Excluded.Fraud != 0 || d.Excluded.Cancelled != 0 {
		t.Errorf("excluded outside the window: %+v", d.Excluded)
	}
}

func TestCumulativeTierFallsThroughCorrections(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2020-08-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2020-09-01"))
	s.ok(sold("S-2", "O-1", 9_000_000, "2021-09-01"))
	checkTiers(t, s, "P-1", []tierCheck{{"2020-10-01", 1, 3_000_000, "2020-09-01"}, {"2021-10-01", 2, 12_000_000, "-"}})
	s.ok(cancelled("S-1", "2022-01-01"))
	checkTiers(t, s, "P-1", []tierCheck{
		{"2020-10-01", 0, 0, "-"},
		{"2021-10-01", 1, 9_000_000, "2021-09-01"},
	})
	if d := s.tier("P-1", "2021-10-01"); d.Excluded.Cancelled != 3_000_000 {
		t.Errorf("cumulative excluded %+v", d.Excluded)
	}
}

// A flag recorded after known_seq N is ignored at N, whatever its event time.
func TestKnownSeqCutOff(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	sale := s.ok(sold("S-1", "O-1", 3_000_000, "2024-05-01"))
	flag := s.ok(flagged("S-1", "confirmed", "2024-05-02"))
	for _, c := range []struct {
		known uint64
		rank  int
	}{{sale - 1, 0}, {sale, 1}, {flag - 1, 1}, {flag, 0}, {AllKnown, 0}} {
		doc := s.tierKnown("P-1", "2024-06-01", c.known)
		if doc.Tier.Rank != c.rank || doc.KnownSeq != c.known {
			t.Errorf("known %d: %+v", c.known, doc)
		}
	}
	// A partner is known only from its creation.
	if p := s.partner("P-1"); p.KnownAt(0) || !p.KnownAt(1) {
		t.Errorf("KnownAt")
	}
}

// Tier held, judged at every instant with the era in force then.
func TestEraInForce(t *testing.T) {
	pol := DefaultPolicy()
	for at, want := range map[string]string{
		"2020-07-05T23:59:59.999999999Z": "",
		"2020-07-06":                     "2020-07",
		"2023-11-30T23:59:59Z":           "2020-07",
		"2023-12-01":                     "2023-12",
		"2024-08-18T23:59:59Z":           "2023-12",
		"2024-08-19":                     "2024-08",
		"2040-01-01":                     "2024-08",
	} {
		e := pol.EraAt(ts(at))
		got := ""
		if e != nil {
			got = e.ID
		}
		if got != want {
			t.Errorf("era at %s = %q, want %q", at, got, want)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTierDocBasisAndEarnedBy: the tier document names the basis of the
// era in force and the tracks whose values reach the held tier; a TTM tier
// held after its values fell (until the next anniversary) names none.
func TestTierDocBasisAndEarnedBy(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-01-10"))
	s.ok(metric("P-1", "teams_mau", "2024-01", 1_500, "2024-02-01"))
	for _, c := range []struct {
		at, basis string
		earned    []string
	}{
		{"2022-01-01", BasisCumulative, []string{}},            // no tier
		{"2024-02-01", BasisTTM, []string{TrackMBS, TrackMAU}}, // both reach tier 1
		{"2025-03-01", BasisTTM, []string{}},                   // held until 2026-01-10, values fell
		{"2019-01-01", "", []string{}},                         // before the first era
	} {
		doc := s.tier("P-1", c.at)
		basis := ""
		if doc.Basis != nil {
			basis = *doc.Basis
		}
		if basis != c.basis || !slices.Equal(doc.EarnedBy, c.earned) || doc.EarnedBy == nil {
			t.Errorf("at %s: basis %q, earned_by %q (tier %d), want %q, %q", c.at, basis, doc.EarnedBy, doc.Tier.Rank, c.basis, c.earned)
		}
	}
}
