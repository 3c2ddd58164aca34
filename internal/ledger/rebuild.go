package ledger

import (
	"context"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// RebuildOptions tune a rebuild.
type RebuildOptions struct {
	ToSeq    uint64                 // stop at this sequence (0: the log's last when the rebuild starts)
	Policy   *domain.Policy         // when set, also store every partner's tier history under it
	Progress func(seq, last uint64) // called after each folded batch
}

// Rebuild folds the log from its start into a new read model file at path
// and returns the file's digest. The file is written without fsync per
// batch and synced once at the end: a rebuild that fails is simply discarded.
func Rebuild(ctx context.Context, es *eventstore.Store, path string, o RebuildOptions) (projections.Digest, error) {
	toSeq, progress := o.ToSeq, o.Progress
	last, err := es.LastSeq(ctx)
	if err != nil {
		return projections.Digest{}, err
	}
	if toSeq == 0 || toSeq > last {
		if toSeq > last {
			return projections.Digest{}, fmt.Errorf("rebuild: --to-seq %d is beyond the log's last sequence %d", toSeq, last)
		}
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
	events := make([]domain.Event, 0, eventstore.MaxReadBatch)
	stop := fmt.Errorf("reached %d", toSeq)
	err = es.Read(ctx, 1, "", func(rs []eventstore.Record) error {
		events = events[:0]
		for _, r := range rs {
			if r.Seq > toSeq {
				break
			}
			e, err := DecodeEvent(r)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrDamaged, err)
			}
			events = append(events, e)
		}
		if err := out.Fold(events); err != nil {
			return err
		}
		if progress != nil && len(events) > 0 {
			progress(events[len(events)-1].Seq, toSeq)
		}
		if len(events) < len(rs) || (len(events) > 0 && events[len(events)-1].Seq >= toSeq) {
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		return projections.Digest{}, err
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

// RebuildReport is the outcome of rebuilding the live read models.
type RebuildReport struct {
	Checkpoint   uint64 `json:"checkpoint"`
	Digest       string `json:"digest"`
	Millis       int64  `json:"rebuild_ms"`
	EventsPerSec int64  `json:"events_per_s"`
	Swapped      bool   `json:"swapped"`
}
