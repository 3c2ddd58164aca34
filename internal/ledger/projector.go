package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
	"golang.org/x/sync/errgroup"
)

// Projector follows the log and folds it into the read models, one bbolt
// transaction per delivered batch, checkpoint included: after a crash it
// resumes from the checkpoint with every event applied exactly once.
type Projector struct {
	es     logReader
	models func() *projections.Store
	log    *slog.Logger

	mu      sync.Mutex
	cp      uint64
	behind  uint64        // messages the stream still held after the last batch
	changed chan struct{} // closed and replaced whenever cp moves
	hooks   []func(checkpoint uint64, partners map[string]uint64)
	failure error // a fold that cannot go on: a damaged log or read model

	mem       []handoff     // groups this ledger appended, waiting to be folded from memory (Offer)
	memEvents int           // events in mem
	hint      uint64        // the log holds at least this sequence (Notify, polls)
	flying    uint64        // the last sequence of the append this ledger's writer has under way (Expect), 0: none
	wake      chan struct{} // a handoff or a hint arrived
}

// ErrDamaged marks a log the projector cannot fold: it stops rather than
// serve read models that silently skip an event.
var ErrDamaged = errors.New("ledger: the event log cannot be folded")

// logReader is what the projector needs of the event log: its end, its
// records in order, and a check that it lost none. *eventstore.Store is the
// log; the writer's unit tests use an in-memory one.
type logReader interface {
	// LastSeq is the stream's last sequence (see eventstore.Store.LastSeq).
	LastSeq(ctx context.Context) (uint64, error)
	// Read delivers records from sequence from on (see eventstore.Store.Read).
	Read(ctx context.Context, from uint64, partner string, fn func([]eventstore.Record) error, opts ...eventstore.ReadOption) error
	// CheckDense returns the last sequence, or an error wrapping
	// eventstore.ErrSequenceGap if the log lost records (see
	// eventstore.Store.CheckDense).
	CheckDense(ctx context.Context) (last uint64, err error)
}

var _ logReader = (*eventstore.Store)(nil)

// NewProjector starts from the read models' checkpoint.
func NewProjector(es *eventstore.Store, models func() *projections.Store, log *slog.Logger) (*Projector, error) {
	return newProjector(es, models, log)
}

// newProjector is NewProjector on any event log.
func newProjector(es logReader, models func() *projections.Store, log *slog.Logger) (*Projector, error) {
	cp, err := models().Checkpoint()
	if err != nil {
		return nil, err
	}
	return &Projector{es: es, models: models, log: log, cp: cp, changed: make(chan struct{}), wake: make(chan struct{}, 1)}, nil
}

// onFold registers a hook called after each fold with the new checkpoint and
// the partners the batch touched, each with its last sequence in the batch.
func (p *Projector) onFold(h func(uint64, map[string]uint64)) {
	p.mu.Lock()
	p.hooks = append(p.hooks, h)
	p.mu.Unlock()
}

// IsDamaged reports whether err says the log cannot be folded (ErrDamaged,
// eventstore.ErrSequenceGap).
func IsDamaged(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, eventstore.ErrSequenceGap)
}

// Projector.Run's retry delays after a failure that may go away (a
// reconnecting server, a bbolt or disk error): short first, so a brief
// outage is caught up quickly, then at most retryFoldMax apart, so a long
// one (a full disk) does not flood the log.
const (
	retryFoldMin = 500 * time.Millisecond
	retryFoldMax = 10 * time.Second
)

