package ledger

import (
	"context"
	"fmt"
	"time"
)

// catchUp makes the decision state current with the log before a group is
// decided. When another writer appended (the stream is ahead of everything
// this writer has appended or has in flight), it waits for the read models to
// fold that, and drops the cached partners it touched. A single ledger never
// waits here. After a failed append it first finishes the resync.
func (w *Writer) catchUp(ctx context.Context) error {
	if _, _, failure := w.proj.Status(); failure != nil {
		// The read models stopped at a damaged log: decisions on them
		// would build on what they lack, and appends on the damage.
		return failure
	}
	if w.unsynced {
		last, err := w.es.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("resynchronizing with the log: %w", err)
		}
		w.resync(ctx, w.predicted+1)
		if w.unsynced {
			return fmt.Errorf("read models did not catch up with the log (at %d of %d)", w.proj.Checkpoint(), last)
		}
	}
	// Deciding against read models that lack another writer's events is
	// not safe even though appends are checked per partner: a line refused
	// on them (a fraud flag of a sale they do not hold yet) is answered
	// without an append, so no check ever catches it. So when the log's end
	// is unknown or not folded in time, the group is not decided
	// (unavailable; the client retries).
	last, err := w.es.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("reading the log's last sequence: %w", err)
	}
	if last > w.predicted {
		w.metAnotherWriter()
		w.proj.Notify(last)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.proj.WaitFor(wctx, last)
		cancel()
		if err != nil {
			return fmt.Errorf("read models behind the log another writer appended to: %w", err)
		}
		w.predicted = last
	}
	w.mu.Lock()
	stale := w.stale
	w.stale = map[string]bool{}
	for id := range stale {
		if _, pinned := w.pend.partners[id]; !pinned {
			w.drop(id)
		}
	}
	w.mu.Unlock()
	return nil
}

// resync discards the tentative state of appends that were not stored as
// predicted, from sequence from on, and waits until the read models hold
// the whole log, so that partners reload complete. Until that wait succeeds
// the writer decides nothing (catchUp retries it).
func (w *Writer) resync(ctx context.Context, from uint64) {
	w.mu.Lock()
	w.pend.rollback(from)
	w.mu.Unlock()
	clear(w.cache)
	w.cached = 0
	w.unsynced = true
	last, err := w.es.LastSeq(ctx)
	if err != nil {
		w.log.Error("cannot read the log's last sequence to resynchronize", "err", err)
		return
	}
	w.lastSeq.Store(max(w.lastSeq.Load(), last))
	w.predicted = last
	w.proj.Notify(last)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.proj.WaitFor(wctx, last); err != nil {
		w.log.Error("read models did not catch up after a failed append", "want", last, "err", err)
		return
	}
	w.unsynced = false
}

// prune is called by the projector after each fold. A partner whose folded
// events go beyond what this writer has pending was appended to by another
// writer (another replica): its cached state is stale.
func (w *Writer) prune(checkpoint uint64, touched map[string]uint64) {
	for {
		last := w.lastSeq.Load()
		if checkpoint <= last || w.lastSeq.CompareAndSwap(last, checkpoint) {
			break
		}
	}
	w.mu.Lock()
	for id, seq := range touched {
		if seq > w.pend.partners[id] {
			w.stale[id] = true
		}
	}
	w.folded = max(w.folded, checkpoint)
	if w.snapNext != 0 {
		// Keep what the open snapshot lacks, even when it holds nothing.
		checkpoint = min(checkpoint, w.snapNext-1)
	}
	w.pend.prune(checkpoint)
	w.mu.Unlock()
}

// evict keeps the cache within its budget, dropping partners with nothing
// pending (the read models hold all of them).
func (w *Writer) evict() {
	if w.cached <= cacheBudgetFacts {
		return
	}
	w.cached = 0
	for _, p := range w.cache {
		w.cached += p.Footprint()
	}
	if w.cached <= cacheBudgetFacts {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id := range w.cache {
		if _, pinned := w.pend.partners[id]; !pinned {
			w.drop(id)
		}
		if w.cached <= cacheBudgetFacts*3/4 {
			return
		}
	}
}

// drop removes a partner from the cache.
func (w *Writer) drop(id string) {
	if p, ok := w.cache[id]; ok {
		delete(w.cache, id)
		w.cached -= p.Footprint()
	}
}
