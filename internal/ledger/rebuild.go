package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
	"golang.org/x/sync/errgroup"
)

// RebuildOptions tune a rebuild.
type RebuildOptions struct {
	ToSeq    uint64                 // stop at this sequence (0: the log's last when the rebuild starts)
	Policy   *domain.Policy         // when set, also store every partner's tier history under it
	Progress func(seq, last uint64) // called after each folded batch
}

// RebuildReport is the outcome of rebuilding the live read models.
type RebuildReport struct {
	Checkpoint   uint64 `json:"checkpoint"`
	Digest       string `json:"digest"`
	Millis       int64  `json:"rebuild_ms"`
	EventsPerSec int64  `json:"events_per_s"`
	Swapped      bool   `json:"swapped"`
}

// BackupReport is the outcome of replacing the read models' backup: the
// checkpoint the backup holds, its size in bytes and how long it took.
type BackupReport struct {
	Checkpoint uint64 `json:"checkpoint"`
	Bytes      int64  `json:"bytes"`
	Millis     int64  `json:"backup_ms"`
}

// Rebuild folds the log from its start into a new read model file at path
// and returns the file's digest. The file is written without fsync per
// batch and synced once at the end: a rebuild that fails is simply discarded.
func Rebuild(ctx context.Context, es *eventstore.Store, path string, o RebuildOptions) (projections.Digest, error) {
	last, err := es.LastSeq(ctx)
	if err != nil {
		return projections.Digest{}, err
	}
	toSeq := o.ToSeq
	switch {
	case toSeq > last:
		return projections.Digest{}, fmt.Errorf("rebuild: --to-seq %d is beyond the log's last sequence %d", toSeq, last)
	case toSeq == 0:
		toSeq = last
	}
	out, err := projections.Open(path, projections.NoSync())
	if err != nil {
		return projections.Digest{}, err
	}
	defer out.Close()
	if cp, _ := out.Checkpoint(); cp != 0 {
		return projections.Digest{}, fmt.Errorf("rebuild: %s already holds read models (checkpoint %d); choose a new file", path, cp)
	}
	if toSeq > 0 {
		if err := FoldLog(ctx, es, out, toSeq, o.Progress); err != nil {
			return projections.Digest{}, err
		}
	}
	if o.Policy != nil {
		if err := out.WriteTiers(o.Policy); err != nil {
			return projections.Digest{}, err
		}
	}
	if err := out.Sync(); err != nil {
		return projections.Digest{}, err
	}
	return out.Digest()
}

// foldBatch is how many events a catch-up fold puts in one transaction:
// large enough to amortize the commit, small enough that bbolt's in-memory
// pages stay cheap to insert into.
const foldBatch = 8192

// FoldLog folds the log into out, from out's checkpoint up to toSeq, as a
// pipeline: one goroutine reads the stream, one decodes, this one folds —
// so reading, decoding and bbolt each keep a core busy. Records the ledger
// did not write are skipped and counted, as the projector does (ErrForeign).
func FoldLog(ctx context.Context, es *eventstore.Store, out *projections.Store, toSeq uint64, progress func(seq, last uint64)) error {
	cp, err := out.Checkpoint()
	if err != nil || cp >= toSeq {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	records := make(chan []eventstore.Record, 4)
	decoded := make(chan projections.Batch, 4)
	g.Go(func() error {
		defer close(records)
		return es.Read(ctx, cp+1, "", func(rs []eventstore.Record) error {
			select {
			case records <- rs:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, eventstore.UpTo(toSeq))
	})
	g.Go(func() error {
		defer close(decoded)
		for rs := range records {
			// Foreign records are skipped exactly as the projector skips
			// them (it is the one that logs them), so the digests agree.
			b := decodeBatch(rs, 0, nil).Batch
			select {
			case decoded <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		var pending projections.Batch
		flush := func() error {
			last := pending.Last()
			if last == 0 {
				return nil
			}
			if err := out.FoldBatch(pending); err != nil {
				if errors.Is(err, projections.ErrDisagree) {
					return fmt.Errorf("%w: %w", ErrDamaged, err)
				}
				return err
			}
			if progress != nil {
				progress(last, toSeq)
			}
			pending = projections.Batch{Events: pending.Events[:0], Foreign: pending.Foreign[:0]}
			return nil
		}
		for b := range decoded {
			pending.Events = append(pending.Events, b.Events...)
			pending.Foreign = append(pending.Foreign, b.Foreign...)
			if len(pending.Events)+len(pending.Foreign) >= foldBatch || len(decoded) == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if cp, err = out.Checkpoint(); err == nil && cp < toSeq {
		err = fmt.Errorf("%w: folded up to %d, the log should reach %d", ErrDamaged, cp, toSeq)
	}
	return err
}