// Run follows the log until ctx ends or the log cannot be folded. Failures
// that may go away — the server reconnecting, bbolt or the disk failing to
// store a fold — are retried: they are availability problems (the writer
// and queries answer unavailable or projection_behind meanwhile), never a
// damaged log.
func (p *Projector) Run(ctx context.Context) error {
	if _, err := p.CheckLog(ctx); IsDamaged(err) {
		return err
	} else if err != nil {
		p.log.Warn("projector: cannot check the log before following it", "err", err)
	}
	delay := retryFoldMin
	for {
		before := p.Checkpoint()
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsDamaged(err) {
			p.fail(err)
			return err
		}
		if p.Checkpoint() != before {
			delay = retryFoldMin // progress was made: the failure is fresh
		}
		p.log.Warn("projector: following the log failed; retrying", "err", err, "checkpoint", p.Checkpoint(), "retry_in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, retryFoldMax)
	}
}

// CheckLog checks, before the log is followed, that it has lost no events:
// a log with fewer messages than sequences, or one that ends before the read
// models' checkpoint (a lost tail), is damaged. Following from the
// checkpoint would notice neither, and after a lost tail the writer's next
// appends would take sequences the read models have already folded, and
// never be folded. On damage the projector stops as on an undecodable event
// (Status, WaitFor report it). It returns the log's last sequence.
func (p *Projector) CheckLog(ctx context.Context) (last uint64, err error) {
	if _, _, failure := p.Status(); failure != nil {
		return 0, failure
	}
	last, err = p.es.CheckDense(ctx)
	if err == nil {
		if cp := p.Checkpoint(); cp > last {
			err = fmt.Errorf("%w: the read models hold sequences up to %d but the log ends at %d: events were lost from the log (or the read models are another log's)",
				ErrDamaged, cp, last)
		}
	}
	if IsDamaged(err) {
		p.fail(err)
	}
	return last, err
}

// decoded is a batch of the log, decoded, on its way to the fold.
type decoded struct {
	projections.Batch
	touched map[string]uint64
	behind  uint64
}

// Limits of folding from memory.
const (
	// memoryEvents bounds the events the writer's handoffs may hold while
	// the fold is behind (about 1,000 bytes each, decoded): beyond it a
	// handoff is dropped and those events are read from the log instead.
	memoryEvents = 8 * MaxLines
	// pollInterval is how often the projector asks the log for its end when
	// nothing arrives from this ledger's writer: how soon it notices what
	// another writer appended, unless someone is waiting for it (Notify).
	pollInterval = 250 * time.Millisecond
)

// handoff is a group this ledger's writer appended, as decided: the events
// with their sequences, stored exactly so.
type handoff struct {
	events []domain.Event
}

func (h handoff) first() uint64 { return h.events[0].Seq }
func (h handoff) last() uint64  { return h.events[len(h.events)-1].Seq }

// Offer hands the projector a group this ledger appended, once the append
// is acknowledged with the sequences the events carry: they are folded
// from memory, without reading the log back and parsing every envelope
// again. A handoff that does not fit (the fold is far behind) is dropped:
// the events are then read from the log.
func (p *Projector) Offer(events []domain.Event) {
	if len(events) == 0 {
		return
	}
	p.mu.Lock()
	if p.memEvents+len(events) <= memoryEvents {
		p.mem = append(p.mem, handoff{events})
		p.memEvents += len(events)
	}
	if p.flying <= events[len(events)-1].Seq {
		p.flying = 0
	}
	p.mu.Unlock()
	p.poke()
}

// Expect tells the projector that this ledger's writer is appending the
// events up to sequence last, and will hand them over (Offer) once the
// append is acknowledged, or call Abandon. Meanwhile a log end at or below
// last, seen by a poll or told by Notify, is waited for instead of read: the
// server stores a group before its acknowledgement reaches the writer, so a
// poll in that window finds events beyond the checkpoint that are on their
// way from memory. Reading them would parse each envelope a second time and
// make the server load the stream's newest block, whose 8 MiB buffer it
// then keeps for ten seconds after that last read (its cache expiry) and
// replaces with a fresh one for the writes that follow: during a long
// ingest, most blocks once were.
//
// One append at a time: a second Expect replaces the first.
func (p *Projector) Expect(last uint64) {
	p.mu.Lock()
	p.flying = last
	p.mu.Unlock()
}

// Abandon tells the projector that the append Expect announced will not be
// handed over (it failed, or stored other sequences than predicted): what
// the log holds beyond the checkpoint is read from it.
func (p *Projector) Abandon() {
	p.mu.Lock()
	p.flying = 0
	p.mu.Unlock()
	p.poke()
}

// Notify tells the projector that the log holds at least sequence seq (the
// writer saw another writer's appends; a query waits for them): it reads
// what memory does not hold from the log at once instead of at its next
// poll.
func (p *Projector) Notify(seq uint64) {
	p.mu.Lock()
	p.hint = max(p.hint, seq)
	p.mu.Unlock()
	p.poke()
}

func (p *Projector) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// follow folds the log as it grows: what this ledger's writer appended from
// memory (Offer), anything else — other writers' events, a gap after a
// dropped handoff, the log at start — read from the log. It learns of the
// log's end from the writer, from Notify, and by asking every pollInterval.
func (p *Projector) follow(ctx context.Context) error {
	last, err := p.es.LastSeq(ctx)
	if err != nil {
		return err
	}
	p.Notify(last)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		folded, err := p.foldMemory()
		if err != nil {
			return err
		}
		if folded {
			continue
		}
		if p.gap() {
			before := p.Checkpoint()
			if err := p.readLog(ctx); err != nil {
				return err
			}
			if p.Checkpoint() == before {
				// The log holds less than the hint said (a query's
				// min_seq beyond its end): take its end as it is.
				last, err := p.es.LastSeq(ctx)
				if err != nil {
					return err
				}
				p.mu.Lock()
				p.hint = last
				p.mu.Unlock()
				if last > before {
					continue
				}
				select { // nothing to read: wait for news
				case <-ctx.Done():
					return ctx.Err()
				case <-p.wake:
				case <-tick.C:
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-tick.C:
			last, err := p.es.LastSeq(ctx)
			if err != nil {
				return err
			}
			p.mu.Lock()
			p.hint = max(p.hint, last)
			if last > p.cp {
				p.behind = last - p.cp
			}
			p.mu.Unlock()
		}
	}
}

// foldMemory folds the handoffs that continue the checkpoint, in one
// transaction up to foldBatch events, and drops those the read models
// already hold. It reports whether it folded anything.
func (p *Projector) foldMemory() (bool, error) {
	p.mu.Lock()
	cp := p.cp
	var events []domain.Event
	for len(p.mem) > 0 && len(events) < foldBatch {
		h := p.mem[0]
		if h.last() <= cp {
			p.mem, p.memEvents = p.mem[1:], p.memEvents-len(h.events)
			continue
		}
		if h.first() > cp+1 {
			break // a gap before it: read from the log
		}
		skip := int(cp + 1 - h.first())
		if events == nil {
			// The usual case, one handoff: fold its events where they are
			// (clipped, so that a second handoff appended copies them).
			events = slices.Clip(h.events[skip:])
		} else {
			events = append(events, h.events[skip:]...)
		}
		cp = h.last()
		p.mem, p.memEvents = p.mem[1:], p.memEvents-len(h.events)
	}
	behind := p.hint
	p.mu.Unlock()
	if len(events) == 0 {
		return false, nil
	}
	touched := map[string]uint64{}
	for _, e := range events {
		touched[e.Partner] = e.Seq
	}
	if err := p.models().Fold(events); err != nil {
		return false, foldError(err)
	}
	if behind > cp {
		behind -= cp
	} else {
		behind = 0
	}
	p.advance(cp, behind, touched)
	return true, nil
}

// gap reports whether the log holds events beyond the checkpoint that
// memory does not: before the first handoff, or up to what the log is known
// to hold, unless all of that is the append this ledger's writer has under
// way (Expect): its handoff follows.
func (p *Projector) gap() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mem) > 0 {
		return p.mem[0].first() > p.cp+1
	}
	return p.hint > p.cp && p.hint > p.flying
}

