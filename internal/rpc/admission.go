package rpc

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/micro"
)

// Limits bound the requests the service holds at once (queued for a worker
// or being handled), by count and by bytes, per endpoint, per client
// connection and in all. A request over any of them is answered busy at
// once: the queues stay short, so a flood cannot delay other clients' normal
// requests by more than the workers' share it may take, and the memory the
// service holds for requests stays bounded whatever the mix.
type Limits struct {
	// PerEndpoint and PerEndpointBytes bound one endpoint's requests.
	PerEndpoint      int
	PerEndpointBytes int
	// PerClient and PerClientBytes bound one client connection's requests
	// (see clientOf for how a connection is told).
	PerClient      int
	PerClientBytes int
	// Total and TotalBytes bound all requests together.
	Total      int
	TotalBytes int
}

// Defaults of Limits.
const (
	// DefaultPerEndpoint lets one endpoint hold every worker and as many
	// requests again waiting (two per worker), so a busy endpoint keeps the
	// workers fed without an unbounded queue.
	DefaultPerEndpoint = 2 * maxInFlight
	// DefaultPerEndpointBytes is eight of the largest requests: a burst of
	// large submissions queues a little, a flood of them is answered busy.
	DefaultPerEndpointBytes = 8 * MaxRequestBytes
	// DefaultPerClient is a quarter of the workers: one connection, however
	// many requests it sends, leaves three quarters of the workers to the
	// others, so their normal queries still answer.
	DefaultPerClient = maxInFlight / 4
	// DefaultPerClientBytes is four of the largest requests: a submitting
	// client pipelines a few chunks, not sixty.
	DefaultPerClientBytes = 4 * MaxRequestBytes
	// DefaultTotal is every worker busy plus as many waiting.
	DefaultTotal = 2 * maxInFlight
	// DefaultTotalBytes is sixteen of the largest requests (128 MiB): the
	// memory all held requests may take, whatever the mix of endpoints
	// and clients (60 queued 7 MB requests once took 1.5 GB).
	DefaultTotalBytes = 16 * MaxRequestBytes
)

// Backstop of the subscriptions' own queues (nats.go pending limits), in
// front of the admission: the admission takes a request off its
// subscription at once, so these are reached only if that falls behind.
// Beyond them the client library drops messages (their callers time out):
// they are the last bound on memory, not the way a flood is answered.
const (
	subPendingMsgs  = 4 * maxInFlight
	subPendingBytes = 4 * MaxRequestBytes
)

// DefaultLimits are the limits the service runs with unless WithLimits.
func DefaultLimits() Limits {
	return Limits{
		PerEndpoint: DefaultPerEndpoint, PerEndpointBytes: DefaultPerEndpointBytes,
		PerClient: DefaultPerClient, PerClientBytes: DefaultPerClientBytes,
		Total: DefaultTotal, TotalBytes: DefaultTotalBytes,
	}
}

// WithLimits replaces the request limits (DefaultLimits); a zero field keeps
// its default.
func WithLimits(l Limits) Option {
	return func(s *Server, _ map[string]func(context.Context, micro.Request)) {
		d := DefaultLimits()
		pick := func(v, def int) int {
			if v > 0 {
				return v
			}
			return def
		}
		s.limits = Limits{
			PerEndpoint: pick(l.PerEndpoint, d.PerEndpoint), PerEndpointBytes: pick(l.PerEndpointBytes, d.PerEndpointBytes),
			PerClient: pick(l.PerClient, d.PerClient), PerClientBytes: pick(l.PerClientBytes, d.PerClientBytes),
			Total: pick(l.Total, d.Total), TotalBytes: pick(l.TotalBytes, d.TotalBytes),
		}
	}
}

// usage is what one key (endpoint, client, or all) holds.
type usage struct{ n, bytes int }

// admission counts the requests held, per endpoint, per client and in all.
type admission struct {
	mu        sync.Mutex
	limits    Limits
	total     usage
	endpoints map[string]*usage
	clients   map[string]*usage
}

// ticket is an admitted request's share, returned by release.
type ticket struct {
	endpoint, client string
	bytes            int
}

func newAdmission(l Limits) *admission {
	return &admission{limits: l, endpoints: map[string]*usage{}, clients: map[string]*usage{}}
}

