package domain

// Tier history (DOMAIN.md §6): every change of the held tier with its instant
// and cause, and the corrections that rewrote the past with the spans they
// changed.

import (
	"fmt"
	"strings"
	"testing"
)

// changesOf renders a history's changes as "instant from→to cause".
func changesOf(doc HistoryDoc) []string {
	var out []string
	for _, c := range doc.Changes {
		cause := c.Cause.Kind
		if c.Cause.Kind == CauseEvent {
			cause = fmt.Sprintf("%s:%s#%d", c.Cause.Type, c.Cause.ID, c.Cause.Seq)
		}
		out = append(out, fmt.Sprintf("%s %d→%d %s", c.At.Format("2006-01-02T15:04:05.999999999Z"), c.From.Rank, c.To.Rank, cause))
	}
	return out
}

func history(s *story, partner string, known uint64) HistoryDoc {
	return History(s.b.Policy(), s.partner(partner), known, known)
}

func TestHistoryChangesAndCauses(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2019-12-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2020-01-15")) // before the first era
	s2 := s.ok(sold("S-2", "O-1", 8_000_000, "2021-03-01"))
	s3 := s.ok(sold("S-3", "O-1", 3_000_000, "2024-09-01"))
	want := []string{
		"2020-07-06T00:00:00Z 0→1 era",
		fmt.Sprintf("2021-03-01T00:00:00Z 1→2 SaleBilled:ev-%d#%d", s2, s2),
		// 2023-12-01: the period 2023-07-06 – 2024-07-06 straddles the switch and keeps tier-2.
		"2024-07-06T00:00:00Z 2→0 anniversary",
		fmt.Sprintf("2024-09-01T00:00:00Z 0→1 SaleBilled:ev-%d#%d", s3, s3),
		"2026-07-06T00:00:00Z 1→0 anniversary",
	}
	doc := history(s, "P-1", AllKnown)
	if got := changesOf(doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if doc.Changes[0].From.Name != "none" || doc.Changes[1].To.Name != "tier-2" || doc.PartnerID != "P-1" || doc.Policy == "" {
		t.Errorf("names: %+v", doc.Changes[:2])
	}
	if len(doc.Corrections) != 0 {
		t.Errorf("corrections without any: %+v", doc.Corrections)
	}
	// Each change is a real change of Held.
	v := s.view("P-1", AllKnown)
	for _, c := range doc.Changes {
		if v.Held(c.At) != c.To.Rank || v.Held(c.At.Add(-1)) != c.From.Rank {
			t.Errorf("change at %v is not a step of Held", c.At)
		}
	}
}

func TestHistoryTrackEnd(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2020-08-01")
	s.ok(published("O-2", "P-1", "transact", "2020-08-01").with("category", "m365-app"))
	seq := s.ok(sold("S-1", "O-2", 100, "2021-01-01").with("seats", 150))
	want := []string{
		fmt.Sprintf("2021-01-01T00:00:00Z 0→1 SaleBilled:ev-%d#%d", seq, seq),
		"2021-06-30T23:59:59.000000001Z 1→0 track-end",
	}
	if got := changesOf(history(s, "P-1", AllKnown)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHistoryMetricEraCause(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2023-01-01")
	s.ok(metric("P-1", "teams_mau", "2023-05", 5_000, "2023-06-01"))
	want := []string{"2023-12-01T00:00:00Z 0→2 era", "2024-12-01T00:00:00Z 2→0 anniversary"}
	if got := changesOf(history(s, "P-1", AllKnown)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHistoryCorrections(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-01"))
	s.ok(sold("S-2", "O-1", 8_000_000, "2024-04-01"))
	known := s.b.LastSeq()
	flag := s.ok(flagged("S-2", "confirmed", "2024-06-01"))
	s.ok(flagged("S-1", "suspected", "2024-06-02")) // changes nothing: not a correction of the tier

	before := history(s, "P-1", known)
	if len(before.Corrections) != 0 || len(before.Changes) != 4 || before.KnownSeq != known {
		t.Fatalf("before the flag: %+v", before)
	}
	doc := history(s, "P-1", AllKnown)
	want := []string{"2024-02-01T00:00:00Z 0→1 SaleBilled:ev-4#4", "2025-02-01T00:00:00Z 1→0 anniversary"}
	if got := changesOf(doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s", strings.Join(got, "\n"))
	}
	if len(doc.Corrections) != 1 {
		t.Fatalf("corrections %+v", doc.Corrections)
	}
	c := doc.Corrections[0]
	if c.Seq != flag || c.Type != TypeSaleFlaggedFraud || c.ID != fmt.Sprintf("ev-%d", flag) || !c.Time.Equal(ts("2024-06-01")) {
		t.Errorf("correction %+v", c)
	}
	// Before the flag: tier-2 from 2024-04-01 until the anniversary 2025-02-01,
	// when only S-2 was in the window (tier-1) until 2026-02-01. After: tier-1 until 2025-02-01, then none.
	if got, want := effectsOf(c), "2024-04-01–2025-02-01 tier-2→tier-1; 2025-02-01–2026-02-01 tier-1→none"; got != want {
		t.Errorf("effects %s, want %s", got, want)
	}
}

// effectsOf renders a correction's effects as "from–until before→after".
func effectsOf(c Correction) string {
	var out []string
	for _, e := range c.Effects {
		until := "open"
		if e.Until != nil {
			until = e.Until.Format("2006-01-02")
		}
		out = append(out, fmt.Sprintf("%s–%s %s→%s", e.From.Format("2006-01-02"), until, e.Before.Name, e.After.Name))
	}
	return strings.Join(out, "; ")
}

func TestHistoryBackdatedSale(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 2_000_000, "2024-05-01"))
	late := s.ok(sold("S-2", "O-1", 1_000_000, "2024-03-01")) // recorded after a later-dated sale
	doc := history(s, "P-1", AllKnown)
	if len(doc.Corrections) != 1 || doc.Corrections[0].Seq != late || doc.Corrections[0].Type != TypeSaleBilled {
		t.Fatalf("corrections %+v", doc.Corrections)
	}
	if got := effectsOf(doc.Corrections[0]); got != "2024-05-01–2025-05-01 none→tier-1" {
		t.Errorf("effects %s", got)
	}
}

func TestHistoryReplacingReport(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2024-01-01")
	s.ok(metric("P-1", "teams_mau", "2024-05", 1_000, "2024-06-01"))
	m2 := s.ok(metric("P-1", "teams_mau", "2024-05", 10, "2024-06-05"))
	doc := history(s, "P-1", AllKnown)
	if len(doc.Changes) != 0 {
		t.Errorf("the replaced report counts nowhere: %v", changesOf(doc))
	}
	if len(doc.Corrections) != 1 || doc.Corrections[0].Seq != m2 || doc.Corrections[0].Type != TypeMetricReported {
		t.Fatalf("corrections %+v", doc.Corrections)
	}
	if got := effectsOf(doc.Corrections[0]); got != "2024-06-01–2025-06-01 tier-1→none" {
		t.Errorf("effects %s", got)
	}
}
