package app

import (
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// TestMetricsCountNATSSubmissions: lines submitted over NATS are counted
// exactly — appended by type, rejected by code, duplicates neither — and
// every confirmed append is one observation of the batch histograms (the
// writer feeds them, whatever the path).
func TestMetricsCountNATSSubmissions(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	st := story("P-1")
	want := map[string]float64{}
	for _, s := range st[:6] {
		want[s.typ]++
	}
	var lines [][]byte
	for _, s := range st[:6] {
		lines = append(lines, s.line)
	}
	lines = append(lines, saleLine("S-X", "NO-SUCH-OFFER", 100, t0), st[0].line /* a duplicate */, []byte("{"))
	rs, err := rpcSubmit(admin, lines...)
	if err != nil {
		t.Fatal(err)
	}
	if rs[6].OK || rs[6].Code != domain.CodeUnknownOffer || !rs[7].Duplicate || rs[8].Code != domain.CodeInvalidJSON {
		t.Fatalf("results: %+v", rs)
	}
	if _, err := admin.Request("ledger.tier", []byte(`{"partner_id":"P-1"}`), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fams, err := l.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	var batches uint64
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			label := ""
			for _, lp := range m.GetLabel() {
				label = lp.GetValue()
			}
			if got[f.GetName()] == nil {
				got[f.GetName()] = map[string]float64{}
			}
			if c := m.GetCounter(); c != nil {
				got[f.GetName()][label] = c.GetValue()
			}
			if h := m.GetHistogram(); h != nil && f.GetName() == "ledger_append_batch_events" {
				batches = h.GetSampleCount()
			}
			if h := m.GetHistogram(); h != nil && f.GetName() == "ledger_query_duration_seconds" {
				got[f.GetName()][label] = float64(h.GetSampleCount())
			}
		}
	}
	for typ, n := range want {
		if got["ledger_events_appended_total"][typ] != n {
			t.Errorf("appended %s: %v, want %v (all: %v)", typ, got["ledger_events_appended_total"][typ], n, got["ledger_events_appended_total"])
		}
	}
	rej := got["ledger_submissions_rejected_total"]
	if rej[string(domain.CodeUnknownOffer)] != 1 || rej[string(domain.CodeInvalidJSON)] != 1 || len(rej) != 2 {
		t.Errorf("rejected: %v, want one unknown_offer and one invalid_json", rej)
	}
	if q := got["ledger_query_duration_seconds"]; q["submit"] != 1 || q["tier"] != 1 {
		t.Errorf("requests observed over NATS: %v, want one submit and one tier", q)
	}
	if batches != 1 {
		t.Errorf("append batches observed: %d, want 1 (one request, one atomic append)", batches)
	}
}

// TestIntakeGauges: the intake's queued count and oldest age are exported,
// read from the intake at scrape time.
func TestIntakeGauges(t *testing.T) {
	l := start(t, Config{})
	fams, err := l.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		seen[f.GetName()] = true
		if f.GetName() == "ledger_intake_queued_events" && f.GetMetric()[0].GetGauge().GetValue() != 0 {
			t.Errorf("queued on an empty intake: %v", f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	for _, n := range []string{"ledger_intake_queued_events", "ledger_intake_oldest_age_seconds"} {
		if !seen[n] {
			t.Errorf("%s not exported", n)
		}
	}
}
