package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/dashboard"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/internal/scenario"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/nats-io/nats.go"
)

// chromiumPath is Debian's chromium (.ci/run installs it).
const chromiumPath = "/usr/bin/chromium"

// browserBudget bounds the whole browser session: a page that never draws
// fails the test instead of hanging it.
const browserBudget = 90 * time.Second

// The scenario and partner the browser test opens: a late fraud flag and a
// late cancellation rewrite P-100's past.
const (
	scenarioName = "01-ttm-fraud-and-cancellation"
	partnerID    = "P-100"
	viewAt       = "2024-06-30T00:00:00Z"
)

// findChromium returns the browser to drive, failing the test when there is
// none (CI installs it), except under -short.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if testing.Short() {
		t.Skip("no chromium (apt-get install -y chromium); skipped under -short")
	}
	t.Fatalf("the dashboard's browser test needs headless Chromium at %s: apt-get install -y chromium (.ci/run does)", chromiumPath)
	return ""
}

// corrections are the audit's correction events (fraud flags, clearances,
// cancellations, metric reports replacing an earlier one) known at known (0:
// all), by sequence.
func corrections(t *testing.T, audit ledger.AuditDoc, known uint64) []uint64 {
	t.Helper()
	var out []uint64
	metrics := map[string]bool{}
	for _, e := range audit.Events {
		if known > 0 && e.Seq > known {
			break
		}
		var env struct {
			Data struct {
				Metric string `json:"metric"`
				Period string `json:"period"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.Envelope, &env); err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case domain.TypeSaleFlaggedFraud, domain.TypeSaleFraudCleared, domain.TypePurchaseCancelled:
			out = append(out, e.Seq)
		case domain.TypeMetricReported:
			k := env.Data.Metric + "/" + env.Data.Period
			if metrics[k] {
				out = append(out, e.Seq)
			}
			metrics[k] = true
		}
	}
	return out
}

// docs are the RPC's documents the page must show.
type docs struct {
	tier     domain.TierDoc
	benefits domain.BenefitsDoc
	history  domain.HistoryDoc
	audit    ledger.AuditDoc
}

func query(t *testing.T, c *rpc.Client, partnerID string, known uint64) docs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d docs
	for _, q := range []struct {
		endpoint string
		q        ledger.Query
		out      any
	}{
		{rpc.EndpointTier, ledger.Query{PartnerID: partnerID, At: viewAt, KnownSeq: known}, &d.tier},
		{rpc.EndpointBenefits, ledger.Query{PartnerID: partnerID, At: viewAt, KnownSeq: known}, &d.benefits},
		{rpc.EndpointAudit, ledger.Query{PartnerID: partnerID}, &d.audit},
		{rpc.EndpointHistory, ledger.Query{PartnerID: partnerID, KnownSeq: known}, &d.history},
	} {
		b, err := c.Query(ctx, q.endpoint, q.q)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, q.out); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// drawn is what the page shows, read from the DOM.
type drawn struct {
	KnownSeq    uint64   `json:"known_seq"`
	Corrections []uint64 `json:"corrections"`
	Activations []struct {
		Seq    uint64 `json:"seq"`
		Status string `json:"status"`
	} `json:"activations"`
	Rank     int    `json:"rank"`
	Entitled int    `json:"entitled"`
	Sales    int    `json:"sales"`
	Slider   string `json:"slider"`
	Location string `json:"location"`
	Stored   string `json:"stored"`
}

const readDOM = `(() => {
  const q = (s) => [...document.querySelectorAll(s)];
  const chart = document.querySelector('[data-testid=tier-timeline]');
  return {
    known_seq: Number(chart.dataset.knownSeq),
    corrections: q('[data-testid=correction]').map((n) => Number(n.dataset.seq)),
    activations: q('[data-testid=activation]').map((n) => ({seq: Number(n.dataset.seq), status: n.dataset.status})),
    rank: Number(document.querySelector('[data-testid=tier]').dataset.rank),
    entitled: q('[data-testid=entitled-line]').length,
    sales: q('[data-testid=sale]').length,
    slider: document.querySelector('[data-testid=known-at]').value,
    location: location.href,
    stored: sessionStorage.getItem('ledger.token') || '',
  };
})()`

// check compares what is drawn with the RPC's documents and the audit.
func check(t *testing.T, label string, got drawn, want docs, known uint64) {
	t.Helper()
	audit := want.audit
	if got.KnownSeq != want.tier.KnownSeq {
		t.Errorf("%s: drawn as known at seq %d, the RPC's tier document %d", label, got.KnownSeq, want.tier.KnownSeq)
	}
	if w := corrections(t, audit, known); !slices.Equal(got.Corrections, w) {
		t.Errorf("%s: correction markers %v, the audit's correction events %v", label, got.Corrections, w)
	}
	for _, c := range want.history.Corrections { // every correction the history names is marked
		if !slices.Contains(got.Corrections, c.Seq) {
			t.Errorf("%s: the history's correction seq %d is not marked (markers %v)", label, c.Seq, got.Corrections)
		}
	}
	if len(got.Activations) != len(want.benefits.Activations) {
		t.Errorf("%s: %d activation rows, the benefits document has %d", label, len(got.Activations), len(want.benefits.Activations))
	} else {
		for i, a := range want.benefits.Activations {
			if got.Activations[i].Seq != a.Seq || got.Activations[i].Status != a.Status {
				t.Errorf("%s: activation row %d: seq %d %s, want seq %d %s", label, i, got.Activations[i].Seq, got.Activations[i].Status, a.Seq, a.Status)
			}
		}
	}
	if got.Rank != want.tier.Tier.Rank {
		t.Errorf("%s: tier rank %d shown, the tier document says %d", label, got.Rank, want.tier.Tier.Rank)
	}
	if got.Entitled != len(want.benefits.Entitled) {
		t.Errorf("%s: %d entitled lines shown, the benefits document has %d", label, got.Entitled, len(want.benefits.Entitled))
	}
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// a real ledger holding scenario 01: sign in through a link, open P-100,
// check the timeline's correction markers, the activation rows and the
// tier against the RPC's documents, move the as-known-at control back before
// the late fraud flag and check that the view is redrawn as the ledger knew
// it then; then the attention list and a what-if upload. Screenshots go to
// testdata/ (the README shows them).
func TestDashboardInBrowser(t *testing.T) {
	browser := findChromium(t)

	// A real ledger: embedded NATS, JetStream, bbolt, the HTTP listener.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := app.Start(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), string(auth.Admin))))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client := rpc.NewClient(nc)
	// Every scenario into the one ledger (their partners, offers and sales
	// are distinct), the one with the late corrections first.
	scs := scenario.All(t)
	slices.SortStableFunc(scs, func(a, b scenario.Scenario) int {
		return cmpBool(b.Name == scenarioName, a.Name == scenarioName)
	})
	if scs[0].Name != scenarioName {
		t.Fatalf("scenario %s not found", scenarioName)
	}
	var others []string // the other scenarios' partners
	for _, sc := range scs {
		if _, err := client.Submit(ctx, sc.Lines); err != nil {
			t.Fatal(err)
		}
		for _, c := range sc.Expect.Checks {
			if c.PartnerID != partnerID && !slices.Contains(others, c.PartnerID) {
				others = append(others, c.PartnerID)
			}
		}
	}
	tokenBytes, err := os.ReadFile(auth.TokenFile(app.CredentialsDir(l.DataDir()), auth.Auditor))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))

	now := query(t, client, partnerID, 0)
	audit := now.audit
	if len(corrections(t, audit, 0)) == 0 || len(now.benefits.Activations) == 0 {
		t.Fatalf("scenario %s no longer has corrections and activations for %s: pick another partner", scenarioName, partnerID)
	}
	// Knowledge just before the first correction: the event before it.
	first := corrections(t, audit, 0)[0]
	var before uint64
	beforeIdx := 0
	for i, e := range audit.Events {
		if e.Seq < first {
			before, beforeIdx = e.Seq, i+1
		}
	}
	then := query(t, client, partnerID, before)
	if then.tier.Tier.Rank == now.tier.Tier.Rank {
		t.Fatalf("the tier at %s is %d both before and after the corrections: the test would show nothing", viewAt, now.tier.Tier.Rank)
	}

	// The page itself: served without a token, with a CSP that names no other origin.
	resp, err := http.Get(l.HTTPURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || csp != dashboard.ContentSecurityPolicy {
		t.Fatalf("GET /: %d, CSP %q", resp.StatusCode, csp)
	}

	// The browser: headless, no network beyond the ledger, a fresh profile.
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	var mu sync.Mutex
	var console []string // uncaught exceptions of the page
	exceptions := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(console) }
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			console = append(console, msg)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(bctx, browserBudget)
	defer tcancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v (page exceptions: %v)", what, err, exceptions())
		}
	}
	waitKnown := func(seq uint64) {
		t.Helper()
		run(fmt.Sprintf("waiting for the view as known at seq %d", seq), chromedp.Poll[chromedp.Void](
			fmt.Sprintf(`(() => { const c = document.querySelector('[data-testid=tier-timeline]'); return c && c.dataset.knownSeq === '%d' && document.getElementById('busy').textContent === ''; })()`, seq),
			chromedp.WithPollingTimeout(30*time.Second)))
	}
	read := func() drawn {
		t.Helper()
		d, err := chromedp.Run(tctx, chromedp.Evaluate[drawn](readDOM))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return d
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in through a link: the token leaves the address bar at once.
	run("opening the link", chromedp.Navigate(l.HTTPURL()+"/#token="+token+"&partner="+partnerID+"&at="+viewAt))
	waitKnown(now.tier.KnownSeq)
	got := read()
	if strings.Contains(got.Location, token) || strings.Contains(got.Location, "token=") {
		t.Errorf("the token stayed in the address bar: %s", got.Location)
	}
	if got.Stored != token {
		t.Errorf("the token is not in sessionStorage")
	}
	check(t, "now", got, now, 0)
	if got.Sales == 0 {
		t.Errorf("no sales drawn")
	}
	// A correction's before → after, by keyboard.
	run("opening a correction with the keyboard", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid=correction][data-seq="%d"]').focus()`, first)),
		chromedp.KeyEvent(kb.Enter))
	detail, err := chromedp.Run(tctx, chromedp.TextContent(chromedp.CSS("#detail")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "→") || !strings.Contains(detail, fmt.Sprintf("seq %d", first)) {
		t.Errorf("the correction's detail does not say what it changed: %q", detail)
	}
	shot("dashboard-partner.png")

	// As known at: back to just before the first correction, with the keyboard.
	steps := len(audit.Events) - beforeIdx
	run("focusing the as-known-at control", chromedp.Focus(chromedp.CSS("[data-testid=known-at]")))
	for range steps {
		run("pressing ←", chromedp.KeyEvent(kb.ArrowLeft))
	}
	waitKnown(then.tier.KnownSeq)
	got = read()
	check(t, fmt.Sprintf("known at seq %d", before), got, then, before)
	if len(got.Corrections) != 0 {
		t.Errorf("before the first correction the page still marks corrections %v", got.Corrections)
	}
	if got.Slider != fmt.Sprint(beforeIdx) {
		t.Errorf("the control shows position %s, want %d", got.Slider, beforeIdx)
	}
	shot("dashboard-known-before-fraud.png")

	// The other scenarios' partners, opened by typing their id.
	for _, p := range others {
		want := query(t, client, p, 0)
		run("opening "+p, chromedp.SetValue(chromedp.CSS("#partner"), p), chromedp.Click(chromedp.CSS("#partner-form button[type=submit]")),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const c = document.querySelector('[data-testid=tier-timeline]'); return c && c.dataset.partner === '%s' && document.getElementById('busy').textContent === ''; })()`, p),
				chromedp.WithPollingTimeout(30*time.Second)))
		check(t, p, read(), want, 0)
		shot("dashboard-" + p + ".png")
	}

	// A link with known_at: the knowledge of a recorded instant (the first
	// event of another scenario's partner), as the RPC answers it.
	if len(others) > 0 {
		other := query(t, client, others[0], 0)
		knownAt := other.audit.Events[0].Recorded
		b, err := client.Query(ctx, rpc.EndpointTier, ledger.Query{PartnerID: partnerID, At: viewAt, KnownAt: knownAt})
		if err != nil {
			t.Fatal(err)
		}
		var tier domain.TierDoc
		if err := json.Unmarshal(b, &tier); err != nil {
			t.Fatal(err)
		}
		run("opening a known_at link", chromedp.Navigate(l.HTTPURL()+"/#partner="+partnerID+"&at="+viewAt+"&known_at="+knownAt))
		waitKnown(tier.KnownSeq)
		if got := read(); got.Rank != tier.Tier.Rank {
			t.Errorf("known_at %s: tier rank %d shown, the RPC says %d", knownAt, got.Rank, tier.Tier.Rank)
		}
	}

	// The attention list.
	run("opening the attention list", chromedp.Click(chromedp.CSS(`.tab[data-view=attention]`)),
		chromedp.SetValue(chromedp.CSS("#att-at"), "2024-07-30"), chromedp.Click(chromedp.CSS("#attention-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.getElementById('attention-note').textContent.includes('2024-07-30')`, chromedp.WithPollingTimeout(30*time.Second)))
	b, err := client.Query(ctx, rpc.EndpointAttention, ledger.Query{At: "2024-07-30T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	var att ledger.AttentionDoc
	if err := json.Unmarshal(b, &att); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=attention-item]').length`))
	if err != nil || n != len(att.Items) {
		t.Errorf("attention rows %d (%v), the report has %d", n, err, len(att.Items))
	}
	shot("dashboard-attention.png")

	// What-if: upload a policy with tier-1 at $15,000 and see who changes.
	pb, err := client.Call(ctx, rpc.EndpointPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	lower := strings.ReplaceAll(string(pb), "[2500000, 10000000,", "[1500000, 10000000,")
	if lower == string(pb) {
		t.Fatal("the default policy's thresholds moved: update the what-if edit")
	}
	file := filepath.Join(t.TempDir(), "lower.json")
	if err := os.WriteFile(file, []byte(lower), 0o600); err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(ledger.WhatIfRequest{PolicyFile: lower, At: viewAt})
	b, err = client.Call(ctx, rpc.EndpointWhatIf, req)
	if err != nil {
		t.Fatal(err)
	}
	var wi ledger.WhatIfDoc
	if err := json.Unmarshal(b, &wi); err != nil {
		t.Fatal(err)
	}
	run("running a what-if", chromedp.Click(chromedp.CSS(`.tab[data-view=whatif]`)),
		chromedp.SetUploadFiles(chromedp.CSS("#wi-file"), []string{file}),
		chromedp.SetValue(chromedp.CSS("#wi-at"), "2024-06-30"), chromedp.Click(chromedp.CSS("#whatif-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.getElementById('whatif-note').textContent.includes('examined') || document.getElementById('whatif-error').textContent`, chromedp.WithPollingTimeout(30*time.Second)))
	n, err = chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=whatif-change]').length`))
	if err != nil || n != len(wi.Changes) || n == 0 {
		msg, _ := chromedp.Run(tctx, chromedp.TextContent(chromedp.CSS("#whatif-error")))
		t.Errorf("what-if rows %d (%v %s), the RPC's document has %d changes", n, err, msg, len(wi.Changes))
	}
	shot("dashboard-whatif.png")

	// Sign out, and in again through the form.
	run("signing out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	if st, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`sessionStorage.getItem('ledger.token') || ''`)); st != "" {
		t.Errorf("the token stayed in sessionStorage after signing out")
	}
	run("signing in with the form", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#tabs")))
	if v, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.dataset.cspViolations || '0'`)); err != nil || v != "0" {
		t.Errorf("Content-Security-Policy violations: %s (%v)", v, err)
	}
	if ex := exceptions(); len(ex) > 0 {
		t.Errorf("page exceptions: %v", ex)
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
