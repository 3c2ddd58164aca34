package rpc

import (
	"context"
	"sync"
	"time"
)

// deadlineContext is context.WithDeadline(context.Background(), d) that
// arms no timer until something asks for Done. Most requests never do: a
// tier or benefits question answered from the query cache only checks Err
// between steps. A real deadline context costs each request three
// allocations and a timer started and stopped: in the profile of a 200k
// bench's query phase, 0.27 s of the workers' 2.93 s.
//
// Until Done is asked for, Err compares the clock with the deadline (and
// latches what it saw). Once Done is asked for, the context is the real
// one, created then: cancelled if the request's was, else with the same
// deadline, expired if that has passed. So Done closes exactly when Err
// turns non-nil, Value finds the real context's cancellation for the
// contexts derived from it (which therefore start no goroutine to watch
// it), and context.Cause answers as it does for the real one.
type deadlineContext struct {
	deadline time.Time

	mu       sync.Mutex
	real     context.Context // nil until Done is asked for
	stop     context.CancelFunc
	canceled bool // cancelled before the deadline, with no real context yet
	expired  bool // Err has reported the deadline, with no real context yet
}

// withDeadline returns a context that expires at d and its cancel func,
// which the caller must call when the request is done, as with
// context.WithDeadline.
func withDeadline(d time.Time) (context.Context, context.CancelFunc) {
	c := &deadlineContext{deadline: d}
	return c, c.cancel
}

// Deadline returns the deadline; ok is always true.
func (c *deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns the real context's channel, creating that context first.
func (c *deadlineContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.real != nil:
	case c.canceled:
		// Cancelled first: the real context must say so, even once the
		// deadline has passed (a WithDeadline made now would say expired).
		c.real, c.stop = context.WithCancel(context.Background())
		c.stop()
	default:
		c.real, c.stop = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.real.Done()
}

// Err returns context.Canceled after cancel, context.DeadlineExceeded from
// the deadline on, else nil — the real context's Err once it exists. Once
// non-nil it does not change: the clock is read under the lock, and a
// deadline seen is latched.
func (c *deadlineContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.real != nil:
		return c.real.Err()
	case c.canceled:
		return context.Canceled
	case c.expired || !time.Now().Before(c.deadline):
		c.expired = true
		return context.DeadlineExceeded
	}
	return nil
}

// Value returns the real context's value for key once it exists, else nil
// (a request's context carries no values).
func (c *deadlineContext) Value(key any) any {
	c.mu.Lock()
	real := c.real
	c.mu.Unlock()
	if real == nil {
		return nil
	}
	return real.Value(key)
}

// cancel cancels the context (and the real one, if made, stopping its
// timer). It may be called more than once.
func (c *deadlineContext) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real != nil {
		c.stop()
		return
	}
	// A deadline already passed stays the cause, as the real context's
	// timer would have made it.
	if !c.expired && time.Now().Before(c.deadline) {
		c.canceled = true
	} else {
		c.expired = true
	}
}
