package domain

// Entitlements and periods (DOMAIN.md §4): each grant line of the catalog,
// the line and period an activation uses, per-offer grants, listing-package
// periods, era-bound technical benefits, and sanctions.

import "testing"

// grantsOf returns the grants of benefit at at, keyed "line/offer".
func grantsOf(s *story, partner, benefit, at string) map[string]Grant {
	out := map[string]Grant{}
	for _, g := range s.view(partner, AllKnown).Grants(ts(at)) {
		if g.BenefitID == benefit {
			out[g.Line+"/"+g.OfferID] = g
		}
	}
	return out
}

func TestTierLines(t *testing.T) {
	byRank := [][]string{
		0: {"engagement-manager", "listing-optimization"},
		1: {"engagement-manager", "listing-optimization", "press-release", "social-amplification", "technical-consultation"},
		2: {"azure-sponsorship", "co-sell-enablement", "customer-case-study", "engagement-manager", "listing-optimization", "press-release", "social-amplification", "technical-consultation"},
		3: {"azure-sponsorship", "co-sell-enablement", "customer-case-study", "engagement-manager", "listing-optimization", "marketing-campaign", "press-release", "social-amplification", "technical-consultation"},
		4: {"azure-sponsorship", "co-sell-enablement", "customer-case-study", "engagement-manager", "executive-sponsorship", "listing-optimization", "marketing-campaign", "press-release", "social-amplification", "technical-consultation"},
	}
	amounts := []int64{100, 2_500_000, 10_000_000, 100_000_000, 500_000_000}
	for rank, cents := range amounts {
		// Era 2020-07: technical benefits included.
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2021-01-01")
		s.ok(sold("S-1", "O-1", cents, "2021-02-01"))
		if got := s.entitled("P-1", "2021-02-01"); !equalStrings(got, byRank[rank]) {
			t.Errorf("2020-07 rank %d: %v, want %v", rank, got, byRank[rank])
		}
		// TTM eras: no technical benefits.
		s = newStory(t)
		s.onboard("P-1", "O-1", "transact", "2024-01-01")
		s.ok(sold("S-1", "O-1", cents, "2024-02-01"))
		var want []string
		for _, id := range byRank[rank] {
			if id != "technical-consultation" && id != "azure-sponsorship" {
				want = append(want, id)
			}
		}
		if got := s.entitled("P-1", "2024-02-01"); !equalStrings(got, want) {
			t.Errorf("2023-12 rank %d: %v, want %v", rank, got, want)
		}
	}
}

func TestTechnicalBenefitsOnlyInEra2020(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2022-01-01")
	s.ok(sold("S-1", "O-1", 12_000_000, "2022-01-15"))
	if got := s.entitled("P-1", "2023-11-30T23:59:59Z"); !contains(got, "azure-sponsorship") || !contains(got, "technical-consultation") {
		t.Errorf("2020-07: %v", got)
	}
	// The held tier is still 2 after the switch (straddle), but technical benefits end.
	if s.held("P-1", "2023-12-01") != 2 {
		t.Fatal("straddle")
	}
	got := s.entitled("P-1", "2023-12-01")
	if contains(got, "azure-sponsorship") || contains(got, "technical-consultation") || !contains(got, "co-sell-enablement") {
		t.Errorf("2023-12: %v", got)
	}
	s.rejects(CodeNotEntitled, activated("P-1", "technical-consultation", "2023-12-01"))
	s.ok(activated("P-1", "technical-consultation", "2023-11-30"))
}

