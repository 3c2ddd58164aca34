package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
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

// Submit sends NDJSON lines (at most ledger.MaxLines) and returns one result
// per line.
func (c *Client) Submit(ctx context.Context, lines [][]byte) ([]ledger.LineResult, error) {
	reply, err := c.call(ctx, EndpointSubmit, bytes.Join(lines, []byte("\n")))
	if err != nil {
		return nil, err
	}
	var out []ledger.LineResult
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(make([]byte, 64<<10), MaxRequestBytes)
	for sc.Scan() {
		var r ledger.LineResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("rpc: bad submit reply: %w", err)
		}
		out = append(out, r)
	}
	if len(out) != len(lines) {
		return nil, fmt.Errorf("rpc: %d results for %d lines", len(out), len(lines))
	}
	return out, sc.Err()
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
		if cause := context.Cause(ctx); domain.CodeOf(cause) == ledger.CodeForbidden {
			return nil, cause
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			// The NATS server's max payload is below the ledger's own limit
			// (an external server keeps its default of 1 MiB): the request
			// never left.
			return nil, &domain.Error{Code: CodeRequestTooLarge, Msg: fmt.Sprintf(
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
