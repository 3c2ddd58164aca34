package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/internal/epoch"

	"github.com/nats-io/nats.go"
)

// errLeaderChanged cancels an append request that was sent before the
// stream elected a new leader or the connection reconnected.
var errLeaderChanged = errors.New("the stream changed leader (or the connection reconnected) while the request was in flight")

// advisoryLeaderElected is the subject on which JetStream announces that a
// stream (the suffix) has elected a leader.
const advisoryLeaderElected = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED."

// The leader watch tells appends in flight that their request may never be
// answered. On a clustered stream a request that reached a leader which then
// stepped down (or died), or one sent on a connection that broke before the
// reply came, gets no answer: the new leader knows nothing of it. Waiting for
// the request's timeout (10 s by default) would stall every writer on each
// failover. So an append gives up on a request as soon as the stream
// announces a new leader, or the connection reconnects; the outcome is then
// unknown, exactly as after a timeout, and the caller re-checks before
// retrying.
//
// The watch is an epoch.Watch: its epoch is done at the next change, so a
// request's context follows it with context.AfterFunc.

// cancelAtChange cancels ctx's child with errLeaderChanged when epoch ends;
// the returned stop releases the child and its link to epoch.
func cancelAtChange(ctx, epoch context.Context) (context.Context, func()) {
	cctx, cancel := context.WithCancelCause(ctx)
	unlink := context.AfterFunc(epoch, func() { cancel(errLeaderChanged) })
	return cctx, func() { unlink(); cancel(nil) }
}

// watchLeader starts the watch: the stream's leader-elected advisories and
// the connection's reconnects. It ends when the connection closes.
func (s *Store) watchLeader() error {
	w := epoch.New()
	sub, err := s.nc.Subscribe(advisoryLeaderElected+s.name, func(*nats.Msg) { w.Next() })
	if err != nil {
		return fmt.Errorf("eventstore: watch the stream's leader: %w", err)
	}
	status := s.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	go func() {
		for st := range status {
			if st == nats.CLOSED {
				s.nc.RemoveStatusListener(status)
				sub.Unsubscribe()
				return
			}
			w.Next()
		}
	}()
	s.leader = w
	return nil
}

// request sends m and waits for the reply, giving up with errLeaderChanged
// (wrapped with the context's error) when the leader changes first.
func (s *Store) request(ctx context.Context, m *nats.Msg) (*nats.Msg, error) {
	epoch := s.leader.Current()
	if epoch == nil {
		return s.nc.RequestMsgWithContext(ctx, m)
	}
	rctx, stop := cancelAtChange(ctx, epoch)
	defer stop()
	resp, err := s.nc.RequestMsgWithContext(rctx, m)
	if err != nil && errors.Is(context.Cause(rctx), errLeaderChanged) && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: %w", errLeaderChanged, err)
	}
	return resp, err
}

// untilAnswered runs a read-only request, sending it again when the stream
// changes leader (or the connection reconnects) before it is answered: on a
// cluster the request may have gone to a leader that is gone, and would
// otherwise wait out its whole timeout.
func (s *Store) untilAnswered(ctx context.Context, fn func(context.Context) error) error {
	for {
		epoch := s.leader.Current()
		if epoch == nil {
			return fn(ctx)
		}
		rctx, stop := cancelAtChange(ctx, epoch)
		err := fn(rctx)
		changed := errors.Is(context.Cause(rctx), errLeaderChanged)
		stop()
		if err == nil || !changed || ctx.Err() != nil {
			return err
		}
	}
}

// unavailableRetry is how long an append that found no leader waits before
// trying again when no leader election is announced meanwhile.
const unavailableRetry = 250 * time.Millisecond

// waitLeader waits for the change after epoch, at most unavailableRetry.
func waitLeader(ctx, epoch context.Context) error {
	t := time.NewTimer(unavailableRetry)
	defer t.Stop()
	select {
	case <-epoch.Done():
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// followCtx is the context a follower reads under: when following (not a
// bounded Read), it ends with errLeaderChanged at the change after epoch, so
// that the follower recreates its consumer at once. The consumer may have
// lived on the server that is gone; waiting for its missed heartbeats and
// the client library's own recreation (whose requests to a cluster between
// leaders go unanswered for 10 s) would stall the read models meanwhile.
func (s *Store) followCtx(ctx context.Context, following bool, epoch context.Context) (context.Context, func()) {
	if !following || epoch == nil {
		return ctx, func() {}
	}
	return cancelAtChange(ctx, epoch)
}
