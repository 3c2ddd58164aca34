package metrics

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

func names(t *testing.T, m *Metrics) map[string]bool {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	return out
}

// TestLabelsBoundedAndUnfedHidden: a type the domain does not know is
// "other", never the text a client sent; the writer's and intake's metrics
// are exported only once enabled.
func TestLabelsBoundedAndUnfedHidden(t *testing.T) {
	m := New(func() (uint64, float64, error) { return 3, 1.5, nil })
	m.Appended(domain.TypeSaleBilled, 2)
	m.Appended("P-100's secret type", 1)
	m.Rejected(domain.CodeUnknownSale)
	got := names(t, m)
	for _, n := range []string{"ledger_events_appended_total", "ledger_submissions_rejected_total",
		"ledger_projection_lag_events", "ledger_projection_lag_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if !got[n] {
			t.Errorf("%s not exported", n)
		}
	}
	for _, n := range []string{"ledger_append_batch_events", "ledger_writer_queue_depth", "ledger_intake_queued_events"} {
		if got[n] {
			t.Errorf("%s exported before anything feeds it", n)
		}
	}
	mfs, _ := m.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ledger_events_appended_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if v := s.GetLabel()[0].GetValue(); v != domain.TypeSaleBilled && v != "other" {
				t.Errorf("unbounded type label %q", v)
			}
		}
	}
	m.EnableWriter()
	m.EnableWriter() // twice is harmless
	m.EnableIntake()
	m.AppendedBatch(10, time.Millisecond)
	m.WriterQueueDepth(4)
	m.IntakeQueued(7, time.Second)
	got = names(t, m)
	for _, n := range []string{"ledger_append_batch_events", "ledger_append_duration_seconds", "ledger_writer_queue_depth",
		"ledger_intake_queued_events", "ledger_intake_oldest_age_seconds"} {
		if !got[n] {
			t.Errorf("%s not exported once enabled", n)
		}
	}
}

// TestDashboardCoversEveryMetric: scripts/grafana-ledger.json is valid JSON
// with a panel query for every ledger metric.
func TestDashboardCoversEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../scripts/grafana-ledger.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	var exprs strings.Builder
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs.WriteString(tg.Expr + "\n")
		}
	}
	m := New(func() (uint64, float64, error) { return 0, 0, nil })
	m.EnableWriter()
	m.EnableIntake()
	m.Appended(domain.TypeSaleBilled, 1)
	m.Rejected(domain.CodeUnknownSale)
	m.Query("tier", time.Millisecond)
	m.Busy("tier")
	m.HTTPRequest("GET /v1/stats", 200)
	for n := range names(t, m) {
		if strings.HasPrefix(n, Namespace+"_") && !strings.Contains(exprs.String(), n) {
			t.Errorf("no panel shows %s", n)
		}
	}
}
