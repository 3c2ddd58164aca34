package domain

// The policy file (DOMAIN.md §3): the embedded default, strict parsing,
// validation of eras, thresholds and catalog, and what-if policies.

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// policyDoc decodes the default policy into generic JSON for editing.
func policyDoc(t *testing.T) M {
	t.Helper()
	var m M
	if err := json.Unmarshal(DefaultPolicyJSON(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodePolicy(t *testing.T, m M) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eras(m M) []any   { return m["eras"].([]any) }
func era(m M, i int) M { return eras(m)[i].(M) }
func track(m M, i int, id string) M {
	return era(m, i)["tracks"].(M)[id].(M)
}
func benefit(m M, i int) M { return m["benefits"].([]any)[i].(M) }

func TestDefaultPolicy(t *testing.T) {
	pol := DefaultPolicy()
	if pol.Version == "" || pol.Digest() == "" || len(pol.Eras) != 3 || pol.MaxRank() != 4 {
		t.Fatalf("default policy: %+v", pol)
	}
	want := map[string]map[string][]int64{
		"2020-07": {TrackMBS: {2_500_000, 10_000_000, 100_000_000, 500_000_000}, TrackSeats: {100, 500, 2_000, 10_000}},
		"2023-12": {TrackMBS: {2_500_000, 10_000_000, 100_000_000, 400_000_000}, TrackMAU: {1_000, 5_000, 25_000, 100_000},
			TrackBizApps: {2_500_000, 10_000_000, 100_000_000, 400_000_000}},
	}
	want["2024-08"] = want["2023-12"]
	for _, e := range pol.Eras {
		if len(e.Tracks) != len(want[e.ID]) {
			t.Errorf("era %s: tracks %v", e.ID, e.Tracks)
		}
		for id, th := range want[e.ID] {
			if got := e.Tracks[id].Thresholds; !equalInts(got, th) {
				t.Errorf("era %s track %s: %v, want %v", e.ID, id, got, th)
			}
		}
	}
	if u := pol.Eras[0].Tracks[TrackSeats].Until; u == nil || !u.Equal(ts("2021-06-30T23:59:59Z")) {
		t.Errorf("seats until %v", u)
	}
	for id, from := range map[string]string{"2020-07": "2020-07-06", "2023-12": "2023-12-01", "2024-08": "2024-08-19"} {
		if e := pol.eraByID(id); e == nil || !e.From.Equal(ts(from)) {
			t.Errorf("era %s from %v", id, e)
		}
	}
	if pol.Eras[0].OfferGrantMonths != 3 || pol.Eras[1].OfferGrantMonths != 6 || pol.Eras[2].OfferGrantMonths != 0 ||
		!pol.Eras[2].ListingPackage || pol.Eras[1].ListingPackage || pol.ListingPackage.Months != 12 {
		t.Errorf("grants: %+v", pol.Eras)
	}
	if pol.Eras[0].NoContactAfterDays != 28 || pol.Eras[1].NoContactAfterDays != 21 || pol.Eras[2].NoContactAfterDays != 21 ||
		pol.Attention.ContactOverdueDays != 7 || pol.Attention.FraudHoldDays != 30 || pol.FiscalYearStartMonth != 7 {
		t.Errorf("windows: %+v", pol.Attention)
	}
	if len(pol.Benefits) != 10 {
		t.Errorf("%d benefits", len(pol.Benefits))
	}
	for id, cat := range map[string]string{"listing-optimization": "marketing", "engagement-manager": "sales", "press-release": "marketing",
		"social-amplification": "marketing", "customer-case-study": "marketing", "co-sell-enablement": "sales", "marketing-campaign": "marketing",
		"executive-sponsorship": "sales", "technical-consultation": "technical", "azure-sponsorship": "technical"} {
		if b := pol.Benefit(id); b == nil || b.Category != cat {
			t.Errorf("benefit %s: %+v", id, b)
		}
	}
	// The digest is of the content, not the formatting.
	var buf bytes.Buffer
	if err := json.Indent(&buf, DefaultPolicyJSON(), "", "\t\t"); err != nil {
		t.Fatal(err)
	}
	again, err := ParsePolicy(buf.Bytes())
	if err != nil || again.Digest() != pol.Digest() {
		t.Errorf("reformatted policy: %v digest %s vs %s", err, again.Digest(), pol.Digest())
	}
	m := policyDoc(t)
	track(m, 0, TrackMBS)["thresholds"] = []any{2_500_001, 10_000_000, 100_000_000, 500_000_000}
	if other, err := ParsePolicy(encodePolicy(t, m)); err != nil || other.Digest() == pol.Digest() {
		t.Errorf("a changed threshold keeps the digest (%v)", err)
	}
}

func equalInts(a, b []int64) bool {
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

func TestPolicyRefused(t *testing.T) {
	cases := []struct {
		name string
		edit func(m M)
		want string // part of the error
	}{
		{"unknown top-level field", func(m M) { m["tier"] = []any{} }, "unknown field"},
		{"unknown era field", func(m M) { era(m, 0)["treshold"] = 1 }, "unknown field"},
		{"unknown track field", func(m M) { track(m, 0, TrackMBS)["untill"] = "2021-01-01T00:00:00Z" }, "unknown field"},
		{"unknown benefit field", func(m M) { benefit(m, 0)["categories"] = "x" }, "unknown field"},
		{"no version", func(m M) { delete(m, "version") }, "version"},
		{"one tier", func(m M) { m["tiers"] = []any{"none"} }, "tiers"},
		{"fiscal month 13", func(m M) { m["fiscal_year_start_month"] = 13 }, "fiscal_year_start_month"},
		{"no eras", func(m M) { m["eras"] = []any{} }, "era"},
		{"eras out of order", func(m M) { era(m, 1)["from"] = "2020-01-01T00:00:00Z" }, "increasing"},
		{"two eras from the same instant", func(m M) { era(m, 2)["from"] = era(m, 1)["from"] }, "increasing"},
		{"era without id", func(m M) { era(m, 1)["id"] = "" }, "id"},
		{"era without from", func(m M) { delete(era(m, 0), "from") }, "from is required"},
		{"era from without offset", func(m M) { era(m, 0)["from"] = "2020-07-06T00:00:00" }, "policy"},
		{"unknown basis", func(m M) { era(m, 1)["basis"] = "rolling" }, "basis"},
		{"cumulative after ttm", func(m M) { era(m, 2)["basis"] = "cumulative" }, "cumulative"},
		{"era without tracks", func(m M) { era(m, 1)["tracks"] = M{} }, "track"},
		{"unknown track", func(m M) { era(m, 1)["tracks"].(M)["mau"] = M{"thresholds": []any{1, 2, 3, 4}} }, "unknown track"},
		{"threshold zero", func(m M) { track(m, 0, TrackMBS)["thresholds"] = []any{0, 10, 20, 30} }, "thresholds"},
		{"threshold negative", func(m M) { track(m, 1, TrackMAU)["thresholds"] = []any{-1, 10, 20, 30} }, "thresholds"},
		{"thresholds not increasing", func(m M) { track(m, 1, TrackMBS)["thresholds"] = []any{10, 10, 20, 30} }, "thresholds"},
		{"thresholds decreasing", func(m M) { track(m, 2, TrackBizApps)["thresholds"] = []any{40, 30, 20, 10} }, "thresholds"},
		{"too few thresholds", func(m M) { track(m, 0, TrackSeats)["thresholds"] = []any{100, 500, 2000} }, "thresholds"},
		{"too many thresholds", func(m M) { track(m, 0, TrackSeats)["thresholds"] = []any{100, 500, 2000, 10000, 20000} }, "thresholds"},
		{"fractional threshold", func(m M) { track(m, 0, TrackMBS)["thresholds"] = []any{2.5, 10, 20, 30} }, "policy"},
		{"negative grant months", func(m M) { era(m, 0)["offer_grant_months"] = -3 }, "offer_grant_months"},
		{"no-contact window zero", func(m M) { era(m, 1)["no_contact_after_days"] = 0 }, "no_contact_after_days"},
		{"unknown grant listing type", func(m M) { m["offer_grant"] = M{"listing_types": []any{"free"}} }, "listing type"},
		{"listing package months zero", func(m M) { m["listing_package"].(M)["months"] = 0 }, "months"},
		{"attention window zero", func(m M) { m["attention"].(M)["fraud_hold_days"] = 0 }, "attention"},
		{"duplicate benefit", func(m M) { benefit(m, 1)["id"] = benefit(m, 0)["id"] }, "unique"},
		{"benefit category", func(m M) { benefit(m, 0)["category"] = "legal" }, "category"},
		{"unknown line", func(m M) { benefit(m, 0)["lines"] = []any{M{"line": "loyalty"}} }, "line"},
		{"tier line without min_tier", func(m M) { benefit(m, 2)["lines"] = []any{M{"line": "tier"}} }, "min_tier"},
		{"min_tier beyond the tiers", func(m M) { benefit(m, 2)["lines"] = []any{M{"line": "tier", "min_tier": 5}} }, "min_tier"},
		{"min_tier on an offer line", func(m M) { benefit(m, 0)["lines"] = []any{M{"line": "live-offer", "min_tier": 1}} }, "min_tier"},
		{"line in an unknown era", func(m M) { benefit(m, 8)["lines"] = []any{M{"line": "tier", "min_tier": 1, "eras": []any{"2019-01"}}} }, "era"},
		{"not JSON", nil, "policy"},
	}
	for name, raw := range map[string]string{"two objects": string(DefaultPolicyJSON()) + "{}", "trailing garbage": string(DefaultPolicyJSON()) + " x", "trailing brace": string(DefaultPolicyJSON()) + "}"} {
		if _, err := ParsePolicy([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParsePolicy(append(DefaultPolicyJSON(), "\n\n"...)); err != nil {
		t.Errorf("trailing newlines: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte("{")
			if c.edit != nil {
				m := policyDoc(t)
				c.edit(m)
				raw = encodePolicy(t, m)
			}
			pol, err := ParsePolicy(raw)
			if err == nil {
				t.Fatalf("accepted: %+v", pol)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// A what-if policy changes every figure computed under it, from the same facts.
func TestWhatIfPolicy(t *testing.T) {
	m := policyDoc(t)
	m["version"] = "what-if/1"
	for i := 1; i < 3; i++ {
		track(m, i, TrackMBS)["thresholds"] = []any{500_000, 10_000_000, 100_000_000, 400_000_000}
	}
	whatIf, err := ParsePolicy(encodePolicy(t, m))
	if err != nil {
		t.Fatal(err)
	}
	s := newStory(t)
	s.onboard("P-1", "O-1", "transact", "2024-01-01")
	s.ok(sold("S-1", "O-1", 1_000_000, "2024-03-01"))
	p := s.partner("P-1")
	def := Compile(DefaultPolicy(), p, AllKnown).Tier(ts("2024-04-01"), 0)
	alt := Compile(whatIf, p, AllKnown).Tier(ts("2024-04-01"), 0)
	if def.Tier.Rank != 0 || alt.Tier.Rank != 1 || alt.Policy != "what-if/1" || alt.FirstReceipt == nil || !alt.FirstReceipt.Equal(ts("2024-03-01")) {
		t.Fatalf("default %+v\nwhat-if %+v", def.Tier, alt)
	}
	if got := entitledIDs(Compile(whatIf, p, AllKnown).Grants(ts("2024-04-01"))); !contains(got, "press-release") {
		t.Errorf("what-if entitlements %v", got)
	}
	// A Book under the what-if policy decides activations by it.
	w := newStoryWith(t, whatIf)
	w.onboard("P-1", "O-1", "transact", "2024-01-01")
	w.ok(sold("S-1", "O-1", 1_000_000, "2024-03-01"))
	w.ok(activated("P-1", "press-release", "2024-04-01"))
	s.rejects(CodeNotEntitled, activated("P-1", "press-release", "2024-04-01"))
}

// TestPolicyErrorsNameTheField: a refused policy says where, by JSON path.
func TestPolicyErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name string
		edit func(m M)
		want string // the error's beginning after "policy …: "
	}{
		{"threshold not increasing", func(m M) { track(m, 1, TrackMBS)["thresholds"] = []any{10, 20, 15, 30} },
			"eras[1].tracks.mbs_usd_cents.thresholds[2]: must be greater than eras[1].tracks.mbs_usd_cents.thresholds[1] (20)"},
		{"threshold zero", func(m M) { track(m, 0, TrackSeats)["thresholds"] = []any{0, 10, 20, 30} }, "eras[0].tracks.seats.thresholds[0]: "},
		{"threshold count", func(m M) { track(m, 2, TrackMAU)["thresholds"] = []any{1, 2} }, "eras[2].tracks.teams_mau.thresholds: "},
		{"era order", func(m M) { era(m, 2)["from"] = era(m, 1)["from"] }, "eras[2].from: "},
		{"basis", func(m M) { era(m, 1)["basis"] = "rolling" }, "eras[1].basis: "},
		{"unknown track", func(m M) { era(m, 1)["tracks"].(M)["mau"] = M{"thresholds": []any{1, 2, 3, 4}} }, "eras[1].tracks.mau: "},
		{"no-contact window", func(m M) { era(m, 1)["no_contact_after_days"] = 0 }, "eras[1].no_contact_after_days: "},
		{"listing type", func(m M) { m["listing_package"].(M)["listing_types"] = []any{"list", "free"} }, "listing_package.listing_types[1]: "},
		{"attention", func(m M) { m["attention"].(M)["fraud_hold_days"] = 0 }, "attention.fraud_hold_days: "},
		{"category", func(m M) { benefit(m, 3)["category"] = "legal" }, "benefits[3].category: "},
		{"min_tier", func(m M) { benefit(m, 2)["lines"] = []any{M{"line": "listing-package"}, M{"line": "tier"}} }, "benefits[2].lines[1].min_tier: "},
		{"line era", func(m M) { benefit(m, 8)["lines"] = []any{M{"line": "tier", "min_tier": 1, "eras": []any{"2019-01"}}} }, "benefits[8].lines[0].eras[0]: "},
		{"wrong JSON type", func(m M) { era(m, 0)["offer_grant_months"] = "three" }, "eras.offer_grant_months: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := policyDoc(t)
			c.edit(m)
			_, err := ParsePolicy(encodePolicy(t, m))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), ": "+c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// TestPolicyFileKept: the policy keeps its file byte for byte.
func TestPolicyFileKept(t *testing.T) {
	raw := append(DefaultPolicyJSON(), "\n\n"...)
	pol, err := ParsePolicy(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pol.File(), raw) || !bytes.Equal(DefaultPolicy().File(), DefaultPolicyJSON()) {
		t.Fatal("the policy's file differs from the one parsed")
	}
}
