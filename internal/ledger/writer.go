package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// Limits of a submission, each with its own code.
const (
	MaxLines     = eventstore.MaxBatch // lines per submission: one atomic batch at most
	MaxLineBytes = 64 << 10            // bytes per input line

	CodeLineTooLong   domain.Code = "line_too_long"
	CodeUnavailable   domain.Code = "unavailable"
	cacheBudgetEvents             = 400_000 // events' worth of partner state kept decided-ready
)

// LineResult is the outcome of one input line: the `submit --json` line.
type LineResult struct {
	Line      int         `json:"line"`
	ID        string      `json:"id,omitempty"`
	OK        bool        `json:"ok"`
	Seq       uint64      `json:"seq,omitempty"`
	Duplicate bool        `json:"duplicate"`
	Code      domain.Code `json:"code,omitempty"`
	Error     string      `json:"error,omitempty"`
}

// Writer decides input events and appends them to the log. One goroutine owns
// the decision state (the partner cache and the pending overlay), so
// concurrent submissions are serialized without locks on the hot path, and
// submissions that arrive together are appended as one atomic batch: one
// fsync for all of them (group commit).
type Writer struct {
	pol    *domain.Policy
	es     *eventstore.Store
	models func() *projections.Store
	proj   *Projector
	clock  func() time.Time
	log    *slog.Logger
	reqs   chan *submission

	mu      sync.Mutex // guards pend, shared with the projector's pruning
	pend    *pending
	stale   map[string]bool            // partners another writer appended to (under mu)
	snapCP  uint64                     // checkpoint of the snapshot being decided against, 0 if none (under mu)
	folded  uint64                     // the projector's latest checkpoint (under mu)
	snap    *projections.Snapshot      // the snapshot being decided against (run goroutine)
	cache   map[string]*domain.Partner // owned by the run goroutine
	cached  int64                      // events' worth of state in cache
	lastSeq atomic.Uint64              // the stream's last sequence as this writer knows it
}

type submission struct {
	ctx    context.Context
	lines  [][]byte
	permit Permit // nil: every event type (see SubmitAs)
	done   chan []LineResult
}

// NewWriter returns a writer; call Run to start it. lastSeq is the stream's
// last sequence at start.
func NewWriter(pol *domain.Policy, es *eventstore.Store, models func() *projections.Store, proj *Projector, lastSeq uint64, log *slog.Logger) *Writer {
	w := &Writer{pol: pol, es: es, models: models, proj: proj, clock: time.Now, log: log,
		reqs: make(chan *submission, 64), pend: newPending(), stale: map[string]bool{}, cache: map[string]*domain.Partner{}}
	w.lastSeq.Store(lastSeq)
	proj.onFold(w.prune)
	return w
}

// SetClock replaces the writer's clock (before Run): tests and benchmarks
// replaying fixed histories use it.
func (w *Writer) SetClock(clock func() time.Time) { w.clock = clock }

// LastSeq is the last sequence this writer appended or observed: a query
// that waits for it reads its own writes.
func (w *Writer) LastSeq() uint64 { return w.lastSeq.Load() }

// Submit decides and appends lines in order and returns one result per line.
// A rejected line changes nothing; the lines after it are still submitted.
func (w *Writer) Submit(ctx context.Context, lines [][]byte) ([]LineResult, error) {
	return w.submit(ctx, nil, lines)
}

func (w *Writer) submit(ctx context.Context, permit Permit, lines [][]byte) ([]LineResult, error) {
	if len(lines) > MaxLines {
		return nil, fmt.Errorf("%d lines: at most %d per submission", len(lines), MaxLines)
	}
	s := &submission{ctx: ctx, lines: lines, permit: permit, done: make(chan []LineResult, 1)}
	select {
	case w.reqs <- s:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-s.done:
		return r, nil
	case <-ctx.Done():
		// The batch may still be appended: the caller retries, and
		// idempotency turns the retry into duplicates.
		return nil, ctx.Err()
	}
}

