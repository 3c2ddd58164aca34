package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/httpapi"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/internal/scenario"
	dto "github.com/prometheus/client_model/go"
)

// httpLedger runs a scenario over HTTP: every line its own binary-mode
// POST /v1/events, the checks GET /v1/partners/{id}/tier|benefits.
type httpLedger struct {
	t     *testing.T
	l     *app.Ledger
	token string
	got   []ledger.LineResult
}

func (h *httpLedger) Submit(lines [][]byte) ([]scenario.LineResult, error) {
	var out []scenario.LineResult
	for i, line := range lines {
		hdr, body := binary(h.t, line)
		status, b := do(h.t, h.l, request{method: "POST", path: "/v1/events", token: h.token, header: hdr, body: body})
		if status != http.StatusOK {
			return nil, fmt.Errorf("line %d: status %d: %s", i+1, status, b)
		}
		rs := results(h.t, b)
		if len(rs) != 1 || rs[0].Line != 1 {
			return nil, fmt.Errorf("line %d: want one result for line 1, got %s", i+1, b)
		}
		rs[0].Line = i + 1
		h.got = append(h.got, rs[0])
		out = append(out, scenario.LineResult{OK: rs[0].OK, Seq: rs[0].Seq, Duplicate: rs[0].Duplicate, Code: string(rs[0].Code)})
	}
	return out, nil
}

func (h *httpLedger) Query(kind, partner, at string, known uint64) ([]byte, error) {
	path := "/v1/partners/" + url.PathEscape(partner) + "/" + kind + "?at=" + url.QueryEscape(at)
	if known > 0 {
		path += q("&known_seq=%d", known)
	}
	status, b := do(h.t, h.l, request{method: "GET", path: path, token: h.token})
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", path, status, b)
	}
	return b, nil
}

