package eventstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// delivery is one call of Follow's callback.
type delivery struct {
	seqs    []uint64
	pending uint64
}

// follower runs Follow in the background and records what it delivers.
type follower struct {
	ch     chan delivery
	done   chan struct{} // closed when Follow has returned err
	err    error
	cancel context.CancelFunc
}

func startFollow(t *testing.T, s *Store, from uint64) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{ch: make(chan delivery, 10000), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		f.err = s.Follow(ctx, from, func(batch []Record, pending uint64) error {
			d := delivery{pending: pending}
			for _, r := range batch {
				d.seqs = append(d.seqs, r.Seq)
			}
			f.ch <- d
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(15 * time.Second):
			t.Error("Follow did not return after cancel")
		}
	})
	return f
}

// until collects deliveries until sequence last has been seen, checking that
// sequences are consecutive from next.
func (f *follower) until(t *testing.T, next, last uint64, timeout time.Duration) []delivery {
	t.Helper()
	var got []delivery
	deadline := time.After(timeout)
	for next <= last {
		select {
		case d := <-f.ch:
			for _, s := range d.seqs {
				if s != next {
					t.Fatalf("Follow delivered %d, want %d", s, next)
				}
				next++
			}
			got = append(got, d)
		case <-f.done:
			t.Fatalf("Follow returned early: %v", f.err)
		case <-deadline:
			t.Fatalf("timed out waiting for sequence %d (next %d)", last, next)
		}
	}
	return got
}

func bulk(partner string, n, offset int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = msg(partner, "SaleRecorded", offset+i)
	}
	return msgs
}

func TestFollow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// 2000 records exist before Follow starts.
	mustAppend(t, e.store, bulk("P-1", 1000, 0), nil)
	mustAppend(t, e.store, bulk("P-2", 1000, 0), nil)

	f := startFollow(t, e.store, 1)
	got := f.until(t, 1, 2000, 10*time.Second)
	maxLen := 0
	for _, d := range got {
		maxLen = max(maxLen, len(d.seqs))
	}
	if maxLen < 2 {
		t.Errorf("catch-up delivered only single-record batches (%d calls)", len(got))
	}
	if last := got[len(got)-1]; last.pending != 0 {
		t.Errorf("caught-up batch reports pending %d", last.pending)
	}

	// Appends after Follow started arrive in order: singles and batches,
	// from several goroutines' worth of partners.
	next := uint64(2001)
	for i := range 10 {
		n := 1 + i*37
		first := mustAppend(t, e.store, bulk(fmt.Sprintf("P-%d", i%3), n, i), nil)
		if first != next {
			t.Fatalf("append %d first = %d, want %d", i, first, next)
		}
		next += uint64(n)
	}
	f.until(t, 2001, next-1, 10*time.Second)

	// Nothing more arrives.
	select {
	case d := <-f.ch:
		t.Fatalf("unexpected delivery %v", d.seqs)
	case <-time.After(100 * time.Millisecond):
	}

	f.cancel()
	select {
	case <-f.done:
		if !errors.Is(f.err, context.Canceled) {
			t.Errorf("Follow returned %v, want context.Canceled", f.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not stop")
	}

	t.Run("resume", func(t *testing.T) {
		for _, from := range []uint64{1999, 2001, next - 1} {
			f := startFollow(t, e.store, from)
			f.until(t, from, next-1, 10*time.Second)
			f.cancel()
		}
		// Resuming past the end waits for the next append.
		f := startFollow(t, e.store, next)
		if got := mustAppend(t, e.store, bulk("P-9", 2, 0), nil); got != next {
			t.Fatalf("first = %d", got)
		}
		f.until(t, next, next+1, 10*time.Second)
	})

	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := e.store.Follow(ctx, 1, func([]Record, uint64) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Follow = %v after %d calls", err, calls)
		}
	})
}

