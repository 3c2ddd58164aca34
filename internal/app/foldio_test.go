package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// signalHandler closes seen once a record with msg and an err attribute
// containing errPart is logged.
type signalHandler struct {
	msg, errPart string
	once         *sync.Once
	seen         chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != h.msg {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" && strings.Contains(a.Value.String(), h.errPart) {
			h.once.Do(func() { close(h.seen) })
			return false
		}
		return true
	})
	return nil
}

// TestFoldStoreErrorIsNotDamage: when the read models cannot be written (a
// bbolt error: here a closed file, as a full or failing disk gives), the
// projector retries; it never declares the log damaged, and once the store
// works again it folds on.
func TestFoldStoreErrorIsNotDamage(t *testing.T) {
	h := signalHandler{msg: "projector: following the log failed; retrying", errPart: "storing a fold in the read models",
		once: &sync.Once{}, seen: make(chan struct{})}
	l := start(t, Config{Logger: slog.New(h)})
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Projector().WaitFor(ctx, streamLast(t, l)); err != nil {
		t.Fatal(err)
	}

	// Read models whose file cannot be written.
	good := l.Models()
	broken, err := projections.Open(filepath.Join(t.TempDir(), "broken.db"))
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	l.models.Store(broken)

	// One more event in the log: a copy of the stored offer publication
	// (it folds as a republication).
	rec, err := l.EventStore().GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{}
	for k, v := range rec.Header {
		if k != eventstore.HdrSchema && k != eventstore.HdrType && k != eventstore.HdrPartner {
			hdr[k] = v
		}
	}
	last, err := l.EventStore().Append(ctx, []eventstore.Message{{Partner: rec.Partner, Type: rec.Type, Data: rec.Data, Header: hdr}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// WaitFor cannot succeed while the read models are broken; it returns
	// at once if the projector stops.
	stopped := make(chan error, 1)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go func() { stopped <- l.Projector().WaitFor(wctx, last) }()
	select {
	case <-h.seen:
	case err := <-stopped:
		t.Fatalf("the projector stopped at a read-model write error: %v", err)
	}
	wcancel()
	if _, _, failure := l.Projector().Status(); failure != nil {
		t.Fatalf("a read-model write error stopped the projector as damage: %v", failure)
	}

	l.models.Store(good)
	if err := l.Projector().WaitFor(ctx, last); err != nil {
		t.Fatalf("no fold once the read models work again: %v", err)
	}
}
