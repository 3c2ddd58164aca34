package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxReadBatch is the largest slice Read and Follow hand to their callback,
// and the number of messages the ordered consumer keeps in flight.
const MaxReadBatch = 4096

// minBatchCap is the smallest batch allocated while following a log.
const minBatchCap = 64

// flushAfter bounds how long a partial batch waits for more records. Records
// are normally handed over as soon as the server says nothing more is pending
// (NumPending == 0); this only matters while the consumer is being recreated
// with records already gathered.
const flushAfter = 50 * time.Millisecond

// consumerHeartbeat is how often an idle consumer hears from the server; two
// missed in a row recreate it. The library's default for ordered consumers
// (5 s) would leave a follower stalled 10 s when the server that held its
// consumer goes away, while the rest of a cluster carries on.
const consumerHeartbeat = time.Second

// consumerCreateTimeout bounds one attempt to create a consumer.
const consumerCreateTimeout = 2 * time.Second

// Follow's retry delays after a transient consumer failure (server restart,
// lost connection): short first, so a reconnect is picked up quickly.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Read delivers records in sequence order, starting at from (0 is taken as 1),
// up to the stream's last sequence when Read starts, or the sequence given
// with UpTo if that is earlier, then returns nil. With a partner, only that
// partner's records are delivered (up to its last record when Read starts).
// Slices hold up to MaxReadBatch records and are handed over as soon as what
// is available has arrived; fn may keep them.
//
// Errors: fn's error, returned as is (Read stops at once); ctx's; an error
// wrapping ErrSequenceGap when the stream's sequences are not consecutive;
// other errors of the server or the connection, wrapped.
func (s *Store) Read(ctx context.Context, from uint64, partner string, fn func([]Record) error, opts ...ReadOption) error {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	from = max(from, 1)
	var (
		end    uint64
		err    error
		filter string
	)
	if partner == "" {
		end, err = s.LastSeq(ctx)
	} else {
		filter = PartnerFilter(partner)
		end, err = s.PartnerLastSeq(ctx, partner)
	}
	if err != nil {
		return err
	}
	if o.to > 0 {
		end = min(end, o.to)
	}
	if end < from {
		return nil
	}
	last := from - 1
	_, err = s.consume(ctx, from, filter, end, &last, func(recs []Record, _ uint64) error { return fn(recs) })
	return err
}

