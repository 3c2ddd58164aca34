// Package httpapi is the ledger's HTTP listener (CONTRACT.md, "HTTP"): the
// query documents under /v1/..., POST /v1/events (CloudEvents over HTTP in
// structured, binary and batch mode), GET /v1/policy and POST /v1/whatif
// (whatif.go), /metrics, /healthz and /readyz, and the dashboard at GET /
// (package dashboard: static files, no token). It
// answers the same documents as the RPC by calling the same ledger.Queries
// methods and submits through the same Writer.SubmitAs with the role's
// permit; routing is the standard library's.
//
// Every /v1 request carries "Authorization: Bearer TOKEN", a token of one
// role (auth.ProvisionTokens); the role has the rights it has over NATS.
// Errors are {"code","error"} with the status of rpc.HTTPStatus.
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/dashboard"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/metrics"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"golang.org/x/time/rate"
)

// DefaultAddr is where `ledger serve` listens for HTTP unless told otherwise.
const DefaultAddr = "127.0.0.1:8480"

// Settings are the listener's limits. Zero values take the defaults.
type Settings struct {
	// RatePerToken and Burst bound each token's requests (a token bucket
	// per role): one misbehaving client cannot take the listener from the
	// others. Over it: 429 busy.
	RatePerToken float64 // default 200 requests/s
	Burst        int     // default 400

	// MaxInFlight bounds the /v1 requests served at once, as the RPC's
	// worker pool does; over it: 503 busy at once rather than a queue that
	// grows without bound.
	MaxInFlight int // default 256

	// MaxLagEvents is the projection lag (events) up to which /readyz says
	// ready: beyond it queries would answer projection_behind.
	MaxLagEvents uint64 // default 10,000

	// Deadlines of a request's handling, as for the RPC.
	SubmitTimeout, QueryTimeout time.Duration // default 30s each

	// Server timeouts: a slow or idle client cannot hold a connection.
	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration // default 60s: an 8 MiB body at 140 KB/s
	WriteTimeout      time.Duration // default SubmitTimeout + 30s: a submission's answer must get out
	IdleTimeout       time.Duration // default 120s
	MaxHeaderBytes    int           // default 64 KiB: ce-* attributes are short
}

