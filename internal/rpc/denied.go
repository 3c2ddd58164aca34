package rpc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/nats-io/nats.go"
)

// denials turns the server's refusal of a request into the request's error.
// The server answers a publish the credentials do not permit with an
// asynchronous "Permissions Violation for Publish to SUBJECT" and drops it,
// so the request itself would only time out (and the CLI retry it). The
// client watches for the violation and fails the calls on that subject at
// once with code forbidden.
type denials struct {
	mu    sync.Mutex
	calls map[*deniable]struct{} // in-flight calls
}

type deniable struct {
	subject string
	cancel  context.CancelCauseFunc
}

var publishViolation = regexp.MustCompile(`Publish to "([^"]+)"`)

// install chains the client's handler in front of nc's error handler; a
// violation that failed a call is not passed on (it is reported there).
func (d *denials) install(nc *nats.Conn) {
	d.calls = map[*deniable]struct{}{}
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(conn *nats.Conn, sub *nats.Subscription, err error) {
		if d.deny(err) {
			return
		}
		if prev != nil {
			prev(conn, sub, err)
		}
	})
}

// watch returns a context that is cancelled, with the refusal as its cause,
// if the server refuses a publish to subject; stop releases it.
func (d *denials) watch(ctx context.Context, subject string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &deniable{subject: subject, cancel: cancel}
	d.mu.Lock()
	d.calls[w] = struct{}{}
	d.mu.Unlock()
	return ctx, func() {
		d.mu.Lock()
		delete(d.calls, w)
		d.mu.Unlock()
		cancel(nil)
	}
}

// deny fails the calls a publish violation names; it reports whether any.
func (d *denials) deny(err error) bool {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return false
	}
	m := publishViolation.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	denied := &domain.Error{Code: domain.CodeForbidden,
		Msg: fmt.Sprintf("these credentials may not call %s (the server refused the request: %v)", m[1], err)}
	hit := false
	d.mu.Lock()
	for w := range d.calls {
		if w.subject == m[1] {
			w.cancel(denied)
			hit = true
		}
	}
	d.mu.Unlock()
	return hit
}
