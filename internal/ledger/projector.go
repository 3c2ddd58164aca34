package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	es     *eventstore.Store
	models func() *projections.Store
	log    *slog.Logger

	mu      sync.Mutex
	cp      uint64
	behind  uint64        // messages the stream still held after the last batch
	changed chan struct{} // closed and replaced whenever cp moves
	hooks   []func(checkpoint uint64, partners map[string]uint64)
	failure error // a fold that cannot go on: a damaged log or read model
}

// ErrDamaged marks a log the projector cannot fold: it stops rather than
// serve read models that silently skip an event.
var ErrDamaged = errors.New("ledger: the event log cannot be folded")

// NewProjector starts from the read models' checkpoint.
func NewProjector(es *eventstore.Store, models func() *projections.Store, log *slog.Logger) (*Projector, error) {
	cp, err := models().Checkpoint()
	if err != nil {
		return nil, err
	}
	return &Projector{es: es, models: models, log: log, cp: cp, changed: make(chan struct{})}, nil
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

// Run follows the log until ctx ends or the log cannot be folded. Transient
// failures (a reconnecting server) are retried.
func (p *Projector) Run(ctx context.Context) error {
	if _, err := p.CheckLog(ctx); IsDamaged(err) {
		return err
	} else if err != nil {
		p.log.Warn("projector: cannot check the log before following it", "err", err)
	}
	for {
		err := p.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsDamaged(err) {
			p.fail(err)
			return err
		}
		p.log.Warn("projector: following the log failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
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
	events  []domain.Event
	touched map[string]uint64
	behind  uint64
}

// follow folds the log as it grows, as a pipeline: the follower goroutine
// reads and decodes, this one folds, so decoding and bbolt each keep a core
// busy. When the fold falls behind, waiting batches are folded together in
// one transaction. On any error both stop; Run resumes from the checkpoint,
// which only a committed fold moves.
func (p *Projector) follow(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan decoded, 4)
	g.Go(func() error {
		defer close(queue)
		return p.es.Follow(gctx, p.Checkpoint()+1, func(batch []eventstore.Record, behind uint64) error {
			d, err := decodeBatch(batch, behind)
			if err != nil {
				return err
			}
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
			for len(d.events) < foldBatch && len(queue) > 0 {
				next := <-queue
				d.events = append(d.events, next.events...)
				for id, seq := range next.touched {
					d.touched[id] = seq
				}
				d.behind = next.behind
			}
			if err := p.models().Fold(d.events); err != nil {
				return foldError(err)
			}
			p.advance(d.events[len(d.events)-1].Seq, d.behind, d.touched)
		}
		return nil
	})
	return g.Wait()
}

// foldError classifies a failed fold. Events that do not fold, or read
// models that do not decode, stop the projector (ErrDamaged); anything else
// is the store's (bbolt, the disk: full, an I/O error) and is retried, the
// writer answering unavailable meanwhile: the log is fine.
func foldError(err error) error {
	if errors.Is(err, projections.ErrUnfoldable) || errors.Is(err, projections.ErrDamaged) {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return fmt.Errorf("projector: writing the read models: %w", err)
}

// decodeBatch decodes a delivered batch; an undecodable event damages the log.
func decodeBatch(batch []eventstore.Record, behind uint64) (decoded, error) {
	d := decoded{events: make([]domain.Event, 0, len(batch)), touched: map[string]uint64{}, behind: behind}
	for _, r := range batch {
		e, err := DecodeEvent(r)
		if err != nil {
			return d, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		d.events = append(d.events, e)
		d.touched[e.Partner] = e.Seq
	}
	return d, nil
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
