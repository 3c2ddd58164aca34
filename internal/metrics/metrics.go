// Package metrics holds the ledger's Prometheus metrics: one registry of
// its own (never the global default one, so two ledgers in one process, as
// in tests, do not share counters) with the Go and process collectors, and
// every metric the ledger exports, with the methods its parts call.
//
// Label values are bounded: event types (the domain's, else "other"),
// codes (the contract's constants), endpoint names and route patterns —
// never a partner id or a request path.
//
// Metrics fed from inside the writer or the intake are defined here and
// registered only once their source exists (EnableWriter, EnableIntake):
// an exported series that nothing feeds would read 0 and mislead.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the ledger.
const Namespace = "ledger"

// Buckets. Queries answer in micro- to milliseconds, appends wait for an
// fsync (milliseconds), a batch holds 1 to MaxLines events.
var (
	durationBuckets = prometheus.ExponentialBuckets(0.0001, 4, 10) // 100µs … 26s
	batchBuckets    = prometheus.ExponentialBuckets(1, 4, 8)       // 1 … 16384 events
)

// Metrics is the registry and every metric.
type Metrics struct {
	reg *prometheus.Registry

	appended    *prometheus.CounterVec   // ledger_events_appended_total{type}
	rejected    *prometheus.CounterVec   // ledger_submissions_rejected_total{code}
	batch       prometheus.Histogram     // ledger_append_batch_events
	appendDur   prometheus.Histogram     // ledger_append_duration_seconds
	queueDepth  prometheus.Gauge         // ledger_writer_queue_depth
	queryDur    *prometheus.HistogramVec // ledger_query_duration_seconds{endpoint}
	busy        *prometheus.CounterVec   // ledger_requests_busy_total{endpoint}
	httpReqs    *prometheus.CounterVec   // ledger_http_requests_total{route,code}
	intakeQueue prometheus.Gauge         // ledger_intake_queued_events
	intakeAge   prometheus.Gauge         // ledger_intake_oldest_age_seconds

	writerOnce, intakeOnce sync.Once
}

// LagFunc reports the projection lag at scrape time: events in the log not
// yet folded into the read models, and the age of the oldest of them (0
// when there is none).
type LagFunc func() (events uint64, seconds float64, err error)

// New returns the metrics on a registry of their own, with the Go and
// process collectors. lag, when not nil, feeds the projection lag gauges at
// every scrape.
func New(lag LagFunc) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.appended = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "events_appended_total", Help: "Events appended to the log, by event type (duplicates are not appended)."},
		[]string{"type"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "submissions_rejected_total", Help: "Submitted lines rejected, by rejection code."},
		[]string{"code"})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "append_batch_events", Help: "Events per atomic append to the log (group commit).", Buckets: batchBuckets})
	m.appendDur = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "append_duration_seconds", Help: "Time from sending an atomic append to its confirmation.", Buckets: durationBuckets})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "writer_queue_depth", Help: "Submissions waiting for the writer."})
	m.queryDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
		Name: "query_duration_seconds", Help: "Time to answer a request, by endpoint.", Buckets: durationBuckets},
		[]string{"endpoint"})
	m.busy = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "requests_busy_total", Help: "Requests refused as busy (concurrency bound or rate limit), by endpoint."},
		[]string{"endpoint"})
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
		Name: "http_requests_total", Help: "HTTP requests answered, by route pattern and status code."},
		[]string{"route", "code"})
	m.intakeQueue = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "intake_queued_events", Help: "Events queued in the intake, not yet decided."})
	m.intakeAge = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "intake_oldest_age_seconds", Help: "Age of the oldest event queued in the intake (0 when empty)."})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.appended, m.rejected, m.queryDur, m.busy, m.httpReqs,
	)
	if lag != nil {
		m.reg.MustRegister(newLagCollector(lag))
	}
	return m
}

// Registry is the metrics' registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// EnableWriter registers the metrics only the writer can feed
// (AppendedBatch, WriterQueueDepth); call it once the writer feeds them.
func (m *Metrics) EnableWriter() {
	m.writerOnce.Do(func() { m.reg.MustRegister(m.batch, m.appendDur, m.queueDepth) })
}