func TestOfferLines(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "list", "2024-01-10")
	if got := s.entitled("P-1", "2024-01-10"); !equalStrings(got, []string{"listing-optimization"}) {
		t.Errorf("a list offer: %v", got)
	}
	if got := s.entitled("P-1", "2024-01-09T23:59:59Z"); len(got) != 0 {
		t.Errorf("before publication: %v", got)
	}
	s.ok(published("O-2", "P-1", "transact", "2024-02-01"))
	g := grantsOf(s, "P-1", "engagement-manager", "2024-02-01")
	if len(g) != 1 || g["transact-offer/O-2"].Period != period("2023-07-01", "2024-07-01") || g["transact-offer/O-2"].Until != nil {
		t.Errorf("transact offer line: %+v", g)
	}
	s.ok(delisted("O-2", "2024-03-01"))
	if got := s.entitled("P-1", "2024-03-01"); !equalStrings(got, []string{"listing-optimization"}) {
		t.Errorf("after the transact offer is delisted: %v", got)
	}
	s.ok(delisted("O-1", "2024-04-01"))
	if got := s.entitled("P-1", "2024-04-01"); len(got) != 0 {
		t.Errorf("nothing live: %v", got)
	}
	if got := s.entitled("P-1", "2024-03-31T23:59:59Z"); !equalStrings(got, []string{"listing-optimization"}) {
		t.Errorf("a delisting takes effect at its own time: %v", got)
	}
}

// Without offer_id, the first line in the order listing package, tier,
// transact offer, live offer grants the activation, and gives its period.
func TestLinePreferenceAndPeriods(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(s *story)
		benefit string
		at      string
		line    string
		period  Period
	}{
		{"live offer: fiscal year", func(s *story) { s.onboard("P-1", "O-1", "list", "2024-01-10") },
			"listing-optimization", "2024-09-01", LineLiveOffer, period("2024-07-01", "2025-07-01")},
		{"transact offer: fiscal year", func(s *story) { s.onboard("P-1", "O-1", "transact", "2024-01-10") },
			"engagement-manager", "2024-06-30T12:00:00Z", LineTransactOffer, period("2023-07-01", "2024-07-01")},
		{"tier in a TTM era: anniversary period", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2024-01-10")
			s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-10"))
		}, "press-release", "2024-03-01", LineTier, period("2024-02-10", "2025-02-10")},
		{"tier in era 2020-07: fiscal year", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2021-01-10")
			s.ok(sold("S-1", "O-1", 3_000_000, "2021-02-10"))
		}, "press-release", "2021-03-01", LineTier, period("2020-07-01", "2021-07-01")},
		{"tier in a straddling period: anniversary period", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2022-01-10")
			s.ok(sold("S-1", "O-1", 3_000_000, "2022-02-10"))
		}, "press-release", "2023-12-20", LineTier, period("2023-02-10", "2024-02-10")},
		{"listing package before tier", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2024-01-10")
			s.ok(published("O-2", "P-1", "list", "2024-01-10"))
			s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-10"))
		}, "press-release", "2024-09-01", LineListingPackage, period("2024-08-19", "2025-08-19")},
		{"listing package before transact offer", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2024-01-10")
			s.ok(published("O-2", "P-1", "trial", "2024-09-01"))
		}, "engagement-manager", "2024-10-01", LineListingPackage, period("2024-09-01", "2025-09-01")},
		{"tier before listing package's absence", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2024-01-10")
			s.ok(sold("S-1", "O-1", 3_000_000, "2024-02-10"))
		}, "press-release", "2024-09-01", LineTier, period("2024-02-10", "2025-02-10")},
		{"transact offer, no listing package in 2023-12", func(s *story) {
			s.onboard("P-1", "O-1", "transact", "2024-01-10")
			s.ok(published("O-2", "P-1", "list", "2024-01-10"))
		}, "engagement-manager", "2024-08-18", LineTransactOffer, period("2023-07-01", "2024-07-01").shift(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			c.setup(s)
			seq := s.ok(activated("P-1", c.benefit, c.at))
			a := s.activation("P-1", seq)
			if a.Line != c.line || !samePeriod(a.Period, c.period) || a.OfferID != "" {
				t.Fatalf("line %s period %s offer %q, want %s %s", a.Line, fmtPeriod(a.Period), a.OfferID, c.line, fmtPeriod(c.period))
			}
			doc := s.benefits("P-1", c.at)
			if n := len(doc.Activations); n != 1 || doc.Activations[0].GrantedBy != c.line || doc.Activations[0].OfferID != nil {
				t.Fatalf("benefits doc: %+v", doc.Activations)
			}
			// A second activation inside the period is refused; the first instant after it is fine (if still granted).
			s.rejects(CodeAlreadyActivated, activated("P-1", c.benefit, c.period.End.Add(-1).Format("2006-01-02T15:04:05.999999999Z07:00")))
		})
	}
}

