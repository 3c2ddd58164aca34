package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
	"github.com/nats-io/nats.go"
)

// Client calls the ledger service.
type Client struct {
	nc     *nats.Conn
	denied denials
}

// NewClient returns a client over nc. It installs an error handler on nc
// (chained to the existing one) so that a request the credentials do not
// permit fails at once with code forbidden instead of timing out.
func NewClient(nc *nats.Conn) *Client {
	c := &Client{nc: nc}
	c.denied.install(nc)
	return c
}

// Submit sends NDJSON lines (at most ledger.MaxLines, blank ones
// included) and returns one result per line that is not blank: blank lines
// are skipped, and results carry the lines' 1-based numbers among all.
func (c *Client) Submit(ctx context.Context, lines [][]byte) ([]ledger.LineResult, error) {
	reply, err := c.call(ctx, EndpointSubmit, bytes.Join(lines, []byte("\n")))
	if err != nil {
		return nil, err
	}
	out, err := ParseSubmitReply(reply)
	if err != nil {
		return nil, err
	}
	want := 0
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			want++
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("rpc: %d results for %d lines that are not blank", len(out), want)
	}
	return out, nil
}

// Query calls a query endpoint and returns the raw JSON document.
func (c *Client) Query(ctx context.Context, endpoint string, q ledger.Query) ([]byte, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	return c.call(ctx, endpoint, body)
}

// Call calls an endpoint with a raw body (the administrative ones take none).
func (c *Client) Call(ctx context.Context, endpoint string, body []byte) ([]byte, error) {
	return c.call(ctx, endpoint, body)
}

// call sends a request and turns a micro error reply into a coded error.
func (c *Client) call(ctx context.Context, endpoint string, body []byte) ([]byte, error) {
	ctx, stop := c.denied.watch(ctx, Subject(endpoint))
	defer stop()
	msg, err := c.nc.RequestWithContext(ctx, Subject(endpoint), body)
	if err != nil {
		if cause := context.Cause(ctx); domain.CodeOf(cause) == domain.CodeForbidden {
			return nil, cause
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			// The NATS server's max payload is below the ledger's own limit
			// (an external server keeps its default of 1 MiB): the request
			// never left.
			return nil, &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf(
				"request is %d bytes: the NATS server takes at most %d (max_payload), the ledger %d; send fewer lines per request",
				len(body), c.nc.MaxPayload(), MaxRequestBytes)}
		}
		return nil, fmt.Errorf("rpc: %s: %w", endpoint, err)
	}
	if msg.Header.Get(micro.ErrorCodeHeader) != "" {
		var eb ErrorBody
		if json.Unmarshal(msg.Data, &eb) != nil || eb.Code == "" {
			eb = ErrorBody{Code: domain.Code(msg.Header.Get(micro.ErrorHeader)), Error: string(msg.Data)}
		}
		return nil, &domain.Error{Code: eb.Code, Msg: eb.Error}
	}
	return msg.Data, nil
}

// Watch is how CallWatched checks, while it waits for a long answer, that
// the ledger instances that were there when the call was sent are still
// there. Discovery ($SRV.PING.ledger) is open to every role.
type Watch struct {
	Every  time.Duration // between checks
	Wait   time.Duration // how long a check collects answers
	Misses int           // consecutive checks an instance may miss before the call fails
}

// DefaultWatch notices a restarted ledger at the first check after it is
// back (a few seconds), and a ledger that stopped answering after three
// missed checks (about 9 s): long enough not to mistake a busy moment for
// a loss, short enough that nobody waits on an answer that cannot come.
var DefaultWatch = Watch{Every: 2 * time.Second, Wait: time.Second, Misses: 3}

// CallWatched calls an endpoint whose answer may take long (verify,
// rebuild). A request is handled by the instance that received it, and
// nobody else: if that instance stops, its answer never comes. So, while
// waiting, CallWatched pings the service; when an instance that answered
// before the call is gone and a new one answers (a restart), or it has not
// answered w.Misses checks in a row, the call fails with code unavailable.
func (c *Client) CallWatched(ctx context.Context, endpoint string, body []byte, w Watch) ([]byte, error) {
	before, err := c.instances(ctx, w.Wait, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(w.Every)
		defer t.Stop()
		missed := map[string]int{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if len(before) == 0 { // nobody answered the first ping: take the first that answer
				before, _ = c.instances(ctx, w.Wait, nil)
				continue
			}
			now, err := c.instances(ctx, w.Wait, before)
			if err != nil {
				continue // ctx ended, or the connection is closed: the call ends by itself
			}
			var fresh []string
			for id := range now {
				if _, ok := before[id]; !ok {
					fresh = append(fresh, id)
				}
			}
			for id := range before {
				if _, ok := now[id]; ok {
					missed[id] = 0
					continue
				}
				missed[id]++
				switch {
				case len(fresh) > 0:
					cancel(&domain.Error{Code: domain.CodeUnavailable, Msg: fmt.Sprintf(
						"the ledger restarted during %s (instance %s is gone, %s answers): the answer cannot come; run it again", endpoint, id, strings.Join(fresh, ", "))})
					return
				case missed[id] >= w.Misses:
					cancel(&domain.Error{Code: domain.CodeUnavailable, Msg: fmt.Sprintf(
						"the ledger instance %s stopped answering during %s (%d checks %s apart without an answer): the answer may never come; check the ledger and run it again",
						id, endpoint, missed[id], w.Every)})
					return
				}
			}
		}
	}()
	out, err := c.call(ctx, endpoint, body)
	if cause := context.Cause(ctx); err != nil && domain.CodeOf(cause) == domain.CodeUnavailable {
		return nil, cause
	}
	return out, err
}

// instances pings the service and collects the ids of the instances that
// answer within wait, or until every id in want has answered.
func (c *Client) instances(ctx context.Context, wait time.Duration, want map[string]struct{}) (map[string]struct{}, error) {
	subject, err := micro.ControlSubject(micro.PingVerb, ServiceName, "")
	if err != nil {
		return nil, err
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("rpc: ping %s: %w", ServiceName, err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, fmt.Errorf("rpc: ping %s: %w", ServiceName, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	seen := map[string]struct{}{}
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return seen, nil // the wait is over (the caller watches its own ctx)
			}
			return nil, fmt.Errorf("rpc: ping %s: %w", ServiceName, err)
		}
		var p micro.Ping
		if json.Unmarshal(msg.Data, &p) == nil && p.ID != "" && p.Name == ServiceName {
			seen[p.ID] = struct{}{}
		}
		if len(want) > 0 && len(seen) >= len(want) {
			all := true
			for id := range want {
				if _, ok := seen[id]; !ok {
					all = false
				}
			}
			if all {
				return seen, nil
			}
		}
	}
}
