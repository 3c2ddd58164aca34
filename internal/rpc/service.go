package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Limits of a request.
const (
	// MaxRequestBytes is the largest request body. It stays under the
	// embedded server's max payload (natsserver.MaxPayload, 8 MiB) with room
	// for headers, so an oversized request still reaches the ledger and is
	// answered request_too_large; one over the server's max payload is
	// refused by the client library, and Client reports that as
	// request_too_large too.
	MaxRequestBytes = 8<<20 - 64<<10
	submitTimeout   = 30 * time.Second
	queryTimeout    = 30 * time.Second
	adminTimeout    = 30 * time.Minute
	maxInFlight     = 256
)

// Server is the registered service.
type Server struct {
	svc      micro.Service
	w        *ledger.Writer
	q        *ledger.Queries
	log      *slog.Logger
	work     chan job // requests for the workers; at most maxInFlight run at once
	stopOnce sync.Once
	wg       sync.WaitGroup

	submitTimeout, queryTimeout time.Duration // deadlines of a request's handling
}

// Register adds the ledger service on nc. Handlers run concurrently (micro
// delivers one message at a time per endpoint), bounded by maxInFlight.
func Register(nc *nats.Conn, w *ledger.Writer, q *ledger.Queries, log *slog.Logger, opts ...Option) (*Server, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "marketplace benefits ledger: submit events, query tiers, benefits, history, audit, attention, stats",
	})
	if err != nil {
		return nil, fmt.Errorf("rpc: add service: %w", err)
	}
	s := &Server{svc: svc, w: w, q: q, log: log, work: make(chan job),
		submitTimeout: submitTimeout, queryTimeout: queryTimeout}
	for range maxInFlight {
		go s.worker()
	}
	g := svc.AddGroup(Group)
	endpoints := map[string]func(context.Context, micro.Request){
		EndpointSubmit:    s.submit,
		EndpointTier:      query(s, q.Tier),
		EndpointBenefits:  query(s, q.Benefits),
		EndpointHistory:   query(s, q.History),
		EndpointAudit:     query(s, q.Audit),
		EndpointAttention: query(s, q.Attention),
		EndpointStats:     respond(s, q.Stats),
	}
	s.addScans(endpoints)
	for _, opt := range opts {
		opt(s, endpoints)
	}
	for name, h := range endpoints {
		if err := g.AddEndpoint(name, s.async(h), micro.WithEndpointPendingLimits(-1, -1)); err != nil {
			s.Stop()
			return nil, fmt.Errorf("rpc: add endpoint %s: %w", name, err)
		}
	}
	if err := s.addRoleSubmit(g); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("rpc: add endpoint %s: %w", EndpointSubmitRole, err)
	}
	// Return once the server has the subscriptions: a client that connects
	// when the ledger says ready must not get "no responders".
	if err := nc.Flush(); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("rpc: flush subscriptions: %w", err)
	}
	return s, nil
}

// Stop stops taking requests and waits for in-flight ones to finish.
func (s *Server) Stop() error {
	err := s.svc.Stop()
	s.wg.Wait()
	s.stopOnce.Do(func() { close(s.work) })
	return err
}

// async hands a request to the worker pool, so one slow request does not
// hold the others; each runs with a deadline.
func (s *Server) async(h func(context.Context, micro.Request)) micro.HandlerFunc {
	return func(req micro.Request) {
		if !isRequest(req) {
			s.dropped(req)
			return
		}
		s.wg.Add(1)
		s.work <- job{h, req}
	}
}

// job is one request for the worker pool.
type job struct {
	h   func(context.Context, micro.Request)
	req micro.Request
}