// shift moves a period by n years.
func (p Period) shift(n int) Period { return Period{p.Start.AddDate(n, 0, 0), p.End.AddDate(n, 0, 0)} }

func TestPerOfferGrant(t *testing.T) {
	cases := []struct {
		name      string
		published string
		listing   string
		delisted  string
		window    *Period // nil: no grant
		ends      string  // first instant without the grant
	}{
		{"trial in 2020-07: 3 months", "2020-09-01", "trial", "", ptr(period("2020-09-01", "2020-12-01")), "2020-12-01"},
		{"consulting in 2020-07: 3 months", "2021-01-15T10:00:00Z", "consulting", "", ptr(period("2021-01-15T10:00:00Z", "2021-04-15T10:00:00Z")), "2021-04-15T10:00:00Z"},
		{"Nov 30 + 3 months = Mar 2", "2020-11-30", "trial", "", ptr(period("2020-11-30", "2021-03-02")), "2021-03-02"},
		{"published just before 2023-12: 3 months across the change", "2023-11-30T23:59:59Z", "trial", "", ptr(period("2023-11-30T23:59:59Z", "2024-03-01T23:59:59Z")), "2024-03-01T23:59:59Z"}, // Feb 30 2024 = Mar 1,
		{"published at 2023-12-01: 6 months", "2023-12-01", "trial", "", ptr(period("2023-12-01", "2024-06-01")), "2024-06-01"},
		{"6 months running into era 2024-08", "2024-06-01", "consulting", "", ptr(period("2024-06-01", "2024-12-01")), "2024-12-01"},
		{"ended early by delisting", "2020-09-01", "trial", "2020-10-01", ptr(period("2020-09-01", "2020-12-01")), "2020-10-01"},
		{"delisting after the window", "2020-09-01", "trial", "2021-01-01", ptr(period("2020-09-01", "2020-12-01")), "2020-12-01"},
		{"none in era 2024-08", "2024-08-19", "trial", "", nil, ""},
		{"none for list offers", "2020-09-01", "list", "", nil, ""},
		{"none for transact offers", "2020-09-01", "transact", "", nil, ""},
		{"none before the first era", "2020-07-01", "trial", "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStory(t)
			s.onboard("P-1", "O-1", c.listing, c.published)
			if c.delisted != "" {
				s.ok(delisted("O-1", c.delisted))
			}
			act := func(at string) ev { return activated("P-1", "engagement-manager", at).with("offer_id", "O-1") }
			if c.window == nil {
				for _, at := range []string{c.published, "2020-07-06", "2024-09-01"} {
					if g := grantsOf(s, "P-1", "engagement-manager", at); len(g["offer-grant/O-1"].Line) != 0 {
						t.Fatalf("grant at %s: %+v", at, g)
					}
				}
				s.rejects(CodeNotEntitled, act(maxTime(c.published, "2020-07-06")))
				return
			}
			g, ok := grantsOf(s, "P-1", "engagement-manager", c.published)["offer-grant/O-1"]
			if !ok || !samePeriod(g.Period, *c.window) || g.Until == nil || !g.Until.Equal(c.window.End) || g.OfferID != "O-1" {
				t.Fatalf("grant at publication: %+v", g)
			}
			last := ts(c.ends).Add(-1).Format("2006-01-02T15:04:05.999999999Z07:00")
			if _, ok := grantsOf(s, "P-1", "engagement-manager", last)["offer-grant/O-1"]; !ok {
				t.Fatalf("no grant at %s", last)
			}
			if _, ok := grantsOf(s, "P-1", "engagement-manager", c.ends)["offer-grant/O-1"]; ok {
				t.Fatalf("grant still at %s", c.ends)
			}
			s.rejects(CodeNotEntitled, act(c.ends))
			seq := s.ok(act(last))
			if a := s.activation("P-1", seq); a.Line != LineOfferGrant || a.OfferID != "O-1" || !samePeriod(a.Period, *c.window) {
				t.Fatalf("activation %+v", a)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func maxTime(a, b string) string {
	if ts(a).After(ts(b)) {
		return a
	}
	return b
}

func TestRepublishingGrantsNothingNew(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "trial", "2020-09-01")
	s.ok(delisted("O-1", "2020-09-10"))
	s.ok(published("O-1", "P-1", "trial", "2020-09-20"))
	s.rejects(CodeNotEntitled, activated("P-1", "engagement-manager", "2020-09-25").with("offer_id", "O-1"))
	s.ok(delisted("O-1", "2021-01-10"))
	s.ok(published("O-1", "P-1", "trial", "2023-12-05")) // a later era: still nothing
	s.rejects(CodeNotEntitled, activated("P-1", "engagement-manager", "2023-12-06").with("offer_id", "O-1"))
	// The live offer line still follows every publication.
	if got := s.entitled("P-1", "2020-09-25"); !equalStrings(got, []string{"listing-optimization"}) {
		t.Errorf("republished offer: %v", got)
	}
	// Each first publication grants for its own offer.
	s.ok(published("O-2", "P-1", "consulting", "2020-09-25"))
	g := grantsOf(s, "P-1", "engagement-manager", "2020-10-01")
	if len(g) != 1 || g["offer-grant/O-2"].OfferID != "O-2" {
		t.Errorf("grants %+v", g)
	}
}

func TestPerOfferGrantsListedPerOffer(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "trial", "2024-01-01")
	s.ok(published("O-2", "P-1", "consulting", "2024-01-02"))
	s.ok(published("O-3", "P-1", "transact", "2024-01-03"))
	doc := s.benefits("P-1", "2024-02-01")
	var lines []string
	for _, e := range doc.Entitled {
		if e.BenefitID == "engagement-manager" {
			off := ""
			if e.OfferID != nil {
				off = *e.OfferID
			}
			lines = append(lines, e.GrantedBy+"/"+off)
		}
	}
	want := []string{"transact-offer/O-3", "offer-grant/O-1", "offer-grant/O-2"}
	if !equalStrings(lines, want) {
		t.Fatalf("engagement-manager lines %v, want %v", lines, want)
	}
}

func TestListingPackage(t *testing.T) {
	t.Run("first period at 2024-08-19 for an offer already live", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-10")
		if got := s.entitled("P-1", "2024-08-18T23:59:59Z"); !equalStrings(got, []string{"listing-optimization"}) {
			t.Errorf("before 2024-08-19: %v", got)
		}
		for _, b := range []string{"engagement-manager", "press-release"} {
			g, ok := grantsOf(s, "P-1", b, "2024-08-19")["listing-package/"]
			if !ok || !samePeriod(g.Period, period("2024-08-19", "2025-08-19")) || g.Until == nil || !g.Until.Equal(ts("2025-08-19")) {
				t.Errorf("%s: %+v", b, g)
			}
		}
		// Live at the end of the period: the next starts 12 months on.
		g := grantsOf(s, "P-1", "press-release", "2025-08-19")["listing-package/"]
		if !samePeriod(g.Period, period("2025-08-19", "2026-08-19")) {
			t.Errorf("second period %s", fmtPeriod(g.Period))
		}
	})
	t.Run("a started period runs after every offer is delisted", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "trial", "2024-09-01")
		s.ok(delisted("O-1", "2024-09-15"))
		got := s.entitled("P-1", "2025-08-31T23:59:59Z")
		if !equalStrings(got, []string{"engagement-manager", "press-release"}) {
			t.Errorf("delisted inside the period: %v", got)
		}
		if got := s.entitled("P-1", "2025-09-01"); len(got) != 0 {
			t.Errorf("after the period, nothing live: %v", got)
		}
		// The next period starts when an offer next goes live.
		s.ok(published("O-2", "P-1", "consulting", "2025-11-20"))
		g := grantsOf(s, "P-1", "press-release", "2025-11-20")["listing-package/"]
		if !samePeriod(g.Period, period("2025-11-20", "2026-11-20")) {
			t.Errorf("next period %s", fmtPeriod(g.Period))
		}
		if _, ok := grantsOf(s, "P-1", "press-release", "2025-11-19")["listing-package/"]; ok {
			t.Error("a period between the two")
		}
	})
	t.Run("transact offers do not open a listing period", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "transact", "2024-09-01")
		if _, ok := grantsOf(s, "P-1", "press-release", "2024-10-01")["listing-package/"]; ok {
			t.Error("a transact offer opened a listing period")
		}
		s.ok(published("O-2", "P-1", "list", "2024-10-02"))
		g := grantsOf(s, "P-1", "press-release", "2024-10-02")["listing-package/"]
		if !samePeriod(g.Period, period("2024-10-02", "2025-10-02")) {
			t.Errorf("period %s", fmtPeriod(g.Period))
		}
	})
	t.Run("activations once per listing period", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-10")
		s.rejects(CodeNotEntitled, activated("P-1", "press-release", "2024-08-18"))
		s.ok(activated("P-1", "press-release", "2024-08-19"))
		s.ok(activated("P-1", "engagement-manager", "2024-08-19"))
		s.rejects(CodeAlreadyActivated, activated("P-1", "press-release", "2025-08-18T23:59:59Z"))
		s.ok(activated("P-1", "press-release", "2025-08-19"))
	})
	t.Run("a gap when the offer is not live 12 months on", func(t *testing.T) {
		s := newStory(t)
		s.onboard("P-1", "O-1", "list", "2024-01-10")
		s.ok(delisted("O-1", "2025-05-01"))
		s.ok(published("O-1", "P-1", "list", "2025-10-01"))
		if _, ok := grantsOf(s, "P-1", "press-release", "2025-09-01")["listing-package/"]; ok {
			t.Error("period in the gap")
		}
		g := grantsOf(s, "P-1", "press-release", "2025-10-01")["listing-package/"]
		if !samePeriod(g.Period, period("2025-10-01", "2026-10-01")) {
			t.Errorf("period %s", fmtPeriod(g.Period))
		}
	})
}

