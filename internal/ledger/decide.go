package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
)

// decision is the writer's work on one group before the append.
type decision struct {
	subs    []*submission
	results [][]LineResult
	msgs    []eventstore.Message
	events  []domain.Event // msgs as decided: the projector folds them from memory once stored
	expect  map[string]uint64
	first   uint64 // predicted sequence of msgs[0]
}

// errStale reports decision state older than the log (another writer
// appended): the group is decided again after a resync.
var errStale = errors.New("ledger: decision state is behind the log")

func retryable(err error) bool {
	return errors.Is(err, errStale) || errors.Is(err, eventstore.ErrConflict) || errors.Is(err, eventstore.ErrUnknownOutcome) ||
		errors.Is(err, eventstore.ErrUnavailable) // a leader change: nothing stored, the next leader takes it
}

// decideGroup brings the decision state up to date with the log and decides
// a group against one consistent snapshot of the read models. While the
// snapshot is open, the pending overlay keeps what it lacks (pruning stops at
// its checkpoint).
func (w *Writer) decideGroup(ctx context.Context, subs []*submission) (*decision, error) {
	d := &decision{subs: subs, expect: map[string]uint64{}}
	if err := w.catchUp(ctx); err != nil {
		d.results = make([][]LineResult, len(subs))
		for i, s := range subs {
			d.results[i] = failLines(s, err)
		}
		return d, nil
	}
	snap, err := w.models().Snapshot()
	if err != nil {
		return d, fmt.Errorf("%w: %v", errStale, err)
	}
	if snap.Checkpoint() > w.predicted {
		// Another writer appended since catchUp, and the read models
		// already hold it: partners cached before may lack it, which only
		// per-partner checks catch (see launch).
		w.metAnotherWriter()
	}
	w.mu.Lock()
	w.snap, w.snapNext = snap, snap.Checkpoint()+1
	w.mu.Unlock()
	defer func() {
		snap.Close()
		w.mu.Lock()
		w.snap, w.snapNext = nil, 0
		w.pend.prune(w.folded)
		w.mu.Unlock()
	}()
	return d, w.decide(d)
}

// decide runs every line through the domain pipeline against the cached
// partners and the pending overlay, applying accepted events tentatively (so
// later lines see earlier ones) under predicted sequence numbers.
func (w *Writer) decide(d *decision) error {
	now := w.recordedNow()
	d.first = max(w.predicted, w.proj.Checkpoint()) + 1
	next := d.first
	dir := writerDirectory{w}
	lines := 0
	for _, s := range d.subs {
		lines += len(s.lines)
	}
	// Most lines decide into one event: sized for that, the group's events
	// and messages are allocated once instead of doubled into.
	d.msgs, d.events = make([]eventstore.Message, 0, lines), make([]domain.Event, 0, lines)
	for _, s := range d.subs {
		rs := make([]LineResult, len(s.lines))
		admit := s.admit()
		for i, raw := range s.lines {
			r := &rs[i]
			r.Line = i + 1
			if len(raw) > MaxLineBytes {
				r.Code, r.Error = domain.CodeLineTooLong, fmt.Sprintf("line is %d bytes, at most %d", len(raw), MaxLineBytes)
				continue
			}
			in, events, err := domain.Process(dir, w.partner, admit, raw, now, w.pol)
			r.ID, r.typ = in.ID, in.Type
			if seq, ok := domain.IsDuplicate(err); ok {
				r.OK, r.Seq, r.Duplicate = true, seq, true
				continue
			}
			if err != nil {
				r.Code, r.Error = domain.CodeOf(err), err.Error()
				if r.Code == "" {
					return fmt.Errorf("%w: %v", errStale, err) // an I/O failure, not a rejection
				}
				continue
			}
			for _, e := range events {
				p := w.cache[e.Partner]
				if _, seen := d.expect[e.Partner]; !seen {
					d.expect[e.Partner] = p.LastSeq()
				}
				e.Seq = next
				next++
				w.predicted = e.Seq
				msg := encodeEvent(e, raw, w.pol)
				var prev string
				if p != nil && p.Core != nil {
					prev = p.Core.Chain
				}
				e.Chain = msg.Chained(prev)
				if err := domain.Apply(writerFacts{w, p}, e); err != nil {
					// The partner's state is ahead of our numbering: another
					// writer appended.
					return fmt.Errorf("%w: %v", errStale, err)
				}
				d.msgs = append(d.msgs, msg)
				d.events = append(d.events, e)
				r.OK, r.Seq = true, e.Seq
			}
		}
		d.results = append(d.results, rs)
	}
	return nil
}

// recordedNow is the instant a group is recorded at: the clock, but never
// before an instant already recorded, so that the events recorded at or
// before any instant are a prefix of the log ("known at", see
// projections.Store.KnownAt) even if the clock steps back.
func (w *Writer) recordedNow() time.Time {
	if w.lastRecorded.IsZero() {
		if hw, err := w.models().RecordedHighWater(); err == nil {
			w.lastRecorded = hw
		}
	}
	now := w.clock().UTC()
	if now.Before(w.lastRecorded) {
		now = w.lastRecorded
	}
	w.lastRecorded = now
	return now
}

// partner returns the decision state of a partner, loading it from the
// snapshot on a miss. A partner with pending events is always cached, so what
// the read models hold for any other partner is complete.
func (w *Writer) partner(id string) (*domain.Partner, error) {
	if p, ok := w.cache[id]; ok {
		return p, nil
	}
	p, err := w.snap.PartialPartner(id, saleSource{w})
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = domain.NewPartner(id)
	}
	w.cached += p.Footprint()
	w.cache[id] = p
	return p, nil
}

// saleSource supplies the sales of the writer's partial partners from the
// snapshot being decided against. Partners are held without their sales
// (most of their facts): a sale needs none of them, a correction needs one.
// A sale not in memory has no pending change, so the snapshot has it current.
type saleSource struct{ w *Writer }

func (s saleSource) Sale(partner, id string) (*domain.Sale, error) { return s.w.snap.Sale(partner, id) }
func (s saleSource) Sales(partner string) ([]*domain.Sale, error)  { return s.w.snap.Sales(partner) }