// worker serves requests until the pool closes. Long-lived workers keep
// their grown stacks: a goroutine per request would grow a fresh stack for
// every JSON encoding, which showed up as a tenth of the query CPU.
func (s *Server) worker() {
	for j := range s.work {
		timeout := s.queryTimeout
		switch endpointOf(j.req.Subject()) {
		case Subject(EndpointSubmit):
			timeout = s.submitTimeout
		case Subject(EndpointVerify), Subject(EndpointRebuild):
			timeout = adminTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		j.h(ctx, j.req)
		cancel()
		s.wg.Done()
	}
}

func (s *Server) submit(ctx context.Context, req micro.Request) {
	permit, err := permitOf(req.Subject())
	if err != nil {
		s.fail(req, err)
		return
	}
	data := req.Data()
	if len(data) > MaxRequestBytes {
		s.fail(req, &domain.Error{Code: CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", len(data), MaxRequestBytes)})
		return
	}
	if len(bytes.TrimSpace(data)) == 0 {
		s.fail(req, &domain.Error{Code: CodeBadRequest, Msg: "the request has no input lines: send NDJSON, one CloudEvents envelope per line"})
		return
	}
	lines := SplitLines(data)
	if len(lines) > ledger.MaxLines {
		s.fail(req, &domain.Error{Code: CodeTooManyLines, Msg: fmt.Sprintf("%d lines, at most %d per request", len(lines), ledger.MaxLines)})
		return
	}
	results, err := s.w.SubmitAs(ctx, permit, lines)
	if err != nil {
		code := CodeInternal
		if errors.Is(err, context.DeadlineExceeded) {
			code = CodeTimeout
		}
		s.fail(req, &domain.Error{Code: code, Msg: "submission not confirmed: " + err.Error() + "; resubmit: duplicates are detected"})
		return
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for _, r := range results {
		enc.Encode(r)
	}
	req.Respond(out.Bytes())
}

// WithTimeouts replaces the deadlines of submit and query requests (30s
// each by default). A submission still unconfirmed at its deadline is
// answered with code timeout (resubmitting it is safe); a query's deadline
// bounds its waits.
func WithTimeouts(submit, query time.Duration) Option {
	return func(s *Server, _ map[string]func(context.Context, micro.Request)) {
		s.submitTimeout, s.queryTimeout = submit, query
	}
}

// query adapts a query method to an endpoint: decode the request strictly,
// answer the document or a coded error.
func query[D any](s *Server, fn func(context.Context, ledger.Query) (D, error)) func(context.Context, micro.Request) {
	return func(ctx context.Context, req micro.Request) {
		var q ledger.Query
		if len(bytes.TrimSpace(req.Data())) > 0 {
			dec := json.NewDecoder(bytes.NewReader(req.Data()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&q); err != nil {
				s.fail(req, &domain.Error{Code: CodeBadRequest, Msg: "request must be a JSON object {partner_id, at, known_seq, min_seq}: " + err.Error()})
				return
			}
		}
		doc, err := fn(ctx, q)
		if err != nil {
			s.fail(req, err)
			return
		}
		req.RespondJSON(doc)
	}
}

// fail answers a coded error: micro error headers with an HTTP-like status,
// and the JSON body.
func (s *Server) fail(req micro.Request, err error) {
	body := ErrorBody{Code: domain.CodeOf(err), Error: err.Error()}
	if body.Code == "" {
		body.Code = CodeInternal
		s.log.Error("request failed", "subject", req.Subject(), "err", err)
	}
	b, _ := json.Marshal(body)
	req.Error(status(body.Code), string(body.Code), b)
}

func status(c domain.Code) string {
	switch c {
	case domain.CodeUnknownPartner:
		return "404"
	case ledger.CodeProjectionBehind, ledger.CodeDamaged, ledger.CodeUnavailable, ledger.CodeBusy:
		return "503"
	case CodeTimeout:
		return "504"
	case CodeInternal:
		return "500"
	case ledger.CodeForbidden:
		return "403"
	}
	return "400"
}

// SplitLines splits NDJSON into lines, dropping a trailing newline and
// carriage returns; blank lines are kept, so line numbers stay those of the
// input (a blank line is answered as invalid_json).
func SplitLines(data []byte) [][]byte {
	data = bytes.TrimRight(data, "\r\n")
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return lines
}
