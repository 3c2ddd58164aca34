package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// line renders one input envelope.
func line(id, typ string, t time.Time, data map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test/app", "type": typ,
		"time": t.UTC().Format(time.RFC3339), "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

var t0 = time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)

func offerLine(partner, offer string) []byte {
	return line("pub-"+offer, domain.TypeOfferPublished, t0, map[string]any{"offer_id": offer, "partner_id": partner,
		"publisher_id": "PUB", "listing_type": "transact", "storefront": "appsource"})
}

func saleLine(id, offer string, cents int64, at time.Time) []byte {
	return line("sale-"+id, domain.TypeSaleBilled, at, map[string]any{"sale_id": id, "offer_id": offer, "customer_id": "C", "amount_usd_cents": cents})
}

func start(t *testing.T, cfg Config) *Ledger {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.NATSURL == "" && cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func submit(t *testing.T, w *ledger.Writer, lines ...[]byte) []ledger.LineResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := w.Submit(ctx, lines)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func mustAccept(t *testing.T, rs []ledger.LineResult) {
	t.Helper()
	for _, r := range rs {
		if !r.OK {
			t.Fatalf("line %d rejected: %s %s", r.Line, r.Code, r.Error)
		}
	}
}

// TestTwoWritersNeverBothWin runs two ledgers on one stream — two replicas,
// each with its own writer and read models — and has both decide
// conflicting inputs for the same partners at the same moment. The
// per-partner expected-sequence check must let exactly one win each time.
func TestTwoWritersNeverBothWin(t *testing.T) {
	a := start(t, Config{})
	b := start(t, Config{NATSURL: a.ClientURL(), NATSOpts: []nats.Option{credsOf(a, "ledger")}})
	const partners = 15
	var setup [][]byte
	for i := range partners {
		setup = append(setup, offerLine(fmt.Sprintf("P-%d", i), fmt.Sprintf("O-%d", i)))
	}
	mustAccept(t, submit(t, a.Writer(), setup...))
	for i := range partners {
		p, o := fmt.Sprintf("P-%d", i), fmt.Sprintf("O-%d", i)
		enrol := func(who string) []byte {
			return line("enrol-"+p+"-"+who, domain.TypePartnerEnrolled, t0.Add(time.Hour), map[string]any{"partner_id": p,
				"name": "Name " + who, "account_email": who + "@example.com"})
		}
		sale := func(who string, cents int64) []byte {
			return line("sale-"+p+"-"+who, domain.TypeSaleBilled, t0.Add(2*time.Hour), map[string]any{"sale_id": "S-" + p,
				"offer_id": o, "customer_id": "C", "amount_usd_cents": cents})
		}
		var wg sync.WaitGroup
		var ra, rb []ledger.LineResult
		wg.Add(2)
		go func() { defer wg.Done(); ra = submit(t, a.Writer(), enrol("a"), sale("a", 100)) }()
		go func() { defer wg.Done(); rb = submit(t, b.Writer(), enrol("b"), sale("b", 200)) }()
		wg.Wait()
		for k, want := range []domain.Code{domain.CodeAlreadyEnrolled, domain.CodeDuplicateConflict} {
			winners := 0
			for _, r := range []ledger.LineResult{ra[k], rb[k]} {
				switch {
				case r.OK && !r.Duplicate:
					winners++
				case r.Code != want:
					t.Errorf("%s line %d: loser got %q (%s), want %s", p, k+1, r.Code, r.Error, want)
				}
			}
			if winners != 1 {
				t.Errorf("%s line %d: %d writers won (a: %+v, b: %+v)", p, k+1, winners, ra[k], rb[k])
			}
		}
	}
	// Both replicas' read models converge on the same facts.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last, _ := a.EventStore().LastSeq(ctx)
	if err := a.Projector().WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	if err := b.Projector().WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	da, _ := a.Models().Digest()
	db, _ := b.Models().Digest()
	if da.Sum != db.Sum {
		t.Errorf("replicas' read models differ: %s vs %s", da.Sum, db.Sum)
	}
	// Each writer chained its events on the other's: the chain holds.
	checkChain(t, a.EventStore())
}

// TestRetryAfterRestartIsDuplicate: the same input retried after a restart is
// a duplicate with its original sequence, never a second sale.
func TestRetryAfterRestartIsDuplicate(t *testing.T) {
	dir := t.TempDir()
	lines := [][]byte{offerLine("P-1", "O-1")}
	for i := range 20 {
		lines = append(lines, saleLine(fmt.Sprintf("S-%d", i), "O-1", 1000+int64(i), t0.Add(time.Duration(i)*time.Hour)))
	}
	l := start(t, Config{DataDir: dir})
	first := submit(t, l.Writer(), lines...)
	mustAccept(t, first)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = start(t, Config{DataDir: dir})
	again := submit(t, l.Writer(), lines...)
	for i, r := range again {
		if !r.OK || !r.Duplicate || r.Seq != first[i].Seq {
			t.Errorf("line %d after restart: %+v, want duplicate of seq %d", i+1, r, first[i].Seq)
		}
	}
	st, err := l.Models().Stats()
	if err != nil || st.Events != uint64(len(lines)) {
		t.Errorf("after retry: %d events recorded (%v), want %d", st.Events, err, len(lines))
	}
	checkChain(t, l.EventStore())
}

// TestStopMidSubmitLosesNothing stops the ledger while a client is
// submitting; after a restart every acknowledged line is recorded with the
// sequence it was acknowledged with, and the read models equal a clean
// rebuild of the log.
func TestStopMidSubmitLosesNothing(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	nc, err := nats.Connect(l.ClientURL(), credsOf(l, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client := rpc.NewClient(nc)
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	acked := map[string]uint64{}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for batch := 0; batch < 200; batch++ {
			var lines [][]byte
			for i := range 100 {
				lines = append(lines, saleLine(fmt.Sprintf("S-%d-%d", batch, i), "O-1", 100, t0.Add(time.Duration(batch*100+i)*time.Minute)))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rs, err := client.Submit(ctx, lines)
			cancel()
			if err != nil {
				return // the ledger stopped: these lines were not acknowledged
			}
			mu.Lock()
			for _, r := range rs {
				if r.OK {
					acked[r.ID] = r.Seq
				}
			}
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	l.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the stop; the test proves nothing")
	}
	l = start(t, Config{DataDir: dir})
	dirx := l.Models().Directory()
	for id, seq := range acked {
		if got, _, ok := dirx.Envelope(id); !ok || got != seq {
			t.Fatalf("acknowledged %s at seq %d, after restart: %d %v", id, seq, got, ok)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rebuilt, err := ledger.Rebuild(ctx, l.EventStore(), filepath.Join(t.TempDir(), "rebuilt.db"), ledger.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live, _ := l.Models().Digest()
	if live.Sum != rebuilt.Sum || live.Checkpoint != rebuilt.Checkpoint {
		t.Errorf("live read models %+v differ from a clean rebuild %+v", live.Checkpoint, rebuilt.Checkpoint)
	}
	t.Logf("%d lines acknowledged before the stop, all recorded once", len(acked))
}

// skipShort skips a slow test in the fast lane, `go test -short`; CI runs
// everything.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow test: not in -short")
	}
}