// TestScenariosOverHTTPMatchRPC submits every scenario over HTTP in binary
// mode to one ledger and over the RPC to another: the scenario passes over
// HTTP, every line's result equals the RPC's, every check's document over
// HTTP is byte-equal to the RPC's answer (on both ledgers), as are the
// partners' history and audit, the attention report and the stats; and the
// metrics count exactly what was appended, by type, and rejected, by code.
func TestScenariosOverHTTPMatchRPC(t *testing.T) {
	for _, sc := range scenario.All(t) {
		t.Run(sc.Name, func(t *testing.T) {
			a := startHTTP(t)
			b := startLedger(t, "", "", httpapi.Settings{})
			ca, cb := rpcClient(t, a), rpcClient(t, b)
			h := &httpLedger{t: t, l: a, token: token(t, a, auth.Admin)}
			problems, err := scenario.Run(sc, h)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Error(p)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			viaRPC, err := cb.Submit(ctx, sc.Lines)
			if err != nil {
				t.Fatal(err)
			}
			for i := range viaRPC {
				if g, w := mustJSON(h.got[i]), mustJSON(viaRPC[i]); g != w {
					t.Errorf("line %d: HTTP %s, RPC %s", i+1, g, w)
				}
			}

			// Every check's query, and every partner's history and audit.
			type call struct {
				endpoint, path string
				q              ledger.Query
			}
			var calls []call
			partners := map[string]bool{}
			for _, c := range sc.Expect.Checks {
				var known uint64
				if c.KnownLine > 0 {
					known = viaRPC[c.KnownLine-1].Seq
				}
				path := "/v1/partners/" + c.PartnerID + "/" + c.Query + "?at=" + url.QueryEscape(c.At)
				if known > 0 {
					path += q("&known_seq=%d", known)
				}
				calls = append(calls, call{c.Query, path, ledger.Query{PartnerID: c.PartnerID, At: c.At, KnownSeq: known}})
				partners[c.PartnerID] = true
			}
			for p := range partners {
				calls = append(calls,
					call{rpc.EndpointHistory, "/v1/partners/" + p + "/history", ledger.Query{PartnerID: p}},
					call{rpc.EndpointAudit, "/v1/partners/" + p + "/audit", ledger.Query{PartnerID: p}})
			}
			if len(sc.Expect.Checks) > 0 {
				at := sc.Expect.Checks[0].At
				calls = append(calls, call{rpc.EndpointAttention, "/v1/attention?at=" + url.QueryEscape(at), ledger.Query{At: at}})
			}
			for _, c := range calls {
				status, viaHTTP := do(t, a, request{method: "GET", path: c.path, token: h.token})
				if status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", c.path, status, viaHTTP)
				}
				same, err := ca.Query(ctx, c.endpoint, c.q)
				if err != nil {
					t.Fatal(err)
				}
				if string(viaHTTP) != string(same) {
					t.Errorf("GET %s differs from the RPC on the same ledger:\nHTTP %s\nRPC  %s", c.path, viaHTTP, same)
				}
				if c.endpoint == rpc.EndpointAudit {
					continue // the other ledger stored its events at other instants
				}
				other, err := cb.Query(ctx, c.endpoint, c.q)
				if err != nil {
					t.Fatal(err)
				}
				if string(viaHTTP) != string(other) {
					t.Errorf("GET %s differs from the RPC on the ledger fed by the RPC:\nHTTP %s\nRPC  %s", c.path, viaHTTP, other)
				}
			}
			status, stats := do(t, a, request{method: "GET", path: "/v1/stats", token: h.token})
			rpcStats, err := ca.Query(ctx, rpc.EndpointStats, ledger.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusOK || string(stats) != string(rpcStats) {
				t.Errorf("GET /v1/stats: %d %s, RPC %s", status, stats, rpcStats)
			}

			// The metrics count what happened.
			wantAppended, wantRejected := map[string]float64{}, map[string]float64{}
			for i, r := range viaRPC {
				switch {
				case !r.OK:
					wantRejected[string(r.Code)]++
				case !r.Duplicate:
					var env struct{ Type string }
					json.Unmarshal(sc.Lines[i], &env)
					wantAppended[env.Type]++
				}
			}
			checkCounter(t, a, "ledger_events_appended_total", "type", wantAppended)
			checkCounter(t, a, "ledger_submissions_rejected_total", "code", wantRejected)
			status, text := do(t, a, request{method: "GET", path: "/metrics"})
			if status != http.StatusOK {
				t.Fatalf("/metrics: %d", status)
			}
			for typ, n := range wantAppended {
				if want := q("ledger_events_appended_total{type=%q} %g\n", typ, n); !strings.Contains(string(text), want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
			want := q("ledger_http_requests_total{code=\"200\",route=\"POST /v1/events\"} %d\n", len(sc.Lines))
			if !strings.Contains(string(text), want) {
				t.Errorf("/metrics lacks %q", want)
			}
			for _, name := range []string{"ledger_projection_lag_events 0", "ledger_projection_lag_seconds 0",
				`ledger_query_duration_seconds_count{endpoint="submit"}`, "go_goroutines", "process_cpu_seconds_total"} {
				if !strings.Contains(string(text), name) {
					t.Errorf("/metrics lacks %s", name)
				}
			}
			if strings.Contains(string(text), "P-") {
				t.Errorf("/metrics carries a partner id")
			}
		})
	}
}

// checkCounter compares a counter vector of the ledger's registry with want
// (label value → count), exactly: no series more, none less.
func checkCounter(t *testing.T, l *app.Ledger, name, label string, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for _, mf := range gather(t, l) {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[labelOf(m, label)] = m.GetCounter().GetValue()
		}
	}
	if mustJSON(got) != mustJSON(want) {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
}

func gather(t *testing.T, l *app.Ledger) []*dto.MetricFamily {
	t.Helper()
	mfs, err := l.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// counterValue is one series of a counter vector (0 when absent).
func counterValue(t *testing.T, l *app.Ledger, name, label, value string) float64 {
	t.Helper()
	for _, mf := range gather(t, l) {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				if labelOf(m, label) == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var _ = domain.CodeInvalidJSON