func TestSanctionedEntitledToNothing(t *testing.T) {
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-10")
	s.ok(sold("S-1", "O-1", 12_000_000, "2024-02-01"))
	s.ok(sanctioned("P-1", "2024-03-01"))
	if got := s.entitled("P-1", "2024-03-01"); len(got) != 0 {
		t.Errorf("sanctioned: %v", got)
	}
	doc := s.benefits("P-1", "2024-03-01")
	if !doc.Sanctioned || len(doc.Entitled) != 0 {
		t.Errorf("benefits doc: %+v", doc)
	}
	if got := s.entitled("P-1", "2024-02-29"); len(got) == 0 {
		t.Error("nothing before the sanction")
	}
	// The tier is still held (and reported) while sanctioned.
	if d := s.tier("P-1", "2024-03-01"); d.Tier.Rank != 2 || !d.Sanctioned {
		t.Errorf("tier while sanctioned: %+v", d)
	}
	s.ok(reinstated("P-1", "2024-04-01"))
	if got := s.entitled("P-1", "2024-04-01"); !contains(got, "co-sell-enablement") {
		t.Errorf("after reinstatement: %v", got)
	}
	if got := s.entitled("P-1", "2024-03-31T23:59:59Z"); len(got) != 0 {
		t.Errorf("before reinstatement: %v", got)
	}
}
