package ledger_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/projections"
)

// signalHandler is a slog handler that reports every record whose message
// contains a word, so that a test waits for the event rather than a while.
type signalHandler struct {
	word string
	seen chan string
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.word) {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		select {
		case h.seen <- msg:
		default:
		}
	}
	return nil
}

// TestFoldStorageErrorRetried: a bbolt error while storing a fold (here the
// read model file is closed under the projector; a full disk is the same to
// it) is an availability problem: the projector retries, never reports a
// damaged log, and once the read models can be written again it folds the
// whole log.
func TestFoldStorageErrorRetried(t *testing.T) {
	recs, want := loadFixture(t, eventstore.Schema1)
	es := storeFixture(t, recs)
	dir := t.TempDir()
	broken, err := projections.Open(filepath.Join(dir, "broken.db"))
	if err != nil {
		t.Fatal(err)
	}
	var models atomic.Pointer[projections.Store]
	models.Store(broken)
	h := signalHandler{word: "retrying", seen: make(chan string, 1)}
	p, err := ledger.NewProjector(es, models.Load, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case msg := <-h.seen:
		t.Logf("projector: %s", msg)
	case err := <-done:
		t.Fatalf("the projector stopped at a storage error: %v", err)
	}
	if _, _, failure := p.Status(); failure != nil {
		t.Fatalf("a storage error reported as %v", failure)
	}
	stopped, stop := context.WithCancel(ctx)
	stop()
	if err := p.WaitFor(stopped, want.Checkpoint); ledger.IsDamaged(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor during the storage error: %v (want the caller's deadline, not damage)", err)
	}

	fixed, err := projections.Open(filepath.Join(dir, "fixed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fixed.Close()
	models.Store(fixed)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := p.WaitFor(wctx, want.Checkpoint); err != nil {
		t.Fatal(err)
	}
	d, err := fixed.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d.Sum != want.Digest {
		t.Errorf("digest after the retry %s, want %s", d.Sum, want.Digest)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
}