// Defaults of Settings.
const (
	DefaultRatePerToken      = 200
	DefaultBurst             = 400
	DefaultMaxInFlight       = 256
	DefaultMaxLagEvents      = 10_000
	DefaultRequestTimeout    = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

func (s Settings) withDefaults() Settings {
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if s.RatePerToken <= 0 {
		s.RatePerToken = DefaultRatePerToken
	}
	if s.Burst <= 0 {
		s.Burst = DefaultBurst
	}
	if s.MaxInFlight <= 0 {
		s.MaxInFlight = DefaultMaxInFlight
	}
	if s.MaxLagEvents == 0 {
		s.MaxLagEvents = DefaultMaxLagEvents
	}
	set(&s.SubmitTimeout, DefaultRequestTimeout)
	set(&s.QueryTimeout, DefaultRequestTimeout)
	set(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&s.ReadTimeout, DefaultReadTimeout)
	set(&s.WriteTimeout, s.SubmitTimeout+30*time.Second)
	set(&s.IdleTimeout, DefaultIdleTimeout)
	if s.MaxHeaderBytes <= 0 {
		s.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return s
}

// Config is what the listener serves.
type Config struct {
	Addr            string // host:port; port 0 picks a free one
	TLSCert, TLSKey string // PEM files; both or none
	Tokens          *auth.Tokens
	Writer          *ledger.Writer
	Queries         *ledger.Queries
	Metrics         *metrics.Metrics
	Logger          *slog.Logger
	Settings        Settings
}

// Server is the running listener.
type Server struct {
	cfg      Config
	set      Settings
	log      *slog.Logger
	m        *metrics.Metrics
	srv      *http.Server
	ln       net.Listener
	tls      bool
	slots    chan struct{}
	limiters map[auth.Role]*rate.Limiter
	params   queryParams
	closing  atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
}

// Start listens on cfg.Addr and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Tokens == nil || cfg.Writer == nil || cfg.Queries == nil || cfg.Metrics == nil {
		return nil, errors.New("http: tokens, writer, queries and metrics are required")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("http: TLS needs both --tls-cert and --tls-key")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, set: cfg.Settings.withDefaults(), log: cfg.Logger, m: cfg.Metrics,
		limiters: map[auth.Role]*rate.Limiter{}, params: newQueryParams(), done: make(chan struct{})}
	s.slots = make(chan struct{}, s.set.MaxInFlight)
	for _, r := range auth.Roles() {
		s.limiters[r] = rate.NewLimiter(rate.Limit(s.set.RatePerToken), s.set.Burst)
	}
	s.srv = &http.Server{Handler: s.routes(), ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: s.set.ReadHeaderTimeout, ReadTimeout: s.set.ReadTimeout,
		WriteTimeout: s.set.WriteTimeout, IdleTimeout: s.set.IdleTimeout, MaxHeaderBytes: s.set.MaxHeaderBytes}
	var err error
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("http: TLS: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("http: listen %s: %w", cfg.Addr, err)
	}
	go func() {
		defer close(s.done)
		var err error
		if s.tls {
			err = s.srv.ServeTLS(s.ln, "", "")
		} else {
			err = s.srv.Serve(s.ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http listener stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is the listener's base URL (http:// or https://).
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// Close stops taking requests (readyz says so first) and waits for those in
// flight to finish, at most until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.closing.Store(true)
		err = s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		<-s.done
	})
	return err
}

// routes is the mux, inside the layer that counts every answer.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := http.NewServeMux() // the same paths without methods: tells 405 from 404
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		paths.Handle(path, http.NotFoundHandler())
	}
	handle("GET", "/healthz", http.HandlerFunc(s.healthz))
	handle("GET", "/readyz", http.HandlerFunc(s.readyz))
	handle("GET", "/metrics", s.m.Handler())
	q := s.cfg.Queries
	handle("GET", "/v1/partners/{id}/tier", s.guard(rpc.EndpointTier, partnerQuery(s, q.Tier)))
	handle("GET", "/v1/partners/{id}/benefits", s.guard(rpc.EndpointBenefits, partnerQuery(s, q.Benefits)))
	handle("GET", "/v1/partners/{id}/history", s.guard(rpc.EndpointHistory, partnerQuery(s, q.History)))
	handle("GET", "/v1/partners/{id}/audit", s.guard(rpc.EndpointAudit, partnerQuery(s, q.Audit)))
	handle("GET", "/v1/attention", s.guard(rpc.EndpointAttention, plainQuery(s, q.Attention)))
	handle("GET", "/v1/stats", s.guard(rpc.EndpointStats, s.stats))
	handle("POST", "/v1/events", s.guard(rpc.EndpointSubmit, s.events))
	handle("GET", "/v1/policy", s.guard(rpc.EndpointPolicy, s.policy))
	handle("POST", "/v1/whatif", s.guard(rpc.EndpointWhatIf, s.whatIf))
	// The dashboard (CONTRACT.md: GET /): static files only, no token; every
	// figure it shows comes from /v1 calls that carry one.
	handle("GET", "/{$}", dashboard.Handler())
	handle("GET", dashboard.AssetPrefix+"{file}", dashboard.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, p := paths.Handler(r); p != "" && p != "/" {
			s.fail(w, r, &domain.Error{Code: domain.CodeMethodNotAllowed, Msg: fmt.Sprintf("%s is not served on %s", r.Method, r.URL.Path)})
			return
		}
		s.fail(w, r, &domain.Error{Code: domain.CodeNotFound, Msg: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		route := r.Pattern // set by the mux: the pattern, never the path (no partner ids)
		if route == "" || route == "/" {
			route = "other"
		}
		s.m.HTTPRequest(route, rec.status)
	})
}

