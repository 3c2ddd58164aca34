package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
	"github.com/nats-io/nats.go"
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
	nc       *nats.Conn
	w        *ledger.Writer
	q        *ledger.Queries
	log      *slog.Logger
	work     chan job // admitted requests for the workers; at most maxInFlight run at once
	limits   Limits
	adm      *admission
	stopOnce sync.Once
	wg       sync.WaitGroup
	stopMu   sync.RWMutex // guards stopped against requests still being delivered
	stopped  bool         // set by Stop: requests after it are answered unavailable
	obs      Observer     // nil: nobody listens (WithObserver)

	submitTimeout, queryTimeout time.Duration // deadlines of a request's handling
}

// Register adds the ledger service on nc. Handlers run concurrently (micro
// delivers one message at a time per endpoint), bounded by maxInFlight; the
// requests held at once are bounded by Limits (WithLimits), beyond which a
// request is answered busy at once.
func Register(nc *nats.Conn, w *ledger.Writer, q *ledger.Queries, log *slog.Logger, opts ...Option) (*Server, error) {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     ServiceVersion,
		Description: "marketplace benefits ledger: submit events, query tiers, benefits, history, audit, attention, stats",
	})
	if err != nil {
		return nil, fmt.Errorf("rpc: add service: %w", err)
	}
	s := &Server{svc: svc, nc: nc, w: w, q: q, log: log, limits: DefaultLimits(),
		submitTimeout: submitTimeout, queryTimeout: queryTimeout}
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
	// The admission holds at most limits.Total requests, so handing one to
	// the workers never blocks the subscription that delivered it.
	s.adm = newAdmission(s.limits)
	s.work = make(chan job, s.limits.Total)
	for range maxInFlight {
		go s.worker()
	}
	for name, h := range endpoints {
		if err := g.AddEndpoint(name, s.async(h), micro.WithEndpointPendingLimits(subPendingMsgs, subPendingBytes)); err != nil {
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
	// Draining the subscriptions is asynchronous: a request may still be
	// delivered. It must not reach the closed pool.
	s.stopMu.Lock()
	s.stopped = true
	s.stopMu.Unlock()
	s.wg.Wait()
	s.stopOnce.Do(func() { close(s.work) })
	return err
}

// async admits a request (Limits) and hands it to the worker pool, so one
// slow request does not hold the others; each runs with a deadline. A
// request over the limits is answered busy at once, never queued. It is a
// micro.AsyncHandler: the endpoint's $SRV.STATS count each request when a
// worker has answered it, with its real processing time and error replies.
func (s *Server) async(h func(context.Context, micro.Request)) micro.Handler {
	return asyncHandler{s, h}
}

type asyncHandler struct {
	s *Server
	h func(context.Context, micro.Request)
}

func (a asyncHandler) Handle(req micro.Request) { a.HandleAsync(req, func() {}) }

func (a asyncHandler) HandleAsync(req micro.Request, done func()) {
	s := a.s
	if !isRequest(req) {
		s.dropped(req)
		done()
		return
	}
	s.stopMu.RLock()
	if s.stopped {
		s.stopMu.RUnlock()
		s.fail(req, &domain.Error{Code: domain.CodeUnavailable, Msg: "the ledger is stopping: retry (nothing was done)"})
		done()
		return
	}
	s.wg.Add(1) // before Stop can wait: the pool stays open for this request
	s.stopMu.RUnlock()
	t, err := s.adm.admit(endpointOf(req.Subject()), clientOf(req), requestBytes(req))
	if err != nil {
		if s.obs != nil && domain.CodeOf(err) == domain.CodeBusy {
			s.obs.Busy(metricEndpoint(req.Subject()))
		}
		s.wg.Done()
		s.fail(req, err)
		done()
		return
	}
	s.work <- job{a.h, req, t, done}
}

// job is one request for the worker pool.
type job struct {
	h    func(context.Context, micro.Request)
	req  micro.Request
	t    ticket
	done func() // counts the request in the endpoint's stats
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
		case Subject(EndpointVerify), Subject(EndpointRebuild), Subject(EndpointBackup):
			timeout = adminTimeout
		}
		start := time.Now()
		ctx, cancel := withDeadline(start.Add(timeout))
		j.h(ctx, j.req)
		cancel()
		if s.obs != nil {
			s.obs.Query(metricEndpoint(j.req.Subject()), time.Since(start))
		}
		j.done()
		s.adm.release(j.t)
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
		s.fail(req, &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", len(data), MaxRequestBytes)})
		return
	}
	// Any CloudEvents mode (structured NDJSON, binary, batch): the lines
	// are the structured envelopes the message carries or denotes.
	_, lines, err := cloudevents.Decode(req.Headers(), data)
	if err != nil {
		s.fail(req, err)
		return
	}
	if cloudevents.Events(lines) == 0 {
		s.fail(req, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "the request has no input lines: send NDJSON, one CloudEvents envelope per line, a binary-mode event or a batch"})
		return
	}
	if len(lines) > ledger.MaxLines {
		s.fail(req, &domain.Error{Code: domain.CodeTooManyLines, Msg: fmt.Sprintf("%d lines, at most %d per request", len(lines), ledger.MaxLines)})
		return
	}
	// Blank lines of NDJSON (counted above: they keep the input's line
	// numbers) are skipped, as ledger submit skips them: no result
	// (cloudevents.Merge), and the other lines keep their numbers.
	results, err := s.w.SubmitAs(ctx, permit, cloudevents.Raws(lines))
	if err != nil {
		code := domain.CodeInternal
		if errors.Is(err, context.DeadlineExceeded) {
			code = domain.CodeTimeout
		}
		s.fail(req, &domain.Error{Code: code, Msg: "submission not confirmed: " + err.Error() + "; resubmit: duplicates are detected"})
		return
	}
	results = cloudevents.Merge(lines, results)
	out := make([]byte, 0, 64*len(results)) // a result line is about 60 bytes
	for _, r := range results {
		out = append(r.AppendJSON(out), '\n') // the lines json.Encoder would write
	}
	s.respond(req, out)
}

