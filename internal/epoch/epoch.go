// Package epoch hands out epochs: contexts that are done at the next change
// of something watched (a stream's leader, a connection), so that a request
// in flight can follow the change with context.AfterFunc instead of a
// goroutine of its own.
package epoch

import (
	"context"
	"sync"
)

// Watch is the current epoch of one watched thing. Its zero value is not
// ready: use New. A nil *Watch has no epoch (Current returns nil). It is
// safe for concurrent use.
type Watch struct {
	mu  sync.Mutex
	ctx context.Context // done at the next change, then replaced
	end context.CancelFunc
}

// New returns a watch in its first epoch.
func New() *Watch {
	w := &Watch{}
	w.ctx, w.end = context.WithCancel(context.Background())
	return w
}

// Current returns the current epoch: a context done at the next change
// (nil for a nil watch). It is never done before then and never ends
// otherwise.
func (w *Watch) Current() context.Context {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ctx
}

// Next ends the current epoch (its context is done) and starts the next.
func (w *Watch) Next() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.end()
	w.ctx, w.end = context.WithCancel(context.Background())
}
