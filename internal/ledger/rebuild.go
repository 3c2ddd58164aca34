package ledger

import (
	"context"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// RebuildProgress reports a rebuild's advance: the sequence reached and the
// last one it will fold.
type RebuildProgress func(seq, last uint64)

// Rebuild folds the log from its start into a new read model file at path,
// up to toSeq (0: the log's last sequence when the rebuild starts), and
// returns the file's digest. The file is written without fsync per batch and
// synced once at the end: a rebuild that fails is simply discarded.
func Rebuild(ctx context.Context, es *eventstore.Store, path string, toSeq uint64, progress RebuildProgress) (projections.Digest, error) {
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
			e, err := decodeEvent(r)
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
	if err := out.Sync(); err != nil {
		return projections.Digest{}, err
	}
	return out.Digest()
}