// Observer hears how requests went, for metrics: each answered request's
// endpoint and time, and each refused busy. Called on the request's
// goroutine: cheap, never blocking.
type Observer interface {
	Query(endpoint string, d time.Duration)
	Busy(endpoint string)
}

// WithObserver makes o hear how requests went.
func WithObserver(o Observer) Option {
	return func(s *Server, _ map[string]func(context.Context, micro.Request)) { s.obs = o }
}

// metricEndpoint is a request's endpoint name for a metric label: the
// subject's last token ("tier", "submit"; ledger.submit.<role> is
// "submit"), bounded by the endpoints the service registers.
func metricEndpoint(subject string) string {
	return strings.TrimPrefix(endpointOf(subject), Group+".")
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
		q, err := DecodeQuery(req.Data())
		if err != nil {
			s.fail(req, err)
			return
		}
		doc, err := fn(ctx, q)
		if err != nil {
			s.fail(req, err)
			return
		}
		s.respondJSON(req, doc)
	}
}

// respondJSON answers a document (see respond), json.Marshal's bytes.
func (s *Server) respondJSON(req micro.Request, doc any) {
	b, err := domain.MarshalJSON(doc)
	if err != nil {
		s.fail(req, fmt.Errorf("rpc: encode the reply: %w", err))
		return
	}
	s.respond(req, b)
}

// respond answers data. A reply over the NATS server's max payload cannot
// be sent (the server would drop it and the caller time out): it is logged
// and answered reply_too_large instead. Any other send error is logged.
func (s *Server) respond(req micro.Request, data []byte) {
	limit := s.nc.MaxPayload()
	if int64(len(data)) <= limit {
		err := req.Respond(data)
		if err == nil {
			return
		}
		if !isMaxPayload(err) {
			s.log.Error("reply not sent", "subject", req.Subject(), "bytes", len(data), "err", err)
			return
		}
	}
	s.log.Warn("reply over the max payload; answering reply_too_large", "subject", req.Subject(), "bytes", len(data), "max_payload", limit)
	s.fail(req, &domain.Error{Code: domain.CodeReplyTooLarge, Msg: fmt.Sprintf(
		"the reply is %d bytes, over the NATS server's max payload of %d: ask for less", len(data), limit)})
}

