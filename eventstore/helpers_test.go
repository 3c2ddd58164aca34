package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testEnv is a real embedded server with an open Store on it.
type testEnv struct {
	dir   string
	srv   *natsserver.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	store *Store
}

func testLogger() *slog.Logger {
	if os.Getenv("EVENTSTORE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newEnv starts a server on a fresh store directory (SyncAlways, as in
// production) and opens the store.
func newEnv(tb testing.TB) *testEnv {
	tb.Helper()
	e := &testEnv{dir: tb.TempDir()}
	e.start(tb, natsserver.Config{StoreDir: e.dir, Port: -1, SyncAlways: true, Open: true})
	tb.Cleanup(e.stop)
	return e
}

func (e *testEnv) start(tb testing.TB, cfg natsserver.Config) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg.Logger = testLogger()
	srv, err := natsserver.Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("start server: %v", err)
	}
	e.srv = srv
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	e.connect(tb, nc)
}

func (e *testEnv) connect(tb testing.TB, nc *nats.Conn) {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	store, err := Open(context.Background(), js, WithLogger(testLogger()))
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	e.nc, e.js, e.store = nc, js, store
}

func (e *testEnv) stop() {
	if e.nc != nil {
		e.nc.Close()
	}
	if e.srv != nil {
		e.srv.Shutdown()
	}
}

// msg builds a test message whose data names its partner, type and index.
func msg(partner, typ string, i int) Message {
	return Message{
		Partner: partner,
		Type:    typ,
		Data:    fmt.Appendf(nil, `{"partner":%q,"type":%q,"i":%d}`, partner, typ, i),
		Header:  map[string]string{"Ledger-Recorded": fmt.Sprintf("2024-05-%02dT00:00:00Z", i%28+1)},
	}
}

// readAll reads the whole stream (or one partner) into one slice.
func readAll(tb testing.TB, s *Store, from uint64, partner string) []Record {
	tb.Helper()
	var out []Record
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Read(ctx, from, partner, func(recs []Record) error {
		out = append(out, recs...)
		return nil
	}); err != nil {
		tb.Fatalf("Read(%d, %q): %v", from, partner, err)
	}
	return out
}

func mustAppend(tb testing.TB, s *Store, msgs []Message, expect map[string]uint64) uint64 {
	tb.Helper()
	first, err := s.Append(context.Background(), msgs, expect)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	return first
}