// admit takes a request's share, or says which limit it is over (code busy).
func (a *admission) admit(endpoint, client string, bytes int) (ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, c := a.endpoints[endpoint], a.clients[client]
	if e == nil {
		e = &usage{}
	}
	if c == nil {
		c = &usage{}
	}
	l := a.limits
	var over string
	switch {
	case a.total.n+1 > l.Total:
		over = fmt.Sprintf("the ledger holds %d requests, at most %d", a.total.n, l.Total)
	case a.total.bytes+bytes > l.TotalBytes:
		over = fmt.Sprintf("the ledger holds %d request bytes, at most %d", a.total.bytes, l.TotalBytes)
	case e.n+1 > l.PerEndpoint:
		over = fmt.Sprintf("%s holds %d requests, at most %d", endpoint, e.n, l.PerEndpoint)
	case e.bytes+bytes > l.PerEndpointBytes:
		over = fmt.Sprintf("%s holds %d request bytes, at most %d", endpoint, e.bytes, l.PerEndpointBytes)
	case c.n+1 > l.PerClient:
		over = fmt.Sprintf("this connection has %d requests pending, at most %d", c.n, l.PerClient)
	case c.bytes+bytes > l.PerClientBytes:
		over = fmt.Sprintf("this connection has %d request bytes pending, at most %d", c.bytes, l.PerClientBytes)
	}
	if over != "" {
		return ticket{}, &domain.Error{Code: domain.CodeBusy, Msg: "busy: " + over + "; retry later"}
	}
	a.endpoints[endpoint], a.clients[client] = e, c
	for _, u := range []*usage{&a.total, e, c} {
		u.n++
		u.bytes += bytes
	}
	return ticket{endpoint: endpoint, client: client, bytes: bytes}, nil
}

// release returns a finished request's share.
func (a *admission) release(t ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total.n--
	a.total.bytes -= t.bytes
	releaseKey(a.endpoints, t.endpoint, t.bytes)
	releaseKey(a.clients, t.client, t.bytes)
}

// releaseKey returns a share to one key, forgetting the key when it holds
// nothing more.
func releaseKey(m map[string]*usage, key string, bytes int) {
	u := m[key]
	u.n--
	u.bytes -= bytes
	if u.n == 0 {
		delete(m, key)
	}
}

// requestInfoHeader is the header the NATS server sets on a request that
// crosses accounts through a service import (the roles' accounts): the
// caller's account (and, with shared details, its connection id and user).
// The server replaces any value the client sent.
const requestInfoHeader = "Nats-Request-Info"

// maxClientKey clips a client key: it lives in a map while requests pend.
const maxClientKey = 256

// clientOf tells which client connection sent a request. Every role's
// requests cross from its own account, whose imports share client info, so
// they carry the server's Nats-Request-Info: account, connection id and
// user, which no client can forge. Only the ledger's own user lives in the
// ledger's account; its requests carry no such header and are told by
// their reply subject's inbox (nats.go replies to _INBOX.<connection's
// nuid>.<token>).
func clientOf(req micro.Request) string {
	key := ""
	if h := req.Headers().Get(requestInfoHeader); h != "" {
		if acc := infoField(h, "acc"); acc != "" {
			key = "acc:" + acc + "/" + infoField(h, "id") + "/" + infoField(h, "user")
		}
	}
	if key == "" {
		reply := req.Reply()
		if i := strings.LastIndexByte(reply, '.'); i > 0 {
			reply = reply[:i]
		}
		key = "inbox:" + reply
	}
	if len(key) > maxClientKey {
		key = key[:maxClientKey]
	}
	return key
}

// infoField reads one top-level field of the server's Nats-Request-Info
// JSON without decoding all of it (a full json.Unmarshal was 7% of the
// query path's CPU): the value of "name": as written, quotes dropped, up to
// the next comma or brace. The server writes the document; a string a
// client chose (its connection name) is JSON-escaped there, so it cannot
// hold an unescaped `"name":` sequence that this would take for a field.
func infoField(h, name string) string {
	tag := `"` + name + `":`
	i := strings.Index(h, tag)
	if i < 0 {
		return ""
	}
	v := h[i+len(tag):]
	if strings.HasPrefix(v, `"`) {
		v = v[1:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
		return ""
	}
	if j := strings.IndexAny(v, ",}"); j >= 0 {
		return v[:j]
	}
	return v
}

// requestBytes is what a request holds in memory: body and headers.
func requestBytes(req micro.Request) int {
	n := len(req.Data()) + len(req.Subject()) + len(req.Reply())
	for k, vs := range req.Headers() {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
