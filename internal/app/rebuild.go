package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/projections"
)

// closeGrace is how long a swapped-out read model file stays open for
// queries that picked it up just before the swap.
const closeGrace = 5 * time.Second

// Temporary files of rebuild and verify, in the data directory. One
// operation at a time (adminMu) bounds them to one copy of the read models;
// each removes its own on every return, and removeTemps those a crash
// left at the next start.
func nextModelsPath(data string) string { return modelsPath(data) + ".next" }

const verifyTempPattern = "verify-*" // ledger.Verify's os.MkdirTemp(dir, "verify-")

// removeTemps removes the temporary files a killed rebuild or verify left.
// Only a process holding the data directory's lock may call it.
func removeTemps(data string, log *slog.Logger) error {
	paths, err := filepath.Glob(filepath.Join(data, verifyTempPattern))
	if err != nil {
		return err
	}
	paths = append(paths, nextModelsPath(data), restoreTemp(data))
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing a leftover temporary file: %w", err)
		}
		log.Info("removed a temporary file a stopped rebuild or verify left", "path", p)
	}
	return nil
}

// adminBusy takes the one slot of rebuild and verify, or answers busy.
func (l *Ledger) adminBusy(what string) error {
	if l.adminMu.TryLock() {
		return nil
	}
	return &domain.Error{Code: domain.CodeBusy, Msg: what + " refused: a rebuild, verify or backup is already running on this ledger (one at a time); retry when it is done"}
}

// Verify rebuilds the read models in a temporary file and compares them with
// the live ones (rpc.Admin). A damaged log fails it with code log_damaged:
// the read models stopped before the damage, or the rebuild ran into it.
func (l *Ledger) Verify(ctx context.Context) (ledger.VerifyReport, error) {
	if err := l.adminBusy("verify"); err != nil {
		return ledger.VerifyReport{}, err
	}
	defer l.adminMu.Unlock()
	_, _, failure := l.proj.Status()
	if failure == nil {
		r, err := ledger.Verify(ctx, l.es, l.models.Load(), l.cfg.DataDir)
		if !ledger.IsDamaged(err) {
			return r, err
		}
		failure = err
	}
	return ledger.VerifyReport{}, &domain.Error{Code: domain.CodeLogDamaged, Msg: "the event log is damaged: " + failure.Error()}
}

// Rebuild rebuilds the read models from the log into a new file while the
// current one keeps serving queries and the writer, then swaps it in
// (rpc.Admin). The swap itself pauses only the projector, for the events
// appended during the rebuild.
func (l *Ledger) Rebuild(ctx context.Context) (ledger.RebuildReport, error) {
	if err := l.adminBusy("rebuild"); err != nil {
		return ledger.RebuildReport{}, err
	}
	defer l.adminMu.Unlock()
	path := nextModelsPath(l.cfg.DataDir)
	if err := projections.Remove(path); err != nil {
		return ledger.RebuildReport{}, err
	}
	start := time.Now()
	if _, err := ledger.Rebuild(ctx, l.es, path, ledger.RebuildOptions{}); err != nil {
		projections.Remove(path)
		return ledger.RebuildReport{}, fmt.Errorf("rebuild: %w", err)
	}
	took := time.Since(start)
	next, err := projections.Open(path)
	if err != nil {
		projections.Remove(path)
		return ledger.RebuildReport{}, err
	}
	if err := l.swap(ctx, next); err != nil {
		next.Close()
		projections.Remove(path)
		return ledger.RebuildReport{}, err
	}
	d, err := next.Digest()
	if err != nil {
		return ledger.RebuildReport{}, err
	}
	r := ledger.RebuildReport{Checkpoint: d.Checkpoint, Digest: d.Sum, Millis: took.Milliseconds(), Swapped: true}
	if took > 0 {
		r.EventsPerSec = int64(float64(d.Checkpoint) / took.Seconds())
	}
	l.log.Info("read models rebuilt and swapped in", "checkpoint", d.Checkpoint, "took", took.Round(time.Millisecond))
	return r, nil
}

// swap folds what was appended since next was built, then makes next the
// live read models and moves it to the live path.
func (l *Ledger) swap(ctx context.Context, next *projections.Store) error {
	l.stopProjector()
	defer l.startProjector()
	last, err := l.es.LastSeq(ctx)
	if err != nil {
		return err
	}
	if err := ledger.FoldLog(ctx, l.es, next, last, nil); err != nil {
		return fmt.Errorf("swap: catching up: %w", err)
	}
	cp, err := next.Checkpoint()
	if err != nil {
		return err
	}
	if err := os.Rename(next.Path(), modelsPath(l.cfg.DataDir)); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	old := l.models.Swap(next)
	l.proj.Reset(cp)
	time.AfterFunc(closeGrace, func() { old.Close() })
	return nil
}