// Run processes submissions until ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-w.reqs:
			batch, n := []*submission{s}, len(s.lines)
			for n < MaxLines && len(w.reqs) > 0 {
				next := <-w.reqs
				if n+len(next.lines) > MaxLines {
					w.process(ctx, batch)
					batch, n = nil, 0
				}
				batch, n = append(batch, next), n+len(next.lines)
			}
			w.process(ctx, batch)
		}
	}
}

// process decides and appends a group of submissions, retrying the whole
// group when the append fails without storing anything.
func (w *Writer) process(ctx context.Context, subs []*submission) {
	var results [][]LineResult
	for attempt := 1; ; attempt++ {
		w.catchUp(ctx)
		d, err := w.decideOnSnapshot(subs)
		results = d.results
		if err == nil && len(d.msgs) == 0 {
			break
		}
		var first uint64
		if err == nil {
			first, err = w.es.Append(ctx, d.msgs, d.expect)
		}
		if err == nil {
			if first != d.first {
				// Another writer appended in between: our numbering was off.
				// The events are stored; renumber the replies and resync.
				w.log.Warn("stream moved under the writer; resynchronizing", "predicted", d.first, "actual", first)
				shift(results, d.first, first)
				w.resync(ctx, d, first+uint64(len(d.msgs))-1)
			} else {
				w.lastSeq.Store(first + uint64(len(d.msgs)) - 1)
			}
			break
		}
		w.log.Warn("append failed; resynchronizing", "attempt", attempt, "err", err)
		last, lerr := w.es.LastSeq(ctx)
		if lerr == nil {
			w.resync(ctx, d, last)
		}
		if attempt == 3 || ctx.Err() != nil || lerr != nil || !retryable(err) {
			results = failAll(subs, err)
			break
		}
	}
	for i, s := range subs {
		s.done <- results[i]
	}
	w.evict()
}

// decision is the writer's work on one group before the append.
type decision struct {
	results [][]LineResult
	msgs    []eventstore.Message
	expect  map[string]uint64
	first   uint64 // predicted sequence of msgs[0]
	touched map[string]bool
}

// errStale reports decision state older than the log (another writer
// appended): the group is decided again after a resync.
var errStale = errors.New("ledger: decision state is behind the log")

func retryable(err error) bool {
	return errors.Is(err, errStale) || errors.Is(err, eventstore.ErrConflict) || errors.Is(err, eventstore.ErrUnknownOutcome)
}

// decide runs every line through the domain pipeline against the cached
// partners and the pending overlay, applying accepted events tentatively (so
// later lines see earlier ones) under predicted sequence numbers.
func (w *Writer) decide(subs []*submission) (*decision, error) {
	now := w.clock().UTC()
	d := &decision{expect: map[string]uint64{}, first: max(w.lastSeq.Load(), w.proj.Checkpoint()) + 1, touched: map[string]bool{}}
	next := d.first
	dir := writerDirectory{w}
	for _, s := range subs {
		rs := make([]LineResult, len(s.lines))
		for i, raw := range s.lines {
			r := &rs[i]
			r.Line = i + 1
			if len(raw) > MaxLineBytes {
				r.Code, r.Error = CodeLineTooLong, fmt.Sprintf("line is %d bytes, at most %d", len(raw), MaxLineBytes)
				continue
			}
			if s.refuse(raw, now, r) {
				continue
			}
			in, events, err := domain.Process(dir, w.partner, raw, now, w.pol)
			r.ID = in.ID
			if seq, ok := domain.IsDuplicate(err); ok {
				r.OK, r.Seq, r.Duplicate = true, seq, true
				continue
			}
			if err != nil {
				r.Code, r.Error = domain.CodeOf(err), err.Error()
				if r.Code == "" {
					r.Code = CodeUnavailable
				}
				continue
			}
			for _, e := range events {
				p := w.cache[e.Partner]
				if _, seen := d.expect[e.Partner]; !seen {
					d.expect[e.Partner] = p.LastSeq()
				}
				e.Seq = next
				next++
				d.touched[e.Partner] = true
				if err := domain.Apply(writerFacts{w, p}, e); err != nil {
					// The partner's state is ahead of our numbering: another
					// writer appended. Resynchronize and decide again.
					w.log.Warn("tentative apply failed", "err", err)
					return d, fmt.Errorf("%w: %v", errStale, err)
				}
				d.msgs = append(d.msgs, encodeEvent(e, raw, w.pol))
				r.OK, r.Seq = true, e.Seq
			}
		}
		d.results = append(d.results, rs)
	}
	return d, nil
}

