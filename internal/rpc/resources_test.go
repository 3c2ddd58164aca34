package rpc_test

// The service's resources under attack, against real ledgers: a flood of
// slow requests over the per-connection or per-endpoint limits is answered
// busy at once while another connection's normal query still answers, and
// a reply over the NATS server's max payload answers reply_too_large
// instead of being dropped (the caller timed out).

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

func startLedgerWith(t *testing.T, cfg app.Config) *app.Ledger {
	t.Helper()
	cfg.DataDir, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestFloodIsBusy floods one endpoint from one connection with requests
// that each hold a worker (a tier query waiting for a sequence the read
// models have not folded: the projector is paused). The requests over the limit are answered busy at once, not
// queued; a normal query from another connection still answers.
func TestFloodIsBusy(t *testing.T) {
	const flood = 40
	pad := bytes.Repeat([]byte(" "), 1<<20) // whitespace after the JSON object: still a valid query
	tests := []struct {
		name   string
		limits rpc.Limits
		pad    []byte
		other  string // the other connection's endpoint
		want   string // what the busy message names
	}{
		{"per connection", rpc.Limits{PerClient: 4}, nil, rpc.EndpointTier, "this connection has"},
		{"per connection bytes", rpc.Limits{PerClientBytes: 4 << 20}, pad, rpc.EndpointTier, "request bytes pending"},
		{"per endpoint", rpc.Limits{PerEndpoint: 4}, nil, rpc.EndpointBenefits, "ledger.tier holds"},
		{"total bytes", rpc.Limits{TotalBytes: 4 << 20, PerClientBytes: 64 << 20}, pad, rpc.EndpointStats, "the ledger holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLedgerWith(t, app.Config{RPCOptions: []rpc.Option{rpc.WithLimits(tt.limits)}})
			if _, err := l.Writer().Submit(ctxT(t), [][]byte{offer("O-1", 0)}); err != nil {
				t.Fatal(err)
			}
			a, b := adminClient(t, l), adminClient(t, l)
			// A sequence recorded but not folded: each request waits for it.
			resume := l.PauseProjector()
			if _, err := l.Writer().Submit(ctxT(t), [][]byte{offer("O-2", 0)}); err != nil {
				t.Fatal(err)
			}
			slow := fmt.Appendf(nil, `{"partner_id":"P-1","min_seq":%d}`, recorded(t, l))
			slow = append(slow, tt.pad...)

			var wg sync.WaitGroup
			errs := make(chan error, flood)
			for range flood {
				wg.Go(func() {
					_, err := a.Call(ctxT(t), rpc.EndpointTier, slow)
					errs <- err
				})
			}
			// The busy answers come at once; wait for the first.
			var busy []error
			for len(busy) == 0 {
				err := <-errs
				if domain.CodeOf(err) == domain.CodeBusy {
					busy = append(busy, err)
				}
			}
			if !strings.Contains(busy[0].Error(), tt.want) {
				t.Errorf("busy names %q, want it to name %q", busy[0], tt.want)
			}
			// Another connection's normal query answers, busy or not.
			body := []byte(`{"partner_id":"P-1"}`)
			if tt.other == rpc.EndpointStats {
				body = nil
			}
			if _, err := b.Call(ctxT(t), tt.other, body); err != nil && (domain.CodeOf(err) == domain.CodeBusy || domain.CodeOf(err) == "") {
				t.Fatalf("other connection's %s: %v, want an answer", tt.other, err)
			}
			// Release the parked requests: fold the sequence they wait for.
			resume()
			wg.Wait()
			close(errs)
			for err := range errs {
				switch domain.CodeOf(err) {
				case domain.CodeBusy:
					busy = append(busy, err)
				case "": // answered: a parked one released
					if err != nil {
						t.Errorf("flood request: %v (no answer)", err)
					}
				case domain.CodeProjectionBehind: // answered: a parked one waited out
				default:
					t.Errorf("flood request: %v", err)
				}
			}
			t.Logf("%d of %d flood requests answered busy: %v", len(busy), flood, busy[0])
		})
	}
}

// TestReplyTooLarge: a reply over the server's max payload (lowered here to
// 64 KiB; 8 MiB in service) is answered with a small reply_too_large, never
// dropped; the next request is served as usual.
func TestReplyTooLarge(t *testing.T) {
	const maxPayload = 64 << 10
	l := startLedgerWith(t, app.Config{MaxPayload: maxPayload})
	var lines [][]byte
	for i := range 200 { // about 180 KiB of audit trail for P-1
		lines = append(lines, offer(fmt.Sprintf("O-%d", i), 0))
	}
	rs, err := l.Writer().Submit(ctxT(t), lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.OK {
			t.Fatalf("line %d: %s %s", r.Line, r.Code, r.Error)
		}
	}
	c := adminClient(t, l)
	_, err = c.Query(ctxT(t), rpc.EndpointAudit, ledger.Query{PartnerID: "P-1"})
	wantCode(t, "audit of 200 events over a 64 KiB max payload", err, domain.CodeReplyTooLarge)
	if _, err := c.Query(ctxT(t), rpc.EndpointStats, ledger.Query{}); err != nil {
		t.Fatalf("stats after reply_too_large: %v", err)
	}
}