// Follow delivers the whole stream from `from` (0 is taken as 1) in order and
// keeps delivering new records as they are appended, until ctx is done (it
// then returns ctx.Err()) or fn returns an error (returned as is). Each call
// of fn gets what is available, up to MaxReadBatch records, and pending, the
// number of records known to follow the last one in the batch (0 = caught up).
//
// Sequences are checked to be consecutive; a gap is an error wrapping
// ErrSequenceGap. If the consumer fails (server restart, reconnect), Follow
// recreates it after the last record fn accepted, so nothing is skipped or
// delivered twice. It gives up only when the connection is closed for good.
func (s *Store) Follow(ctx context.Context, from uint64, fn func(batch []Record, pending uint64) error) error {
	next := max(from, 1)
	delay := retryMin
	for {
		last := next - 1
		transient, err := s.consume(ctx, next, "", 0, &last, fn)
		if last >= next {
			delay = retryMin // progress was made: the failure is fresh
		}
		next = last + 1
		if !transient {
			return err
		}
		s.log.Warn("event follower: consumer failed, recreating", "next_seq", next, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
}

// consume runs one ordered consumer from start (optionally filtered) and
// hands batches to fn, stopping after sequence end (0: never). *last is the
// last sequence fn accepted. transient reports whether the failure is worth
// retrying with a new consumer (as opposed to ctx, fn or gap errors, or a
// permanently closed connection).
func (s *Store) consume(ctx context.Context, start uint64, filter string, end uint64, last *uint64,
	fn func([]Record, uint64) error) (transient bool, err error) {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
		// The library recreates the consumer itself after a missed heartbeat
		// or a reconnect, but its retries ignore our context; one attempt,
		// then Follow's own retry loop (which honours ctx) takes over.
		MaxResetAttempts: 1,
	}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	// Following, a leader change (or reconnect) recreates the consumer
	// (see followCtx); captured before the consumer exists so that no
	// change goes unnoticed.
	epoch := s.leader.Current()
	var cons jetstream.Consumer
	err = s.untilAnswered(ctx, func(ctx context.Context) (err error) {
		if end == 0 {
			// Following: bounded per attempt, because during a failover the
			// request can go unanswered, and Follow retries anyway.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, consumerCreateTimeout)
			defer cancel()
		}
		cons, err = s.stream.OrderedConsumer(ctx, cfg)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return s.transient(err), fmt.Errorf("eventstore: create ordered consumer at %d: %w", start, err)
	}
	defer s.deleteConsumer(ctx, cons)
	it, err := cons.Messages(jetstream.PullMaxMessages(MaxReadBatch), jetstream.PullHeartbeat(consumerHeartbeat))
	if err != nil {
		return s.transient(err), fmt.Errorf("eventstore: consume from %d: %w", start, err)
	}
	defer it.Stop()
	lctx, stop := s.followCtx(ctx, end == 0, epoch)
	defer stop()

	var (
		batch   = make([]Record, 0, batchCap(start, end, MaxReadBatch))
		wait    = batchWait{ctx: lctx}
		prev    = start - 1 // last sequence seen by this consumer
		pending uint64      // NumPending of the last record gathered
	)
	defer wait.stop(lctx)

	flush := func(pending uint64) error {
		wait.stop(lctx)
		if err := fn(batch, pending); err != nil {
			return err
		}
		*last = batch[len(batch)-1].Seq
		// A fresh slice: fn may keep the one it was given.
		batch = make([]Record, 0, batchCap(*last+1, end, pending))
		return nil
	}

	for {
		msg, err := it.Next(jetstream.NextContext(wait.ctx))
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if len(batch) > 0 && errors.Is(err, context.DeadlineExceeded) {
				// More was announced but has not come: hand over what we have.
				if err := flush(pending); err != nil {
					return false, err
				}
				continue
			}
			if lctx.Err() != nil {
				// The leader changed: hand over what has come, then start
				// a new consumer after it.
				if len(batch) > 0 {
					if err := flush(pending); err != nil {
						return false, err
					}
				}
				return true, fmt.Errorf("eventstore: following after %d: %w", prev, context.Cause(lctx))
			}
			return s.transient(err), fmt.Errorf("eventstore: next message after %d: %w", prev, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return true, fmt.Errorf("eventstore: message metadata after %d: %w", prev, err)
		}
		seq := meta.Sequence.Stream
		switch {
		case filter == "" && seq != prev+1:
			return false, fmt.Errorf("%w: expected sequence %d, got %d", ErrSequenceGap, prev+1, seq)
		case seq <= prev:
			return false, fmt.Errorf("%w: sequence %d after %d", ErrSequenceGap, seq, prev)
		case end > 0 && seq > end:
			// Only reachable if the stream changed under a filtered read;
			// the record is past what this Read promised.
			if len(batch) > 0 {
				return false, flush(0)
			}
			return false, nil
		}
		prev, pending = seq, meta.NumPending
		if len(batch) == 0 {
			wait.start(lctx)
		}
		batch = append(batch, NewRecord(seq, msg.Subject(), msg.Headers(), msg.Data(), meta.Timestamp))

		done := end > 0 && seq >= end
		if len(batch) == MaxReadBatch || pending == 0 || done {
			if err := flush(pending); err != nil {
				return false, err
			}
			if done {
				return false, nil
			}
		}
	}
}

// batchWait is the deadline for gathering the current batch: Next waits on
// ctx while the batch is empty, and at most flushAfter once it is not.
type batchWait struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *batchWait) start(parent context.Context) {
	w.ctx, w.cancel = context.WithTimeout(parent, flushAfter)
}

func (w *batchWait) stop(parent context.Context) {
	if w.cancel != nil {
		w.cancel()
		w.cancel = nil
	}
	w.ctx = parent
}

// batchCap sizes the next batch: no more than a bounded read has left, and
// no more than the server says is pending (but minBatchCap), so that a short
// Read, or following a live log one small batch after another, does not
// allocate MaxReadBatch records each time (that garbage once took a third of
// the CPU of an ingest).
func batchCap(next, end, pending uint64) int {
	n := min(max(pending, minBatchCap), MaxReadBatch)
	if end > 0 && end >= next {
		n = min(n, end-next+1)
	}
	return int(n)
}

// transient reports whether a consumer error may go away by itself.
func (s *Store) transient(err error) bool {
	// A missing stream counts as transient: on a cluster it can be briefly
	// unavailable after a restart or leader change, and Follow's job is to
	// resume when it is back.
	return !s.nc.IsClosed() && !errors.Is(err, nats.ErrConnectionClosed)
}

// deleteConsumer removes the ordered consumer's server-side state now rather
// than after its 5-minute inactivity threshold: Read is called per audit or
// replay and would otherwise leave a trail of idle consumers.
func (s *Store) deleteConsumer(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || !s.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, s.name, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.log.Debug("delete ordered consumer", "consumer", info.Name, "err", err)
	}
}
