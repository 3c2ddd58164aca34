package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// generate returns the lines of a log, checking each one parses back to
// the Input it was encoded from (field formats are valid by construction).
func generate(t testing.TB, cfg Config) [][]byte {
	t.Helper()
	var lines [][]byte
	g := newGenerator(cfg.WithDefaults(), func(line []byte) error {
		lines = append(lines, bytes.Clone(line))
		return nil
	})
	g.verify = true
	g.rejects = map[string]int{}
	if err := g.cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if err := g.run(); err != nil {
		t.Fatal(err)
	}
	t.Logf("candidates the judge refused (not emitted): %v", g.rejects)
	return lines
}

func digest(t testing.TB, cfg Config) ([32]byte, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	err := Generate(cfg, func(line []byte) error {
		h.Write(line)
		h.Write([]byte{'\n'})
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, n
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Events: 5000, Seed: 7}
	a, n := digest(t, cfg)
	b, _ := digest(t, cfg)
	if a != b {
		t.Fatal("the same seed gave different output")
	}
	cfg.Seed = 8
	if c, _ := digest(t, cfg); c == a {
		t.Fatal("different seeds gave the same output")
	}
	if n == 0 {
		t.Fatal("no output")
	}
}

// TestReferenceBookSameOutput: judging with a full domain.Book gives the same
// bytes as the default judge (which decides and applies per partner, and
// batches sessions).
func TestReferenceBookSameOutput(t *testing.T) {
	cfg := Config{Events: 8000, Seed: 3}
	a, _ := digest(t, cfg)
	cfg.ReferenceBook = true
	if b, _ := digest(t, cfg); a != b {
		t.Fatal("the reference Book judged differently from the default judge")
	}
}

func TestLogIsAcceptedAndRealistic(t *testing.T) {
	cfg := Config{Events: 20000, Seed: 42}
	lines := generate(t, cfg)
	if n := len(lines); n < 19000 || n > 21000 {
		t.Errorf("%d lines for %d events asked (±5%% is 19000..21000)", n, cfg.Events)
	}

	b := domain.NewBook(domain.DefaultPolicy())
	pol := b.Policy()
	now := cfg.Clock()
	byType := map[string]int{}
	flagged := map[string]bool{}          // sales flagged at least once
	reported := map[string]bool{}         // (partner, metric, period) reported
	partnerLast := map[string]time.Time{} // latest event time per partner so far
	var latest time.Time                  // latest event time in the log so far
	var suspected, confirmed, replacements, backwards, late, republished int
	eras := map[string]int{}
	published := map[string]bool{}
	for i, line := range lines {
		r := b.Submit(line, now)
		if r.Err != nil || r.Duplicate {
			t.Fatalf("line %d: %v (duplicate %v): %s", i+1, r.Err, r.Duplicate, line)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("line %d recorded at sequence %d", i+1, r.Seq)
		}
		var env struct {
			ID   string
			Type string
			Time time.Time
			Data map[string]any
		}
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("gen-42-%d", i+1); env.ID != want {
			t.Fatalf("line %d has id %s, want %s", i+1, env.ID, want)
		}
		if !env.Time.Before(now) || env.Time.Before(DefaultStart) {
			t.Fatalf("line %d: time %s outside the span", i+1, env.Time)
		}
		byType[env.Type]++
		str := func(k string) string { s, _ := env.Data[k].(string); return s }
		partner := str("partner_id")
		switch env.Type {
		case domain.TypeOfferPublished:
			republished += count(published[str("offer_id")])
			published[str("offer_id")] = true
		case domain.TypeSaleBilled:
			partner, _ = b.OfferOwner(str("offer_id"))
			if e := pol.EraAt(env.Time); e != nil {
				eras[e.ID]++
			}
		case domain.TypeSaleFlaggedFraud:
			flagged[str("sale_id")] = true
			if str("confidence") == domain.ConfidenceSuspected {
				suspected++
			} else {
				confirmed++
			}
		case domain.TypeMetricReported:
			k := partner + " " + str("metric") + " " + str("period")
			replacements += count(reported[k])
			reported[k] = true
		}
		switch env.Type {
		case domain.TypeSaleFlaggedFraud, domain.TypeSaleFraudCleared, domain.TypePurchaseCancelled:
			partner, _ = b.SaleOwner(str("sale_id"))
			late += count(latest.Sub(env.Time) > 14*24*time.Hour)
		case domain.TypeOfferDelisted:
			partner, _ = b.OfferOwner(str("offer_id"))
		}
		if partner == "" {
			t.Fatalf("line %d: no partner: %s", i+1, line)
		}
		backwards += count(env.Time.Before(partnerLast[partner]))
		if env.Time.After(partnerLast[partner]) {
			partnerLast[partner] = env.Time
		}
		if env.Time.After(latest) {
			latest = env.Time
		}
	}
	sales := byType[domain.TypeSaleBilled]
	t.Logf("%d lines: %v", len(lines), byType)
	t.Logf("fraud flags: %d sales flagged, %d suspected and %d confirmed flags; metric replacements %d; republications %d",
		len(flagged), suspected, confirmed, replacements, republished)
	t.Logf("sales by era: %v; lines earlier than their partner's latest: %d; corrections arriving >14 days late: %d", eras, backwards, late)

	share := func(name string, got int, lo, hi float64) {
		t.Helper()
		if f := float64(got) / float64(sales); f < lo || f > hi {
			t.Errorf("%s: %d for %d sales (%.2f%%), want %.1f%%..%.1f%%", name, got, sales, 100*f, 100*lo, 100*hi)
		}
	}
	share("sales flagged as fraud", len(flagged), 0.006, 0.014)
	share("cancellations", byType[domain.TypePurchaseCancelled], 0.006, 0.014)
	if f := float64(sales) / float64(len(lines)); f < 0.6 || f > 0.95 {
		t.Errorf("sales are %.0f%% of the log, want most of it", 100*f)
	}
	for _, typ := range []string{domain.TypeOfferPublished, domain.TypeOfferDelisted, domain.TypePartnerEnrolled,
		domain.TypeMarketingContactAssigned, domain.TypeSaleFraudCleared, domain.TypeMetricReported,
		domain.TypeBenefitActivated, domain.TypeRewardsTeamContacted, domain.TypeEngagementOptedOut,
		domain.TypePartnerSanctioned, domain.TypePartnerReinstated} {
		if byType[typ] == 0 {
			t.Errorf("no %s", typ)
		}
	}
	if suspected == 0 || confirmed == 0 || replacements == 0 || republished == 0 {
		t.Error("want suspected and confirmed flags, metric replacements and republications")
	}
	for _, e := range pol.Eras {
		if eras[e.ID] == 0 {
			t.Errorf("no sale in era %s", e.ID)
		}
	}
	if late == 0 {
		t.Error("no correction arrives late")
	}
	if f := float64(backwards) / float64(len(lines)); f > 0.05 {
		t.Errorf("%.1f%% of lines are earlier than their partner's latest: the log should be mostly in time order", 100*f)
	}

	// Tiers rise and fall: some partner holds tier 3 at some instant.
	best := map[int]int{}
	falls := 0
	for _, id := range b.PartnerIDs() {
		h := domain.History(pol, b.Partner(id), domain.AllKnown, b.LastSeq())
		top := 0
		for _, c := range h.Changes {
			top = max(top, c.To.Rank)
			falls += count(c.To.Rank < c.From.Rank)
		}
		best[top]++
	}
	t.Logf("partners by best held tier: %v; held-tier falls: %d", best, falls)
	if best[3]+best[4] == 0 {
		t.Error("no partner reaches tier 3")
	}
	if falls == 0 {
		t.Error("no held tier ever falls")
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestEventsWithinFivePercent(t *testing.T) {
	for _, cfg := range []Config{
		{Events: 1000, Seed: 1},
		{Events: 3000, Partners: 40, Seed: 2},
		{Events: 10000, Partners: 5, Seed: 3},
		{Events: 30000, Seed: 4},
	} {
		_, n := digest(t, cfg)
		if d := float64(n)/float64(cfg.Events) - 1; d < -0.05 || d > 0.05 {
			t.Errorf("%+v: %d lines (%+.1f%%)", cfg, n, 100*d)
		} else {
			t.Logf("events %d partners %d: %d lines (%+.1f%%)", cfg.Events, cfg.WithDefaults().Partners, n, 100*d)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Events: 10},
		{Events: 1000, Partners: 100},
		{Events: 1000, Partners: -1},
		{Events: 1000, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := Generate(cfg, func([]byte) error { return nil }); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	stop := fmt.Errorf("stop")
	n := 0
	err := Generate(Config{Events: 1000}, func([]byte) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Errorf("emit error: got %v after %d lines", err, n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const events = 50000
	for b.Loop() {
		n := 0
		if err := Generate(Config{Events: events, Seed: 1}, func([]byte) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/events, "ns/event")
}