// readLog folds the log from the checkpoint to its end (as it is when the
// read starts), as a pipeline: one goroutine reads and decodes, this one
// folds, so decoding and bbolt each keep a core busy. When the fold falls
// behind, waiting batches are folded together in one transaction. On any
// error both stop; the checkpoint only moves with a committed fold.
func (p *Projector) readLog(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan decoded, 4)
	g.Go(func() error {
		defer close(queue)
		return p.es.Read(gctx, p.Checkpoint()+1, "", func(batch []eventstore.Record) error {
			d := decodeBatch(batch, 0, p.log)
			select {
			case queue <- d:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		for d := range queue {
			for len(d.Events)+len(d.Foreign) < foldBatch && len(queue) > 0 {
				next := <-queue
				d.Events = append(d.Events, next.Events...)
				d.Foreign = append(d.Foreign, next.Foreign...)
				for id, seq := range next.touched {
					d.touched[id] = seq
				}
			}
			d.Refused = func(seq uint64, err error) {
				p.log.Warn("skipping an event in the event stream that the ledger did not write: the read models cannot take it", "seq", seq, "err", err)
			}
			if err := p.models().FoldBatch(d.Batch); err != nil {
				return foldError(err)
			}
			last := d.Last()
			p.mu.Lock()
			behind := uint64(0)
			if p.hint > last {
				behind = p.hint - last
			}
			p.mu.Unlock()
			p.advance(last, behind, d.touched)
		}
		return nil
	})
	return g.Wait()
}

// foldError classifies a failed fold: the log and the read models
// disagreeing, or read models whose records do not decode, is damage;
// anything else is the store's (bbolt, the disk: full, an I/O error) and is
// retried, the writer answering unavailable meanwhile: the log is fine.
func foldError(err error) error {
	if errors.Is(err, projections.ErrDisagree) || errors.Is(err, projections.ErrDamaged) {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return fmt.Errorf("storing a fold in the read models: %w", err)
}

// decodeBatch decodes a delivered batch. A record the ledger did not write
// is set aside as foreign (the fold skips and counts it), and logged with
// its sequence when log is not nil.
func decodeBatch(batch []eventstore.Record, behind uint64, log *slog.Logger) decoded {
	d := decoded{Batch: projections.Batch{Events: make([]domain.Event, 0, len(batch))}, touched: map[string]uint64{}, behind: behind}
	for _, r := range batch {
		e, err := DecodeRecorded(r)
		if err != nil {
			d.Foreign = append(d.Foreign, r.Seq)
			if log != nil {
				log.Warn("skipping a record in the event stream that the ledger did not write", "seq", r.Seq, "err", err)
			}
			continue
		}
		d.Events = append(d.Events, e)
		d.touched[e.Partner] = e.Seq
	}
	return d
}

func (p *Projector) advance(cp, behind uint64, touched map[string]uint64) {
	p.mu.Lock()
	p.cp, p.behind = cp, behind
	close(p.changed)
	p.changed = make(chan struct{})
	hooks := p.hooks
	p.mu.Unlock()
	for _, h := range hooks {
		h(cp, touched)
	}
}

// Reset points the projector at a new read model file (after a swap).
func (p *Projector) Reset(cp uint64) {
	p.advance(cp, 0, nil)
}

func (p *Projector) fail(err error) {
	p.log.Error("projector stopped: the log cannot be folded", "err", err)
	p.mu.Lock()
	p.failure = err
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Checkpoint is the last sequence folded.
func (p *Projector) Checkpoint() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cp
}

// Status reports the checkpoint, how many messages the stream held beyond the
// last fold, and a fatal failure if the projector stopped.
func (p *Projector) Status() (checkpoint, behind uint64, failure error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cp, p.behind, p.failure
}

// Holds reports, without waiting, whether the read models hold sequence
// seq; once the projector has stopped at a damaged log it returns that
// failure instead, as WaitFor does.
func (p *Projector) Holds(seq uint64) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failure != nil {
		return false, p.failure
	}
	return p.cp >= seq, nil
}

// WaitFor blocks until the read models hold sequence seq. Once the
// projector has stopped at a damaged log it returns that failure, whatever
// seq: the read models will not follow the log again until it is repaired.
func (p *Projector) WaitFor(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		cp, ch, failure := p.cp, p.changed, p.failure
		p.mu.Unlock()
		if failure != nil {
			return failure
		}
		if cp >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("read models at sequence %d, %d behind sequence %d: %w", cp, seq-cp, seq, ctx.Err())
		}
	}
}
