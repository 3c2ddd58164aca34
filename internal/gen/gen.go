// Package gen generates a synthetic, realistic input log for the ledger: NDJSON
// CloudEvents envelopes (DOMAIN.md §2) in submission order, every one of which
// a fresh ledger accepts when the lines are submitted in order.
//
// The log is a discrete-event simulation of the program from 2020-07-06 to the
// end of October 2026: partners join over time and publish offers, billing
// systems bill sales (a few large partners and many small ones), fraud teams
// flag and clear sales, customers cancel, partners report monthly metrics,
// enrol, get a marketing contact and activate the benefits they are entitled
// to, the rewards team follows up, compliance sanctions and reinstates.
// Lines come out in the order the feed delivers them: mostly in event time,
// with some corrections arriving months after the sale they correct.
//
// The same Config gives the same bytes.
package gen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Default time span: the first era of the program to the end of October 2026.
var (
	DefaultStart = time.Date(2020, 7, 6, 0, 0, 0, 0, time.UTC)
	DefaultEnd   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// Ratios of events to partners.
const (
	// DefaultEventsPerPartner sets the number of partners when Config.Partners is 0.
	DefaultEventsPerPartner = 300
	// MinEventsPerPartner bounds Config.Partners: below it the partners'
	// own events (offers, enrolment, metrics, activations) alone would
	// exceed the requested number of events.
	MinEventsPerPartner = 60
	// MinEvents is the smallest log Generate makes.
	MinEvents = 500
)

// Config describes a log to generate.
type Config struct {
	Events   int   // approximate number of events to produce (±5%); at least MinEvents
	Partners int   // number of partners; 0: Events/DefaultEventsPerPartner (at least 1)
	Seed     int64 // same Config, same output, byte for byte (on one CPU architecture: floating-point rounding may differ across them)

	// Event times lie in [Start, End). Zero values: DefaultStart, DefaultEnd.
	// A ledger must be able to accept End as "now" (see Clock).
	Start, End time.Time

	// ReferenceBook judges every line with a full domain.Book (each line is
	// parsed and submitted). It is slower and uses more memory; the output is
	// the same. It exists to cross-check the default judge.
	ReferenceBook bool
}

// WithDefaults returns the configuration with its defaults filled in.
func (c Config) WithDefaults() Config {
	if c.Partners == 0 {
		c.Partners = max(1, c.Events/DefaultEventsPerPartner)
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.End.IsZero() {
		c.End = DefaultEnd
	}
	c.Start, c.End = c.Start.UTC(), c.End.UTC()
	return c
}

// Clock is a ledger clock at which every generated line is acceptable (no
// event time is more than five minutes after it): End.
func (c Config) Clock() time.Time { return c.WithDefaults().End }

func (c Config) validate() error {
	switch {
	case c.Events < MinEvents:
		return fmt.Errorf("gen: events must be at least %d", MinEvents)
	case c.Partners < 1:
		return errors.New("gen: partners must be at least 1")
	case c.Events < c.Partners*MinEventsPerPartner:
		return fmt.Errorf("gen: %d partners need at least %d events (%d per partner)", c.Partners, c.Partners*MinEventsPerPartner, MinEventsPerPartner)
	case c.End.Sub(c.Start) < 2*365*24*time.Hour:
		return errors.New("gen: the time span must be at least two years")
	case c.Start.Before(time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)):
		return errors.New("gen: start must be after 1970")
	}
	return nil
}

// Generate emits the log's lines in submission order. Each line is one JSON
// object without a trailing newline; the slice is only valid during the call.
// An error from emit stops the generation and is returned.
func Generate(cfg Config, emit func(line []byte) error) error {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	g := newGenerator(cfg, emit)
	return g.run()
}

// Book generates the log and decides every line with a pure Book under the
// default policy at the log's clock: the facts a ledger fed the log holds,
// for tests and benchmarks. A line the Book rejects is an error (the
// generator writes only lines the ledger accepts).
func Book(cfg Config) (*domain.Book, error) {
	book := domain.NewBook(domain.DefaultPolicy())
	err := Generate(cfg, func(line []byte) error {
		if r := book.Submit(line, cfg.Clock()); r.Err != nil {
			return fmt.Errorf("gen: generated line rejected: %w", r.Err)
		}
		return nil
	})
	return book, err
}

// generator is the simulation's state.
type generator struct {
	cfg        Config
	rng        *rand.Rand
	pol        *domain.Policy
	now        time.Time // the ledger clock the judge uses
	start, end int64     // Unix seconds; every event time is in [start, end)
	emit       func([]byte) error

	ps      []*partner
	q       queue
	ord     uint64
	saleNo  int64
	benefit []string // the policy's benefit ids, in catalog order
	// seatsUntil: m365-app sales report seats until the first era without a
	// seats track (2023-12 in the default policy).
	seatsUntil int64

	// judging (judge.go)
	book     *domain.Book // ReferenceBook mode
	seq      uint64
	events   []domain.Event
	lines    int64
	idPrefix []byte
	idBuf    []byte
	buf      []byte
	one      [1]domain.Input
	oneOK    [1]bool
	lastErr  error
	verify   bool           // parse every emitted line back (tests)
	rejects  map[string]int // candidates refused, by type and code (tests)
	ins      []domain.Input
	ok       []bool

	ctl controller
}

func newGenerator(cfg Config, emit func([]byte) error) *generator {
	g := &generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		pol:   domain.DefaultPolicy(),
		now:   cfg.End,
		start: cfg.Start.Unix(),
		end:   cfg.End.Unix(),
		emit:  emit,
	}
	g.idPrefix = strconv.AppendInt([]byte("gen-"), cfg.Seed, 10)
	g.idPrefix = append(g.idPrefix, '-')
	for _, b := range g.pol.Benefits {
		g.benefit = append(g.benefit, b.ID)
	}
	g.seatsUntil = g.end
	for _, e := range g.pol.Eras {
		if _, ok := e.Tracks[domain.TrackSeats]; !ok {
			g.seatsUntil = e.From.Unix()
			break
		}
	}
	if cfg.ReferenceBook {
		g.book = domain.NewBook(g.pol)
	}
	return g
}

// schedule queues an item arriving at it.at (its event time when zero).
func (g *generator) schedule(it item) {
	if it.at == 0 {
		it.at = it.t
	}
	g.ord++
	it.ord = g.ord
	g.q.push(it)
}

func (g *generator) run() error {
	g.plan()
	for len(g.q) > 0 {
		it := g.q.pop()
		g.ctl.tick(g, it.at)
		if err := g.handle(it); err != nil {
			return err
		}
	}
	return nil
}

// facts is the partner's state in the judge.
func (g *generator) facts(p *partner) *domain.Partner {
	if g.book != nil {
		return g.book.Partner(p.id)
	}
	return p.facts
}

// tm converts Unix seconds to a UTC time.
func tm(t int64) time.Time { return time.Unix(t, 0).UTC() }

func (g *generator) input(typ, source string, t int64, d domain.Data) domain.Input {
	return domain.Input{Type: typ, Source: source, Time: tm(t), Data: d}
}

// Sources of the generated feed.
const (
	srcCatalog    = "gen/catalog"
	srcRewards    = "gen/rewards"
	srcBilling    = "gen/billing"
	srcFraud      = "gen/fraud"
	srcMetrics    = "gen/metrics"
	srcPortal     = "gen/portal"
	srcCompliance = "gen/compliance"
)
