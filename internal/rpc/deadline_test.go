package rpc

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDeadlineContextActsAsWithDeadline: the lazy request context answers
// Deadline, Err, Done and context.Cause as context.WithDeadline does —
// before and after its deadline, cancelled before or after it, with Done
// asked for first or last — and the contexts derived from it are cancelled
// with it and keep its deadline.
func TestDeadlineContextActsAsWithDeadline(t *testing.T) {
	type step func(ctx context.Context, cancel context.CancelFunc)
	// wait waits for the context to end (the real one's timer can fire
	// late on a busy machine).
	wait := func(ctx context.Context, _ context.CancelFunc) {
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	cancelIt := func(_ context.Context, cancel context.CancelFunc) { cancel() }
	done := func(ctx context.Context, _ context.CancelFunc) { ctx.Done() }
	cases := []struct {
		name  string
		steps []step
	}{
		{"fresh", nil},
		{"Done asked for", []step{done}},
		{"cancelled", []step{cancelIt}},
		{"cancelled twice", []step{cancelIt, cancelIt}},
		{"cancelled, then Done", []step{cancelIt, done}},
		{"Done, then cancelled", []step{done, cancelIt}},
		{"past its deadline", []step{wait}},
		{"past its deadline, then Done", []step{wait, done}},
		{"Done, then past its deadline", []step{done, wait}},
		{"past its deadline, then cancelled", []step{wait, cancelIt}},
		{"cancelled, then past its deadline", []step{cancelIt, wait}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Far enough for the deadline not to pass unless waited for.
			d := time.Now().Add(time.Hour)
			if strings.Contains(tc.name, "deadline") {
				d = time.Now().Add(20 * time.Millisecond)
			}
			lazy, lazyCancel := withDeadline(d)
			real, realCancel := context.WithDeadline(context.Background(), d)
			defer lazyCancel()
			defer realCancel()
			for _, s := range tc.steps {
				s(lazy, lazyCancel)
				s(real, realCancel)
			}
			if dl, ok := lazy.Deadline(); !ok || !dl.Equal(d) {
				t.Errorf("Deadline %v %v, want %v true", dl, ok, d)
			}
			if got, want := lazy.Err(), real.Err(); got != want {
				t.Fatalf("Err %v, context.WithDeadline's %v", got, want)
			}
			if got, want := context.Cause(lazy), context.Cause(real); got != want {
				t.Errorf("Cause %v, context.WithDeadline's %v", got, want)
			}
			select {
			case <-lazy.Done():
				if real.Err() == nil {
					t.Error("Done closed before the deadline or a cancel")
				}
			default:
				if real.Err() != nil {
					t.Error("Done not closed after", real.Err())
				}
			}
			// A derived context follows it.
			child, stop := context.WithCancel(lazy)
			defer stop()
			if dl, _ := child.Deadline(); !dl.Equal(d) {
				t.Errorf("a derived context's deadline %v, want %v", dl, d)
			}
			lazyCancel()
			select {
			case <-child.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("a derived context outlived its parent's cancel")
			}
			if !errors.Is(child.Err(), context.Canceled) && !errors.Is(child.Err(), context.DeadlineExceeded) {
				t.Errorf("a derived context ended with %v", child.Err())
			}
		})
	}
}

// TestDeadlineContextExpiresUnwatched: with nothing asking for Done, Err
// still turns DeadlineExceeded at the deadline, and Done then asked for is
// already closed.
func TestDeadlineContextExpiresUnwatched(t *testing.T) {
	ctx, cancel := withDeadline(time.Now().Add(5 * time.Millisecond))
	defer cancel()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	for ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if ctx.Err() != context.DeadlineExceeded {
		t.Fatalf("Err %v, want DeadlineExceeded", ctx.Err())
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done asked for after the deadline is not closed")
	}
}

// TestDeadlineContextIsLazy: Err, Deadline and Value arm nothing; Done
// makes the real context once; a context derived from it attaches to that
// real context instead of starting a goroutine to watch it (as one derived
// from a context whose Value hid the real cancellation would).
func TestDeadlineContextIsLazy(t *testing.T) {
	ctx, cancel := withDeadline(time.Now().Add(time.Hour))
	defer cancel()
	c := ctx.(*deadlineContext)
	ctx.Err()
	ctx.Deadline()
	ctx.Value("key")
	if c.real != nil {
		t.Fatal("a real context made before Done was asked for")
	}
	before := runtime.NumGoroutine()
	const derived = 1000
	stops := make([]context.CancelFunc, derived)
	for i := range stops {
		_, stops[i] = context.WithCancel(ctx)
	}
	if grew := runtime.NumGoroutine() - before; grew >= derived/2 {
		t.Errorf("%d derived contexts started %d goroutines", derived, grew)
	}
	for _, stop := range stops {
		stop()
	}
	real := c.real
	ctx.Done()
	if real == nil || c.real != real {
		t.Fatal("Done did not make the real context once")
	}
}

// TestDeadlineContextErrSettles: from many goroutines calling Err, Done and
// cancel around the deadline, no goroutine sees Err change once it has
// seen it non-nil (go test -race checks the locking too).
func TestDeadlineContextErrSettles(t *testing.T) {
	for range 50 {
		ctx, cancel := withDeadline(time.Now().Add(2 * time.Millisecond))
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var seen error
				for i := range 2000 {
					switch {
					case g == 1 && i == 500:
						ctx.Done()
					case g == 2 && i == 1000:
						cancel()
					}
					err := ctx.Err()
					if seen != nil && err != seen {
						t.Errorf("Err was %v, then %v", seen, err)
						return
					}
					seen = err
				}
			}()
		}
		wg.Wait()
		cancel()
	}
}
