package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// inProcess is a ledger started in this process, and the ledger command
// run against it in process, as the admin unless told otherwise.
type inProcess struct {
	t    *testing.T
	l    *app.Ledger
	data string
}

func startInProcess(t *testing.T) *inProcess {
	t.Helper()
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := app.Start(ctx, app.Config{DataDir: data, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &inProcess{t: t, l: l, data: data}
}

// cli runs a ledger command as role and returns stdout, stderr and the
// exit status.
func (p *inProcess) cli(role string, stdin []byte, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	vars := map[string]string{"LEDGER_NATS_URL": p.l.ClientURL(), "LEDGER_CREDS": app.CredsFile(p.data, role)}
	code := run(&env{stdin: bytes.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}, args)
	return out.String(), errb.String(), code
}

// ok runs a command as the admin and fails the test unless it exits 0.
func (p *inProcess) ok(args ...string) string {
	p.t.Helper()
	out, errs, code := p.cli("admin", nil, args...)
	if code != exitOK {
		p.t.Fatalf("ledger %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// whatIfStory: four partners in the 2023-12 era (TTM; MBS tier 1 from
// $25,000) with MBS sales of $20,000 (A), $30,000 (B), $10,000 (C) and
// $150,000 (D); B has activated press-release, a tier-1 benefit.
func whatIfStory(t *testing.T, p *inProcess) {
	t.Helper()
	var in []byte
	n := 0
	add := func(typ, at string, data map[string]any) {
		n++
		in = append(in, envelope("wi-"+itoa(uint64(n)), typ, at, data)...)
	}
	for _, s := range []struct {
		id    string
		cents int64
	}{{"P-A", 2_000_000}, {"P-B", 3_000_000}, {"P-C", 1_000_000}, {"P-D", 15_000_000}} {
		offer := "O" + strings.TrimPrefix(s.id, "P")
		add("OfferPublished", "2024-01-10T00:00:00Z", map[string]any{"offer_id": offer, "partner_id": s.id,
			"publisher_id": "PUB", "listing_type": "transact", "storefront": "appsource"})
		add("PartnerEnrolled", "2024-01-11T00:00:00Z", map[string]any{"partner_id": s.id, "name": "Partner " + s.id,
			"account_email": "admin@" + strings.ToLower(s.id) + ".example"})
		add("MarketingContactAssigned", "2024-01-12T00:00:00Z", map[string]any{"partner_id": s.id,
			"email": "marketing@" + strings.ToLower(s.id) + ".example", "phone": "+1 425 555 0100", "language": "en"})
		add("SaleBilled", "2024-02-01T00:00:00Z", map[string]any{"sale_id": "S" + offer, "offer_id": offer,
			"customer_id": "C-1", "amount_usd_cents": s.cents})
	}
	add("BenefitActivated", "2024-03-01T00:00:00Z", map[string]any{"partner_id": "P-B", "benefit_id": "press-release"})
	out, errs, code := p.cli("admin", in, "submit", "-", "--json")
	if code != exitOK {
		t.Fatalf("submit: exit %d\n%s%s", code, out, errs)
	}
	for _, r := range submitResults(t, out) {
		if !r.OK {
			t.Fatalf("line %d rejected: %s %s", r.Line, r.Code, r.Error)
		}
	}
}

// policyWith writes the live policy with the 2023-12 era's MBS thresholds
// replaced, and returns the file's path.
func policyWith(t *testing.T, live string, version string, mbs []int64) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(live), &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = version
	era := m["eras"].([]any)[1].(map[string]any)
	era["tracks"].(map[string]any)["mbs_usd_cents"].(map[string]any)["thresholds"] = mbs
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), version+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// whatIfOf parses whatif --json output: one document.
func whatIfOf(t *testing.T, out string) ledger.WhatIfDoc {
	t.Helper()
	var d ledger.WhatIfDoc
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil || dec.More() {
		t.Fatalf("whatif --json is not one document (%v):\n%s", err, out)
	}
	return d
}

// TestWhatIf: the live policy compared with itself changes nothing; a lower
// tier-1 threshold changes exactly the partner between the old and the new
// threshold; a higher one revokes the activation it no longer entitles.
// Paging (--limit 1) answers the same as one page.
func TestWhatIf(t *testing.T) {
	p := startInProcess(t)
	whatIfStory(t, p)
	live := p.ok("policy", "show")
	livePath := filepath.Join(t.TempDir(), "live.json")
	os.WriteFile(livePath, []byte(live), 0o644)

	t.Run("same policy", func(t *testing.T) {
		for _, args := range [][]string{{"--at", "2024-06-30"}, {"--at", "2024-06-30", "--history", "--limit", "1"}} {
			d := whatIfOf(t, p.ok(append([]string{"whatif", "--policy", livePath, "--json"}, args...)...))
			if d.Partners != 4 || d.Changed != 0 || len(d.Changes) != 0 || d.Policy != d.WhatIfPolicy || d.PolicyDigest != d.WhatIfPolicyDigest {
				t.Errorf("%v: %+v", args, d)
			}
		}
	})

	lower := policyWith(t, live, "lower-tier-1", []int64{1_500_000, 10_000_000, 100_000_000, 400_000_000})
	t.Run("lower threshold", func(t *testing.T) {
		one := p.ok("whatif", "--policy", lower, "--at", "2024-06-30", "--json", "--history")
		paged := p.ok("whatif", "--policy", lower, "--at", "2024-06-30", "--json", "--history", "--limit", "1")
		if one != paged {
			t.Errorf("paged answer differs:\n%s\n%s", one, paged)
		}
		d := whatIfOf(t, one)
		if d.Partners != 4 || d.Changed != 1 || len(d.Changes) != 1 {
			t.Fatalf("%+v", d)
		}
		c := d.Changes[0]
		if c.PartnerID != "P-A" || c.Tier != (ledger.RankChange{From: 0, To: 1}) || len(c.Entitled.Lost) != 0 ||
			strings.Join(c.Entitled.Gained, ",") != "press-release,social-amplification" || len(c.Activations) != 0 {
			t.Errorf("%+v", c)
		}
		if c.History == nil || !c.History.FirstDifference.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("history %+v", c.History)
		}
		golden(t, "whatif-lower.json", one)
		golden(t, "whatif-lower.txt", p.ok("whatif", "--policy", lower, "--at", "2024-06-30", "--history"))
	})

	higher := policyWith(t, live, "higher-tier-1", []int64{3_500_000, 10_000_000, 100_000_000, 400_000_000})
	t.Run("higher threshold", func(t *testing.T) {
		out := p.ok("whatif", "--policy", higher, "--at", "2024-06-30", "--json")
		d := whatIfOf(t, out)
		if d.Changed != 1 || d.Changes[0].PartnerID != "P-B" {
			t.Fatalf("%+v", d)
		}
		c := d.Changes[0]
		if c.Tier != (ledger.RankChange{From: 1, To: 0}) || strings.Join(c.Entitled.Lost, ",") != "press-release,social-amplification" ||
			len(c.Activations) != 1 || c.Activations[0].From != "active" || c.Activations[0].To != "revoked" {
			t.Errorf("%+v", c)
		}
		golden(t, "whatif-higher.json", out)
		// Before the sales, nothing differs.
		if d := whatIfOf(t, p.ok("whatif", "--policy", higher, "--at", "2024-01-31", "--json")); d.Changed != 0 {
			t.Errorf("before the sales: %+v", d)
		}
	})

	t.Run("refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(strings.Replace(live, `"no_contact_after_days": 21`, `"no_contact_after_days": 0`, 1)), 0o644)
		if _, errs, code := p.cli("admin", nil, "whatif", "--policy", bad); code != exitRejected || !strings.Contains(errs, "invalid_policy") || !strings.Contains(errs, "eras[1].no_contact_after_days") {
			t.Errorf("invalid policy: exit %d %s", code, errs)
		}
		if _, errs, code := p.cli("billing", nil, "whatif", "--policy", livePath); code != exitRejected || !strings.Contains(errs, "forbidden") {
			t.Errorf("billing: exit %d %s", code, errs)
		}
		if _, _, code := p.cli("auditor", nil, "whatif", "--policy", livePath); code != exitOK {
			t.Errorf("auditor: exit %d", code)
		}
	})
}

// TestPolicyShowAndCheck: show prints the running policy byte for byte, for
// every role; check validates a file and names the offending field.
func TestPolicyShowAndCheck(t *testing.T) {
	p := startInProcess(t)
	live := p.ok("policy", "show")
	if out, _, code := p.cli("storefront", nil, "policy", "show"); code != exitOK || out != live {
		t.Errorf("storefront: exit %d", code)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(live), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(live, "[2500000, 10000000, 100000000, 400000000]", "[2500000, 10000000, 9000000, 400000000]", 1)), 0o644)
	out := p.ok("policy", "check", good)
	_, errs, code := p.cli("admin", nil, "policy", "check", bad)
	if code != exitRejected {
		t.Errorf("bad policy: exit %d", code)
	}
	errs = strings.ReplaceAll(errs, dir, "DIR")
	golden(t, "policy-check.txt", strings.ReplaceAll(out, dir, "DIR")+errs)
	if !strings.Contains(errs, "eras[1].tracks.mbs_usd_cents.thresholds[2]: must be greater than eras[1].tracks.mbs_usd_cents.thresholds[1] (10000000)") {
		t.Errorf("the error does not name the field: %s", errs)
	}
}

// TestExport: tiers and history as CSV and NDJSON, the same paged as in one
// page, and one row per partner.
func TestExport(t *testing.T) {
	p := startInProcess(t)
	whatIfStory(t, p)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"export-tiers.csv", []string{"export", "tiers", "--at", "2024-06-30", "--format", "csv"}},
		{"export-tiers.ndjson", []string{"export", "tiers", "--at", "2024-06-30T00:00:00Z", "--format", "ndjson"}},
		{"export-tiers-known.csv", []string{"export", "tiers", "--at", "2024-06-30", "--known-seq", "6"}},
		{"export-history.csv", []string{"export", "history", "--format", "csv"}},
		{"export-history.ndjson", []string{"export", "history", "--format", "ndjson"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := p.ok(c.args...)
			if paged := p.ok(append(c.args, "--limit", "1")...); paged != out {
				t.Errorf("paged export differs:\n%s\n%s", paged, out)
			}
			golden(t, c.name, out)
		})
	}
	if out := p.ok("export", "tiers", "--at", "2024-06-30"); strings.Count(out, "\n") != 5 {
		t.Errorf("want a header and 4 rows:\n%s", out)
	}
	if _, errs, code := p.cli("storefront", nil, "export", "tiers"); code != exitRejected || !strings.Contains(errs, "forbidden") {
		t.Errorf("storefront: exit %d %s", code, errs)
	}
}