// isMaxPayload tells a send refused for its size (micro wraps the client
// library's error as text, not as a chain).
func isMaxPayload(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || strings.Contains(err.Error(), nats.ErrMaxPayload.Error())
}

// DecodeQuery decodes a query request strictly (see DecodeStrict). An
// empty body is the zero query.
func DecodeQuery(data []byte) (ledger.Query, error) {
	if q, ok := fastQuery(data); ok {
		return q, nil
	}
	var q ledger.Query
	return q, DecodeStrict(data, &q)
}

// DecodeStrict decodes a request into *v as strictly as an input line:
// exactly one JSON object (nothing after it), valid UTF-8, no name twice,
// and every name one of v's JSON field names exactly as spelled —
// encoding/json alone would match names case-insensitively and let a
// repeated name win last. An empty body leaves *v as it is. A refusal is
// invalid_request naming the problem, with echoed input clipped.
func DecodeStrict[T any](data []byte, v *T) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	fields := jsonFields(reflect.TypeFor[T]())
	bad := func(format string, args ...any) error {
		return &domain.Error{Code: domain.CodeInvalidRequest, Msg: "request must be one JSON object {" + strings.Join(fields, ", ") + "}: " + fmt.Sprintf(format, args...)}
	}
	names, err := domain.ObjectNames(data)
	if err != nil {
		return bad("%s", domain.Clip(err.Error()))
	}
	for _, name := range names {
		if !slices.Contains(fields, name) {
			return bad("%q is not a field of this request (names are case-sensitive)", domain.Clip(name))
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Its message quotes a number whole: name the field and clip.
			return bad("%s must be of Go type %s (got %s)", te.Field, te.Type, domain.Clip(te.Value))
		}
		return bad("%s", domain.Clip(err.Error()))
	}
	return nil
}

// jsonFields are the JSON names of a struct's fields, read from its tags,
// so a field added to a request type is accepted without another list. The
// list is read once per type (reading the tags took half of decoding a
// query) and shared: callers must not change it.
func jsonFields(rt reflect.Type) []string {
	if names, ok := fieldNames.Load(rt); ok {
		return names.([]string)
	}
	names := tagNames(rt)
	fieldNames.Store(rt, names)
	return names
}

// fieldNames memoizes jsonFields, as encoding/json memoizes its own reading
// of a type's fields: reflect.Type → []string, a few request types at most.
var fieldNames sync.Map

// tagNames reads the JSON names of rt's fields from their tags.
func tagNames(rt reflect.Type) []string {
	var names []string
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// fail answers a coded error: micro error headers with an HTTP-like status,
// and the JSON body.
func (s *Server) fail(req micro.Request, err error) {
	body := ErrorBody{Code: domain.CodeOf(err), Error: err.Error()}
	if body.Code == "" && errors.Is(err, context.DeadlineExceeded) {
		// The request's own deadline (queryTimeout, submitTimeout) ran out
		// before its answer was ready.
		body.Code = domain.CodeTimeout
	}
	if body.Code == "" {
		body.Code = domain.CodeInternal
		s.log.Error("request failed", "subject", req.Subject(), "err", err)
	}
	b, _ := json.Marshal(body)
	if err := req.Error(status(body.Code), string(body.Code), b); err != nil {
		s.log.Error("error reply not sent", "subject", req.Subject(), "code", body.Code, "bytes", len(b), "err", err)
		if isMaxPayload(err) {
			// The message itself is too large (it quotes the request):
			// the code alone still goes out.
			b, _ = json.Marshal(ErrorBody{Code: body.Code, Error: string(body.Code) + " (the message was too large to send)"})
			if err := req.Error(status(body.Code), string(body.Code), b); err != nil {
				s.log.Error("error reply not sent", "subject", req.Subject(), "code", body.Code, "err", err)
			}
		}
	}
}

// status is the micro error header's status of a code (HTTPStatus).
func status(c domain.Code) string { return strconv.Itoa(HTTPStatus(c)) }

// SplitLines splits NDJSON into lines (cloudevents.SplitLines).
func SplitLines(data []byte) [][]byte { return cloudevents.SplitLines(data) }