// decideOnSnapshot decides a group against one consistent snapshot of the
// read models. While it is open, the pending overlay keeps what the snapshot
// lacks (pruning stops at the snapshot's checkpoint).
func (w *Writer) decideOnSnapshot(subs []*submission) (*decision, error) {
	snap, err := w.models().Snapshot()
	if err != nil {
		return &decision{results: failAll(subs, err)}, err
	}
	w.mu.Lock()
	w.snap, w.snapCP = snap, max(snap.Checkpoint(), 1)
	w.mu.Unlock()
	defer func() {
		snap.Close()
		w.mu.Lock()
		w.snap, w.snapCP = nil, 0
		w.pend.prune(w.folded)
		w.mu.Unlock()
	}()
	return w.decide(subs)
}

// partner returns the decision state of a partner, loading it from the read
// models on a miss. A partner with pending events is always cached, so what
// the read models hold for any other partner is complete.
func (w *Writer) partner(id string) (*domain.Partner, error) {
	if p, ok := w.cache[id]; ok {
		return p, nil
	}
	p, err := w.snap.Partner(id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = domain.NewPartner(id)
	} else {
		w.cached += p.Core.Events
	}
	w.cache[id] = p
	return p, nil
}

// resync discards the tentative state of a group that was not stored as
// predicted and waits until the read models hold the stream up to last, so
// partners reload complete.
func (w *Writer) resync(ctx context.Context, d *decision, last uint64) {
	w.mu.Lock()
	w.pend.rollback(d.first)
	w.mu.Unlock()
	for id := range d.touched {
		delete(w.cache, id)
	}
	w.lastSeq.Store(max(w.lastSeq.Load(), last))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.proj.WaitFor(wctx, last); err != nil {
		w.log.Error("read models did not catch up after a failed append", "want", last, "err", err)
	}
}

// prune is called by the projector after each fold. A partner whose folded
// events go beyond what this writer has pending was appended to by another
// writer (another replica): its cached state is stale.
func (w *Writer) prune(checkpoint uint64, touched map[string]uint64) {
	for {
		last := w.lastSeq.Load()
		if checkpoint <= last || w.lastSeq.CompareAndSwap(last, checkpoint) {
			break
		}
	}
	w.mu.Lock()
	for id, seq := range touched {
		if seq > w.pend.partners[id] {
			w.stale[id] = true
		}
	}
	w.folded = max(w.folded, checkpoint)
	if w.snapCP != 0 {
		checkpoint = min(checkpoint, w.snapCP)
	}
	w.pend.prune(checkpoint)
	w.mu.Unlock()
}

// catchUp makes the decision state current with the log before a group is
// decided: when another writer appended (the stream is ahead of what this
// writer knows), wait for the read models to fold it, then drop the cached
// partners it touched. A single ledger never waits here.
func (w *Writer) catchUp(ctx context.Context) {
	if last, err := w.es.LastSeq(ctx); err == nil && last > w.lastSeq.Load() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := w.proj.WaitFor(wctx, last); err != nil {
			w.log.Warn("read models behind the log; deciding with what they hold", "err", err)
		}
		cancel()
	}
	w.mu.Lock()
	stale := w.stale
	w.stale = map[string]bool{}
	for id := range stale {
		if _, pinned := w.pend.partners[id]; !pinned {
			if p, ok := w.cache[id]; ok {
				delete(w.cache, id)
				if p.Core != nil {
					w.cached -= p.Core.Events
				}
			}
		}
	}
	w.mu.Unlock()
}