// EnableIntake registers the intake's gauges; call it once the intake
// feeds them (IntakeQueued).
func (m *Metrics) EnableIntake() {
	m.intakeOnce.Do(func() { m.reg.MustRegister(m.intakeQueue, m.intakeAge) })
}

// IntakeFunc reports the intake at scrape time: events queued and not yet
// decided, and the age of the oldest of them (0 when none).
type IntakeFunc func() (queued uint64, oldest time.Duration, err error)

// EnableIntakeFunc exports the intake's gauges, read from fn at every
// scrape (an error leaves the last values).
func (m *Metrics) EnableIntakeFunc(fn IntakeFunc) {
	m.intakeOnce.Do(func() { m.reg.MustRegister(intakeCollector{m, fn}) })
}

// intakeCollector refreshes the intake gauges from its source when scraped.
type intakeCollector struct {
	m  *Metrics
	fn IntakeFunc
}

func (c intakeCollector) Describe(ch chan<- *prometheus.Desc) {
	c.m.intakeQueue.Describe(ch)
	c.m.intakeAge.Describe(ch)
}

func (c intakeCollector) Collect(ch chan<- prometheus.Metric) {
	if n, oldest, err := c.fn(); err == nil {
		c.m.IntakeQueued(int(n), oldest)
	}
	c.m.intakeQueue.Collect(ch)
	c.m.intakeAge.Collect(ch)
}

// TypeLabel bounds an event type for a label: a type the domain knows, else
// "other" (a rejected line may carry any text as its type).
func TypeLabel(typ string) string {
	if domain.KnownType(typ) {
		return typ
	}
	return "other"
}

// Appended counts n events of type typ appended to the log.
func (m *Metrics) Appended(typ string, n int) {
	m.appended.WithLabelValues(TypeLabel(typ)).Add(float64(n))
}

// Rejected counts a rejected line by its code.
func (m *Metrics) Rejected(code domain.Code) {
	if code == "" {
		code = "internal"
	}
	m.rejected.WithLabelValues(string(code)).Inc()
}

// AppendedBatch observes one atomic append of n events that took d.
func (m *Metrics) AppendedBatch(n int, d time.Duration) {
	m.batch.Observe(float64(n))
	m.appendDur.Observe(d.Seconds())
}

// WriterQueueDepth sets the number of submissions waiting for the writer.
func (m *Metrics) WriterQueueDepth(n int) { m.queueDepth.Set(float64(n)) }

// IntakeQueued sets the intake's queued count and the age of its oldest
// queued event.
func (m *Metrics) IntakeQueued(n int, oldest time.Duration) {
	m.intakeQueue.Set(float64(n))
	m.intakeAge.Set(oldest.Seconds())
}

// Query observes one answered request of an endpoint (tier, benefits, …,
// submit).
func (m *Metrics) Query(endpoint string, d time.Duration) {
	m.queryDur.WithLabelValues(endpoint).Observe(d.Seconds())
}

// Busy counts a request of an endpoint refused as busy.
func (m *Metrics) Busy(endpoint string) { m.busy.WithLabelValues(endpoint).Inc() }

// HTTPRequest counts an answered HTTP request by its route pattern (never
// the path: that would carry partner ids) and status.
func (m *Metrics) HTTPRequest(route string, status int) {
	m.httpReqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// lagCollector reads the projection lag at scrape time.
type lagCollector struct {
	fn             LagFunc
	events, second *prometheus.Desc
}

func newLagCollector(fn LagFunc) *lagCollector {
	return &lagCollector{fn: fn,
		events: prometheus.NewDesc(Namespace+"_projection_lag_events",
			"Events in the log not yet folded into the read models.", nil, nil),
		second: prometheus.NewDesc(Namespace+"_projection_lag_seconds",
			"Age of the oldest event in the log not yet folded into the read models (0 when none).", nil, nil)}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.second
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	events, seconds, err := c.fn()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.events, err)
		ch <- prometheus.NewInvalidMetric(c.second, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(events))
	ch <- prometheus.MustNewConstMetric(c.second, prometheus.GaugeValue, seconds)
}