// recorder remembers the status written.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// roleHandler is a /v1 handler that knows the caller's role.
type roleHandler func(w http.ResponseWriter, r *http.Request, role auth.Role)

// guard admits a /v1 request: a free slot (else 503 busy), a valid token
// (else 401), the token's rate (else 429 busy); then it times the answer.
func (s *Server) guard(endpoint string, h roleHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.slots <- struct{}{}:
			defer func() { <-s.slots }()
		default:
			s.m.Busy(endpoint)
			w.Header().Set("Retry-After", "1")
			s.fail(w, r, &domain.Error{Code: domain.CodeBusy, Msg: fmt.Sprintf("%d requests in flight, the most this listener serves at once; retry", s.set.MaxInFlight)})
			return
		}
		role, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledger"`)
			s.fail(w, r, err)
			return
		}
		if !s.limiters[role].Allow() {
			s.m.Busy(endpoint)
			w.Header().Set("Retry-After", "1")
			s.failStatus(w, r, http.StatusTooManyRequests, &domain.Error{Code: domain.CodeBusy,
				Msg: fmt.Sprintf("role %s is over its rate of %g requests/s (burst %d); retry", role, s.set.RatePerToken, s.set.Burst)})
			return
		}
		start := time.Now()
		h(w, r, role)
		s.m.Query(endpoint, time.Since(start))
	})
}

// authenticate returns the role of the request's bearer token.
func (s *Server) authenticate(r *http.Request) (auth.Role, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", &domain.Error{Code: domain.CodeUnauthorized, Msg: "no Authorization header: send Authorization: Bearer TOKEN (DATA/credentials/ROLE.token)"}
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", &domain.Error{Code: domain.CodeUnauthorized, Msg: "the Authorization header must be one \"Bearer TOKEN\""}
	}
	role, ok := s.cfg.Tokens.Role([]byte(strings.TrimSpace(token)))
	if !ok {
		return "", &domain.Error{Code: domain.CodeUnauthorized, Msg: "the bearer token is not one of this ledger's tokens (revoked, or from another ledger)"}
	}
	return role, nil
}

// fail answers a coded error with its status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.failStatus(w, r, 0, err)
}

// failStatus answers a coded error with status, or the code's status when
// status is 0. An error without a code is internal, and logged.
func (s *Server) failStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	body := rpc.ErrorBody{Code: domain.CodeOf(err), Error: err.Error()}
	if body.Code == "" {
		body.Code = domain.CodeInternal
		s.log.Error("http request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if status == 0 {
		status = rpc.HTTPStatus(body.Code)
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// writeJSON answers a document, encoded exactly as the RPC encodes it.
func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// healthz says the process is up.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// readiness is the /readyz document.
type readiness struct {
	Status        string `json:"status"` // ready | not_ready
	Reason        string `json:"reason,omitempty"`
	ProjectionLag uint64 `json:"projection_lag"`
	MaxLag        uint64 `json:"max_lag"`
}

// readyz says whether the ledger takes requests: the listener is not
// closing, the projector runs without error and its lag is under the
// setting.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	doc := readiness{Status: "ready", MaxLag: s.set.MaxLagEvents}
	ctx, cancel := context.WithTimeout(r.Context(), s.set.QueryTimeout)
	defer cancel()
	st, err := s.cfg.Queries.Stats(ctx)
	switch {
	case s.closing.Load():
		doc.Reason = "shutting down: not taking requests"
	case err != nil:
		doc.Reason = "stats unavailable: " + err.Error()
	case st.ProjectorError != "":
		doc.Reason = "the projector stopped: " + st.ProjectorError
	case st.ProjectionLag > s.set.MaxLagEvents:
		doc.Reason = fmt.Sprintf("projection lag %d events, over %d", st.ProjectionLag, s.set.MaxLagEvents)
	}
	if err == nil {
		doc.ProjectionLag = st.ProjectionLag
	}
	status := http.StatusOK
	if doc.Reason != "" {
		doc.Status, status = "not_ready", http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(doc)
	writeJSON(w, status, b)
}