// evict keeps the cache within its budget, dropping partners with nothing
// pending (the read models hold all of them).
func (w *Writer) evict() {
	if w.cached <= cacheBudgetEvents {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, p := range w.cache {
		if _, pinned := w.pend.partners[id]; pinned {
			continue
		}
		delete(w.cache, id)
		if p.Core != nil {
			w.cached -= p.Core.Events
		}
		if w.cached <= cacheBudgetEvents*3/4 {
			return
		}
	}
}

func shift(results [][]LineResult, predicted, actual uint64) {
	for _, rs := range results {
		for i := range rs {
			if rs[i].OK && rs[i].Seq >= predicted {
				rs[i].Seq = rs[i].Seq - predicted + actual
			}
		}
	}
}

func failAll(subs []*submission, err error) [][]LineResult {
	out := make([][]LineResult, len(subs))
	for i, s := range subs {
		out[i] = make([]LineResult, len(s.lines))
		for j := range out[i] {
			out[i][j] = LineResult{Line: j + 1, Code: CodeUnavailable, Error: "the event log did not accept the batch: " + err.Error()}
		}
	}
	return out
}

// writerDirectory is the global index as the writer sees it: its pending
// appends over the snapshot of the read models it decides against.
type writerDirectory struct{ w *Writer }

func (d writerDirectory) Envelope(id string) (uint64, domain.Fingerprint, bool) {
	d.w.mu.Lock()
	r, ok := d.w.pend.envelopes[id]
	d.w.mu.Unlock()
	if ok {
		return r.seq, r.fp, true
	}
	return d.w.snap.Envelope(id)
}

func (d writerDirectory) OfferOwner(id string) (string, bool) {
	d.w.mu.Lock()
	p, ok := d.w.pend.offers[id]
	d.w.mu.Unlock()
	if ok {
		return p, true
	}
	return d.w.snap.OfferOwner(id)
}

func (d writerDirectory) SaleOwner(id string) (string, bool) {
	d.w.mu.Lock()
	p, ok := d.w.pend.sales[id]
	d.w.mu.Unlock()
	if ok {
		return p, true
	}
	return d.w.snap.SaleOwner(id)
}

// writerFacts folds into a cached partner and records the pending overlay.
type writerFacts struct {
	w *Writer
	*domain.Partner
}

func (f writerFacts) PutOffer(o *domain.Offer) {
	f.Partner.PutOffer(o)
	f.w.mu.Lock()
	if _, ok := f.w.pend.offers[o.ID]; !ok {
		f.w.pend.offers[o.ID] = o.Partner
		f.w.pend.add(o.Pubs[len(o.Pubs)-1].Seq, 'o', o.ID)
	}
	f.w.mu.Unlock()
}

func (f writerFacts) PutSale(s *domain.Sale) {
	f.Partner.PutSale(s)
	f.w.mu.Lock()
	if _, ok := f.w.pend.sales[s.ID]; !ok {
		f.w.pend.sales[s.ID] = s.Partner
		f.w.pend.add(s.Seq, 's', s.ID)
	}
	f.w.mu.Unlock()
}

func (f writerFacts) PutEnvelope(id string, seq uint64, fp domain.Fingerprint) {
	f.w.mu.Lock()
	f.w.pend.envelopes[id] = envelopeRef{seq, fp}
	f.w.pend.add(seq, 'e', id)
	f.w.pend.partners[f.Partner.ID] = seq
	f.w.pend.add(seq, 'p', f.Partner.ID)
	f.w.mu.Unlock()
	f.w.cached++
}