func TestReadBatches(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		mustAppend(t, e.store, bulk(fmt.Sprintf("P-%d", i%2), 1000, i*1000), nil)
	}
	// Appends racing with Read are not delivered: Read stops at the last
	// sequence it saw when it started.
	var sizes []int
	next := uint64(1)
	err := e.store.Read(context.Background(), 1, "", func(recs []Record) error {
		if next == 1 {
			mustAppend(t, e.store, bulk("P-late", 10, 0), nil)
		}
		sizes = append(sizes, len(recs))
		for _, r := range recs {
			if r.Seq != next {
				t.Fatalf("Read delivered %d, want %d", r.Seq, next)
			}
			next++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != 5001 {
		t.Errorf("Read ended at %d, want 5000", next-1)
	}
	for _, n := range sizes {
		if n > MaxReadBatch {
			t.Errorf("batch of %d records", n)
		}
	}
	if len(sizes) >= 5000 {
		t.Errorf("%d batches for 5000 records", len(sizes))
	}

	recs := readAll(t, e.store, 1, "P-1")
	if len(recs) != 2000 {
		t.Errorf("partner P-1 has %d records, want 2000", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq || recs[i].Partner != "P-1" {
			t.Fatalf("partner read out of order at %d", i)
		}
	}

	t.Run("empty and past the end", func(t *testing.T) {
		empty := newEnv(t)
		for _, tt := range []struct {
			s       *Store
			from    uint64
			partner string
		}{{empty.store, 1, ""}, {empty.store, 0, "P-1"}, {e.store, 6000, ""}, {e.store, 5011, "P-late"}} {
			called := false
			if err := tt.s.Read(context.Background(), tt.from, tt.partner, func([]Record) error { called = true; return nil }); err != nil || called {
				t.Errorf("Read(%d, %q) = %v, called %v", tt.from, tt.partner, err, called)
			}
		}
	})

	t.Run("up to a sequence", func(t *testing.T) {
		for _, tt := range []struct {
			from, to uint64
			partner  string
			first    uint64
			n        int
		}{
			{1, 10, "", 1, 10},
			{3000, 3000, "", 3000, 1},
			{4001, 4999 + MaxReadBatch, "", 4001, 1010}, // past the end (P-late's 5010): the end
			{1, 2500, "P-1", 1001, 1000},                // P-1 holds 1001–2000 and 3001–4000
			{1, 3500, "P-1", 1001, 1500},
			{10, 9, "", 0, 0},
			{1, 0, "P-late", 5001, 10}, // UpTo(0): no bound
		} {
			var seqs []uint64
			err := e.store.Read(context.Background(), tt.from, tt.partner, func(recs []Record) error {
				for _, r := range recs {
					seqs = append(seqs, r.Seq)
				}
				return nil
			}, UpTo(tt.to))
			beyond := tt.to > 0 && len(seqs) > 0 && seqs[len(seqs)-1] > tt.to
			if err != nil || len(seqs) != tt.n || beyond || (tt.n > 0 && seqs[0] != tt.first) {
				t.Errorf("Read(%d, %q, UpTo(%d)) = %v: %d records from %v, want %d from %d", tt.from, tt.partner, tt.to, err, len(seqs), first(seqs), tt.n, tt.first)
			}
		}
	})

	t.Run("invalid partner", func(t *testing.T) {
		err := e.store.Read(context.Background(), 1, "a.b", func([]Record) error { return nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("consumers cleaned up", func(t *testing.T) {
		info, err := e.js.Stream(context.Background(), DefaultStreamName)
		if err != nil {
			t.Fatal(err)
		}
		names := info.ConsumerNames(context.Background())
		var left []string
		for n := range names.Name() {
			left = append(left, n)
		}
		if len(left) != 0 {
			t.Errorf("consumers left after Read: %v", left)
		}
	})
}

// TestGapDetected builds a stream with a hole (possible only if someone
// created it without DenyDelete) and checks that readers refuse to skip it.
// first is a slice's first element, or nil.
func first(s []uint64) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

func TestGapDetected(t *testing.T) {
	e := newEnv(t) // opens LEDGER; use a second stream name for the hole
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	st, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: DefaultStreamName, Subjects: []string{StreamSubjects}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.js.Publish(ctx, Subject("P", "X"), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteMsg(ctx, 3); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Read(ctx, 1, "", func([]Record) error { return nil })
	if !errors.Is(err, ErrSequenceGap) {
		t.Errorf("Read = %v, want ErrSequenceGap", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = s.Follow(fctx, 1, func([]Record, uint64) error { return nil })
	if !errors.Is(err, ErrSequenceGap) {
		t.Errorf("Follow = %v, want ErrSequenceGap", err)
	}
	// A partner read is filtered, so a hole is indistinguishable from other
	// partners' events and is not an error.
	if recs := readAll(t, s, 1, "P"); len(recs) != 4 {
		t.Errorf("partner read got %d records", len(recs))
	}
}

func TestRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mustAppend(t, e.store, bulk("P-1", 500, 0), map[string]uint64{"P-1": 0})
	mustAppend(t, e.store, []Message{msg("P-2", "PartnerEnrolled", 0)}, map[string]uint64{"P-2": 0})
	mustAppend(t, e.store, bulk("P-1", 10, 500), map[string]uint64{"P-1": 500})
	before := readAll(t, e.store, 1, "")

	e.stop()
	e.start(t, natsserver.Config{StoreDir: e.dir, Port: -1, SyncAlways: true, Open: true})
	// Open again (twice) on the same data: idempotent.
	if _, err := Open(ctx, e.js); err != nil {
		t.Fatalf("second Open: %v", err)
	}

	after := readAll(t, e.store, 1, "")
	if len(after) != len(before) {
		t.Fatalf("after restart %d records, before %d", len(after), len(before))
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.Seq != b.Seq || a.Partner != b.Partner || a.Type != b.Type || !bytes.Equal(a.Data, b.Data) ||
			!a.Stored.Equal(b.Stored) || fmt.Sprint(a.Header) != fmt.Sprint(b.Header) {
			t.Fatalf("record %d differs after restart:\n%+v\n%+v", i, b, a)
		}
	}
	for p, want := range map[string]uint64{"P-1": 511, "P-2": 501} {
		if got, err := e.store.PartnerLastSeq(ctx, p); err != nil || got != want {
			t.Errorf("PartnerLastSeq(%s) = %d, %v; want %d", p, got, err, want)
		}
	}
	info, err := e.js.Stream(ctx, DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.CachedInfo().Config
	if !cfg.AllowAtomicPublish || !cfg.DenyDelete || !cfg.DenyPurge || cfg.Storage != jetstream.FileStorage {
		t.Errorf("stream config after reopen: %+v", cfg)
	}
	// Writes continue where they stopped, with the expectations intact.
	if first := mustAppend(t, e.store, bulk("P-2", 2, 1), map[string]uint64{"P-2": 501}); first != 512 {
		t.Errorf("first after restart = %d, want 512", first)
	}
}

// TestFollowSurvivesRestart restarts the server (same store, same port) under
// a running Follow on a TCP connection that reconnects.
func TestFollowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	start := func(port int) *natsserver.Server {
		srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: dir, Port: port, SyncAlways: true, Logger: testLogger(), Open: true})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start(-1)
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	defer func() { srv.Shutdown() }()

	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	e := &testEnv{}
	e.connect(t, nc)

	mustAppend(t, e.store, bulk("P-1", 100, 0), nil)
	f := startFollow(t, e.store, 1)
	f.until(t, 1, 100, 10*time.Second)

	srv.Shutdown()
	srv = start(port)

	// Write once the client is back (an append during the outage could end
	// with an unknown outcome, which is the caller's business, not this test's).
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("client did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if first := mustAppend(t, e.store, bulk("P-1", 50, 100), map[string]uint64{"P-1": 100}); first != 101 {
		t.Fatalf("first after restart = %d", first)
	}
	f.until(t, 101, 150, 20*time.Second)
}

// TestFollowRecreatesConsumer removes the stream under a running Follow, so
// that the library's own consumer reset fails and Follow's retry loop has to
// recreate the consumer once the stream is back.
func TestFollowRecreatesConsumer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	failed := &logWatch{msg: "event follower: consumer failed, recreating", seen: make(chan struct{})}
	follower, err := Open(ctx, e.js, WithLogger(slog.New(failed)))
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, e.store, bulk("P-1", 10, 0), nil)
	f := startFollow(t, follower, 1)
	f.until(t, 1, 10, 10*time.Second)

	if err := e.js.DeleteStream(ctx, DefaultStreamName); err != nil {
		t.Fatal(err)
	}
	// The stream comes back only once the consumer has failed and Follow's
	// own loop is retrying: what the test is about.
	select {
	case <-failed.seen:
	case <-time.After(30 * time.Second):
		t.Fatal("Follow never noticed the stream was gone")
	}
	s, err := Open(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	// The new stream starts again at 1; Follow waits for 11 and must get
	// exactly 11..15.
	mustAppend(t, s, bulk("P-1", 15, 0), nil)
	f.until(t, 11, 15, 15*time.Second)
}

func TestBatchCap(t *testing.T) {
	for _, c := range []struct {
		next, end, pending uint64
		want               int
	}{
		{1, 0, MaxReadBatch, MaxReadBatch}, // following, nothing known yet
		{1, 0, 0, minBatchCap},             // following a live log: small batches
		{1, 0, 200, 200},                   // what the server says is pending
		{1, 0, 1 << 20, MaxReadBatch},      // far behind
		{10, 12, MaxReadBatch, 3},          // a short bounded read
		{10, 12, 0, 3},                     // …not more than is left
		{10, 100_000, 0, minBatchCap},      // a long bounded read, little pending
		{10, 100_000, MaxReadBatch, MaxReadBatch},
		{13, 12, 5, minBatchCap}, // past the end of a bounded read
	} {
		if got := batchCap(c.next, c.end, c.pending); got != c.want {
			t.Errorf("batchCap(%d, %d, %d) = %d, want %d", c.next, c.end, c.pending, got, c.want)
		}
	}
}

// logWatch is a slog handler that closes seen at the first record whose
// message is msg.
type logWatch struct {
	msg  string
	once sync.Once
	seen chan struct{}
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == w.msg {
		w.once.Do(func() { close(w.seen) })
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }
