package rpc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits of the reader gate. Consumers live in the stream's account and
// count against its limits, the ledger's own readers' included: the gate
// bounds what clients hold so that whatever they do, the ledger's own
// projector, verify and audits can still create theirs.
const (
	// ReaderConsumersPerRole is how many consumers one reading role (admin,
	// auditor) may hold at once through one ledger: an ordered consumer
	// uses one at a time, so 16 lets a handful of tools replay in parallel.
	ReaderConsumersPerRole = 16
	// readerInactiveMax is the longest a reader's consumer outlives its
	// last pull: abandoned consumers go away by themselves.
	readerInactiveMax = 5 * time.Minute
	// readerMaxWaiting bounds the pull requests parked on one consumer
	// (the server's default of 512 is for shared work queues).
	readerMaxWaiting = 16
	// readerMaxBatch bounds the messages one pull request may ask for
	// (the ledger's own reads ask for 4,096).
	readerMaxBatch = 10_000
	// readerMaxAckPending bounds the unacknowledged messages of a reader's
	// consumer that acknowledges (natscli's pager does).
	readerMaxAckPending = 1000
	// readerMaxExpires bounds how long one pull request may wait.
	readerMaxExpires = 5 * time.Minute
	// readerMaxRequest bounds a consumer request's body: a consumer
	// configuration is well under a kilobyte.
	readerMaxRequest = 64 << 10
	// readerAPITimeout bounds each JetStream API call the gate makes.
	readerAPITimeout = 5 * time.Second
	// readerPending bounds the gate's queue of requests not yet handled;
	// beyond it the client library drops requests (the caller times out),
	// so a flood costs a bounded amount of memory.
	readerPendingMsgs  = 256
	readerPendingBytes = 4 << 20
)

// readerMetadata is the consumer metadata key naming the role a reader
// consumer was created for.
const readerMetadata = "ledger_reader_role"

// JetStream API error codes the gate answers with, so that JetStream
// clients recognise them (nats.go's jetstream.ErrMaximumConsumersLimit,
// ErrConsumerNotFound).
const (
	jsErrMaximumConsumers = 10026
	jsErrConsumerNotFound = 10014
	jsErrBadRequest       = 10003
)

// ReaderGate creates and deletes the consumers of the reading roles on the
// event stream. Their accounts import the JetStream API's consumer create
// and delete subjects as the gate's subjects (auth.ReaderGateSubject), so
// the role comes from the server; everything else they read goes to
// JetStream directly. The gate lets a role create only pull consumers (an
// ordered consumer is one), in memory, that expire when idle, with bounded
// pulls and unacknowledged messages, at most ReaderConsumersPerRole at a
// time; and delete only consumers it created. A push consumer is refused:
// its deliveries would be published in the stream's account, to a subject
// of the reader's choosing. Acknowledgements ($JS.ACK.<stream>.>) are
// imported too: they change a consumer's delivery state, never the stream.
type ReaderGate struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *slog.Logger
	stream string
	limit  int
	sub    *nats.Subscription

	mu      sync.Mutex
	held    map[auth.Role]map[string]bool // consumers the gate created, by role
	nameKey []byte                        // the key naming OUTCOMES consumers, once read
}

// StartReaderGate subscribes the gate for stream on nc (the ledger's own
// connection, in the stream's account). Several ledgers on one stream share
// the subscription as a queue group, each with its own count. Stop it with
// Stop.
func StartReaderGate(nc *nats.Conn, stream string, log *slog.Logger) (*ReaderGate, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("reader gate: %w", err)
	}
	g := &ReaderGate{nc: nc, js: js, log: log, stream: stream, limit: ReaderConsumersPerRole,
		held: map[auth.Role]map[string]bool{}}
	if g.sub, err = nc.QueueSubscribe(auth.ReaderGateSubscription, "ledger-readers", g.handle); err != nil {
		return nil, fmt.Errorf("reader gate: subscribe: %w", err)
	}
	if err := g.sub.SetPendingLimits(readerPendingMsgs, readerPendingBytes); err != nil {
		g.sub.Unsubscribe()
		return nil, fmt.Errorf("reader gate: %w", err)
	}
	if err := nc.Flush(); err != nil {
		g.sub.Unsubscribe()
		return nil, fmt.Errorf("reader gate: flush: %w", err)
	}
	return g, nil
}

// Stop unsubscribes the gate. Consumers it created stay until they are
// idle for readerInactiveMax.
func (g *ReaderGate) Stop() error { return g.sub.Unsubscribe() }

// createRequest is the JetStream API's consumer create request, decoded to
// the fields JetStream knows: what is forwarded is re-encoded from it.
type createRequest struct {
	Stream   string                   `json:"stream_name"`
	Config   jetstream.ConsumerConfig `json:"config"`
	Action   string                   `json:"action,omitempty"`
	Pedantic bool                     `json:"pedantic,omitempty"`
}

// apiError is a JetStream API error reply.
type apiError struct {
	Type  string `json:"type"`
	Error struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func (g *ReaderGate) handle(m *nats.Msg) {
	if m.Reply == "" || strings.HasPrefix(m.Reply, "$JS.") {
		return // not a client's request (see isRequest)
	}
	role, op, rest, err := auth.ParseReaderGateSubject(m.Subject)
	if err != nil {
		g.refuse(m, "consumer_create", 400, jsErrBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), readerAPITimeout)
	defer cancel()
	switch op {
	case auth.GateCreate:
		g.create(ctx, m, role, g.stream, rest)
	case auth.GateDelete:
		g.delete(ctx, m, role, g.stream, rest)
	case auth.GateCreateOutcomes:
		g.create(ctx, m, role, auth.OutcomesStreamName, rest)
	case auth.GateDeleteOutcomes:
		g.delete(ctx, m, role, auth.OutcomesStreamName, rest)
	}
}

// create checks and forwards a consumer create request.
// On OUTCOMES a role that does not read everything may only create
// consumers filtered to its own outcomes (auth.OutcomesSubject).
func (g *ReaderGate) create(ctx context.Context, m *nats.Msg, role auth.Role, stream, rest string) {
	const kind = "consumer_create"
	name, filter, hasFilter := strings.Cut(rest, ".")
	req, err := g.checkCreate(m.Data, stream, name)
	if err == nil && stream == auth.OutcomesStreamName && !role.Reads() {
		err = checkOwnOutcomes(role, filter, &req.Config)
	}
	if err != nil {
		g.refuse(m, kind, 400, jsErrBadRequest, err.Error())
		return
	}
	{
		// Pulls, acks and inspections of reader consumers (on OUTCOMES and
		// on the event stream) reach JetStream directly, by name: the
		// consumer gets a name no other role can guess (a keyed hash of
		// role and name, then the one asked for). The client learns it
		// from the reply, as clients do; asking again for the same name
		// gives the same consumer.
		owned, err := g.ownedName(ctx, role, name)
		if err != nil {
			g.refuse(m, kind, 503, 0, "unavailable: naming the consumer: "+err.Error())
			return
		}
		name, rest = owned, owned
		if hasFilter {
			rest += "." + filter
		}
		req.Config.Name = name
		if req.Config.Durable != "" {
			req.Config.Durable = name
		}
	}
	if !g.reserve(ctx, role, stream, name) {
		g.refuse(m, kind, 400, jsErrMaximumConsumers, fmt.Sprintf(
			"reader_consumer_limit: role %s holds %d consumers on %s, at most %d; delete one, or let idle ones expire (%s)",
			role, g.limit, stream, g.limit, readerInactiveMax))
		return
	}
	req.Config.Metadata[readerMetadata] = string(role)
	body, _ := json.Marshal(req)
	resp, err := g.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.CREATE."+stream+"."+rest, body)
	if err != nil || !created(resp.Data) {
		g.release(role, stream, name)
	}
	if err != nil {
		g.refuse(m, kind, 503, 0, "unavailable: creating the consumer: "+err.Error())
		return
	}
	g.respond(m, resp.Data)
}

// checkCreate decodes a create request and returns what may be forwarded:
// a pull consumer, in memory, with its idle expiry, pulls and
// unacknowledged messages bounded.
func (g *ReaderGate) checkCreate(data []byte, stream, name string) (*createRequest, error) {
	if len(data) > readerMaxRequest {
		return nil, fmt.Errorf("request_too_large: consumer request is %d bytes, at most %d", len(data), readerMaxRequest)
	}
	var req createRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("invalid_request: consumer request: %w", err)
	}
	c := &req.Config
	switch {
	case req.Stream != stream:
		return nil, fmt.Errorf("invalid_request: stream %.64q, want %s", req.Stream, stream)
	case c.Name != "" && c.Name != name, c.Durable != "" && c.Durable != name:
		return nil, errors.New("invalid_request: the consumer name in the subject and the configuration differ")
	case c.DeliverSubject != "":
		return nil, errors.New("forbidden: readers may not create push consumers; use an ordered or pull consumer")
	}
	// A durable name is kept (natscli's pager asks for one), but the
	// consumer is bounded like any other: in memory, gone when idle.
	c.Name = name
	if c.AckPolicy != jetstream.AckNonePolicy && (c.MaxAckPending <= 0 || c.MaxAckPending > readerMaxAckPending) {
		c.MaxAckPending = readerMaxAckPending
	}
	if c.InactiveThreshold <= 0 || c.InactiveThreshold > readerInactiveMax {
		c.InactiveThreshold = readerInactiveMax
	}
	if c.MaxWaiting <= 0 || c.MaxWaiting > readerMaxWaiting {
		c.MaxWaiting = readerMaxWaiting
	}
	if c.MaxRequestBatch <= 0 || c.MaxRequestBatch > readerMaxBatch {
		c.MaxRequestBatch = readerMaxBatch
	}
	if c.MaxRequestExpires <= 0 || c.MaxRequestExpires > readerMaxExpires {
		c.MaxRequestExpires = readerMaxExpires
	}
	c.MemoryStorage, c.Replicas = true, 1
	// Who created it, in the consumer itself: a delete may reach another
	// ledger's gate (the gate is a queue group), which checks this.
	c.Metadata = map[string]string{readerMetadata: ""}
	// Create only: an existing consumer (the ledger's own, say) is never
	// changed through the gate.
	req.Action = "create"
	return &req, nil
}

// outcomeNameTag is how many bytes of the keyed hash a reader consumer's
// name carries: 128 bits, beyond guessing.
const outcomeNameTag = 16

// ownedName is the name the gate gives role's consumer (on OUTCOMES or on
// the event stream) asked for as name: a keyed hash of role and name, "_", and name (the key is the
// cluster's, in auth.OutcomeNamesKV, so every ledger's gate names alike).
func (g *ReaderGate) ownedName(ctx context.Context, role auth.Role, name string) (string, error) {
	g.mu.Lock()
	key := g.nameKey
	g.mu.Unlock()
	if key == nil {
		kv, err := g.js.KeyValue(ctx, auth.OutcomeNamesKV)
		if err != nil {
			return "", err
		}
		e, err := kv.Get(ctx, auth.OutcomeNamesKey)
		if err != nil {
			return "", err
		}
		key = e.Value()
		g.mu.Lock()
		g.nameKey = key
		g.mu.Unlock()
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(role))
	mac.Write([]byte{0})
	mac.Write([]byte(name))
	// The tag first: nats.go's ordered consumer reads its serial after
	// the name's last "_".
	return hex.EncodeToString(mac.Sum(nil)[:outcomeNameTag]) + "_" + name, nil
}

// checkOwnOutcomes refuses an OUTCOMES consumer of role that could deliver
// another role's outcomes: its filter (in the subject and the
// configuration) must be exactly the role's outcomes subject.
func checkOwnOutcomes(role auth.Role, subjectFilter string, c *jetstream.ConsumerConfig) error {
	own := auth.OutcomesSubject(role)
	filters := c.FilterSubjects
	if c.FilterSubject != "" {
		filters = append(filters, c.FilterSubject)
	}
	if len(filters) == 0 || (subjectFilter != "" && subjectFilter != own) {
		return fmt.Errorf("forbidden: role %s reads only its own outcomes: filter the consumer on %s", role, own)
	}
	for _, f := range filters {
		if f != own {
			return fmt.Errorf("forbidden: role %s reads only its own outcomes: filter the consumer on %s (not %.64q)", role, own, f)
		}
	}
	return nil
}

// heldKey names a consumer among those a role holds: stream and name.
func heldKey(stream, name string) string { return stream + "/" + name }

// reserve counts a consumer for role, pruning consumers that have gone
// away when the role is at its limit. It reports false at the limit.
func (g *ReaderGate) reserve(ctx context.Context, role auth.Role, stream, name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	held := g.held[role]
	if held == nil {
		held = map[string]bool{}
		g.held[role] = held
	}
	key := heldKey(stream, name)
	if held[key] {
		return true
	}
	if len(held) >= g.limit {
		for k := range held {
			st, n, _ := strings.Cut(k, "/")
			if _, err := g.js.Consumer(ctx, st, n); errors.Is(err, jetstream.ErrConsumerNotFound) {
				delete(held, k)
			}
		}
	}
	if len(held) >= g.limit {
		return false
	}
	held[key] = true
	return true
}

func (g *ReaderGate) release(role auth.Role, stream, name string) {
	g.mu.Lock()
	delete(g.held[role], heldKey(stream, name))
	g.mu.Unlock()
}

// delete forwards a consumer delete request for a consumer the role holds.
func (g *ReaderGate) delete(ctx context.Context, m *nats.Msg, role auth.Role, stream, name string) {
	const kind = "consumer_delete"
	{
		// By the name the client asked for, or by the name it was given.
		if owned, err := g.ownedName(ctx, role, name); err == nil && g.owns(ctx, role, stream, owned) {
			name = owned
		}
	}
	mine := g.owns(ctx, role, stream, name)
	if !mine {
		g.refuse(m, kind, 404, jsErrConsumerNotFound, "consumer not found")
		return
	}
	resp, err := g.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.DELETE."+stream+"."+name, nil)
	if err != nil {
		g.refuse(m, kind, 503, 0, "unavailable: deleting the consumer: "+err.Error())
		return
	}
	g.release(role, stream, name)
	g.respond(m, resp.Data)
}

// owns reports whether role created consumer name on stream: through this
// gate, or through another ledger's (the consumer's metadata says by which
// role).
func (g *ReaderGate) owns(ctx context.Context, role auth.Role, stream, name string) bool {
	g.mu.Lock()
	mine := g.held[role][heldKey(stream, name)]
	g.mu.Unlock()
	if !mine {
		// Created through another ledger's gate, perhaps: the consumer
		// says by which role.
		if c, err := g.js.Consumer(ctx, stream, name); err == nil && c.CachedInfo().Config.Metadata[readerMetadata] == string(role) {
			mine = true
		}
	}
	return mine
}

// created reports whether a JetStream API reply is not an error.
func created(data []byte) bool {
	var r struct {
		Error *json.RawMessage `json:"error"`
	}
	return json.Unmarshal(data, &r) == nil && r.Error == nil
}

func (g *ReaderGate) refuse(m *nats.Msg, kind string, code, errCode int, desc string) {
	var e apiError
	e.Type = "io.nats.jetstream.api.v1." + kind + "_response"
	e.Error.Code, e.Error.ErrCode, e.Error.Description = code, errCode, desc
	b, _ := json.Marshal(e)
	g.respond(m, b)
}

func (g *ReaderGate) respond(m *nats.Msg, data []byte) {
	if err := m.Respond(data); err != nil {
		g.log.Warn("reader gate: reply not sent", "subject", m.Subject, "err", err)
	}
}
