package rpc_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/micro"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// TestServiceStatsAreHonest reads $SRV.STATS.ledger with a plain NATS
// client, as `nats micro stats ledger` does, after known error replies and
// a known-slow request: the endpoint counts every request and every error
// reply, and its processing time includes the slow request's wait. (The
// handlers hand requests to a worker pool; upstream micro counted them when
// the hand-off returned: a 1.7 s verify showed as 7 µs, six errors as 0.)
func TestServiceStatsAreHonest(t *testing.T) {
	l := startLedgerWith(t, app.Config{})
	if _, err := l.Writer().Submit(ctxT(t), [][]byte{offer("O-1", 0)}); err != nil {
		t.Fatal(err)
	}
	c := adminClient(t, l)
	const bad = 5
	for i := range bad {
		_, err := c.Call(ctxT(t), rpc.EndpointTier, fmt.Appendf(nil, `{"partner_id":"P-1","at":"not a time %d"}`, i))
		if domain.CodeOf(err) != domain.CodeInvalidField {
			t.Fatalf("bad request %d: %v", i, err)
		}
	}
	if _, err := c.Call(ctxT(t), rpc.EndpointTier, []byte(`{"partner_id":"P-1"}`)); err != nil {
		t.Fatal(err)
	}
	// A slow one: a sequence recorded but not folded is waited for (2 s)
	// and answered projection_behind.
	resume := l.PauseProjector()
	if _, err := l.Writer().Submit(ctxT(t), [][]byte{offer("O-2", 0)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Call(ctxT(t), rpc.EndpointTier, fmt.Appendf(nil, `{"partner_id":"P-1","min_seq":%d}`, recorded(t, l)))
	resume()
	if domain.CodeOf(err) != domain.CodeProjectionBehind {
		t.Fatalf("slow request: %v, want projection_behind", err)
	}

	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), "auditor")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("$SRV.STATS."+rpc.ServiceName, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var st micro.Stats
	if err := json.Unmarshal(m.Data, &st); err != nil {
		t.Fatal(err)
	}
	var tier *micro.EndpointStats
	for _, e := range st.Endpoints {
		if e.Subject == rpc.Subject(rpc.EndpointTier) {
			tier = e
		}
	}
	if tier == nil {
		t.Fatalf("no tier endpoint in %s", m.Data)
	}
	if tier.NumRequests != bad+2 || tier.NumErrors != bad+1 {
		t.Errorf("tier: %d requests, %d errors; want %d and %d", tier.NumRequests, tier.NumErrors, bad+2, bad+1)
	}
	// The server waited freshnessWait (2 s) on the slow one before answering.
	if tier.ProcessingTime < 2*time.Second || tier.LastError == "" {
		t.Errorf("tier: processing time %s, last error %q: the slow request's wait is not counted", tier.ProcessingTime, tier.LastError)
	}
}
