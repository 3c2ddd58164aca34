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

	cacheBudgetFacts = 100_000          // facts of partner state kept decided-ready (partners are held without their sales)
	maxAttempts      = 3                // appends of one submission before it is failed
	contentionWindow = 10 * time.Second // per-partner checks after meeting another writer
	settleTimeout    = 30 * time.Second // reading back what an append with an unknown outcome stored
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

	typ string // the line's event type, for the observer (not part of the document)
}

// Writer decides input events and appends them to the log.
//
// One goroutine owns the decision state (the partner cache and the pending
// overlay), so concurrent submissions are serialized without locks on the
// hot path, and submissions that arrive together are appended as one atomic
// batch: one fsync for all of them (group commit). One group is kept in
// flight: while the server stores group k, the writer decides group k+1 on
// top of k's tentative effects, and appends it once k is confirmed.
type Writer struct {
	pol    *domain.Policy
	es     eventLog
	models func() *projections.Store
	proj   *Projector
	clock  func() time.Time
	log    *slog.Logger
	reqs   chan *submission

	mu       sync.Mutex // guards pend, stale, snapNext and folded, shared with the projector's pruning
	pend     *pending
	stale    map[string]bool // partners another writer appended to
	snapNext uint64          // checkpoint of the snapshot being decided against plus one (it may be 0); 0 if none
	folded   uint64          // the projector's latest checkpoint

	// Owned by the run goroutine.
	snap         *projections.Snapshot      // the snapshot being decided against
	cache        map[string]*domain.Partner // decision state, by partner
	cached       int64                      // facts in cache (approximate between evictions)
	predicted    uint64                     // last sequence assigned, in flight included
	carry        *submission                // too big to join the last group: leads the next
	unsynced     bool                       // a failed append left state to resynchronize
	contended    time.Time                  // until then, appends are checked per partner (see launch)
	lastRecorded time.Time                  // the latest instant a group was recorded at (recordedNow)
	obs          Observer                   // nil: nobody listens (SetObserver)

	lastSeq atomic.Uint64 // the stream's last sequence as this writer knows it (confirmed)
}

type submission struct {
	ctx      context.Context
	lines    [][]byte
	permit   Permit // nil: every event type (see SubmitAs)
	attempts int
	done     chan []LineResult
}

// eventLog is what the writer needs of the event log: atomic appends
// checked against the stream's or each partner's last sequence, reading back
// what an append with an unknown outcome stored, and the log's end.
// *eventstore.Store is the log; the writer's unit tests use an in-memory one.
// Its methods are called from the writer's goroutine and from the goroutine
// of the append in flight.
type eventLog interface {
	// Append stores msgs atomically (see eventstore.Store.Append).
	Append(ctx context.Context, msgs []eventstore.Message, expect map[string]uint64, opts ...eventstore.AppendOption) (first uint64, err error)
	// Settle reads back what of msgs an append stored after sequence after
	// (see eventstore.Store.Settle).
	Settle(ctx context.Context, after uint64, msgs []eventstore.Message) (first uint64, n int, err error)
	// LastSeq is the stream's last sequence (see eventstore.Store.LastSeq).
	LastSeq(ctx context.Context) (uint64, error)
}

var _ eventLog = (*eventstore.Store)(nil)

// NewWriter returns a writer; call Run to start it. lastSeq is the stream's
// last sequence at start.
func NewWriter(pol *domain.Policy, es *eventstore.Store, models func() *projections.Store, proj *Projector, lastSeq uint64, log *slog.Logger) *Writer {
	return newWriter(pol, es, models, proj, lastSeq, log)
}

// newWriter is NewWriter on any event log.
func newWriter(pol *domain.Policy, es eventLog, models func() *projections.Store, proj *Projector, lastSeq uint64, log *slog.Logger) *Writer {
	w := &Writer{pol: pol, es: es, models: models, proj: proj, clock: time.Now, log: log,
		reqs: make(chan *submission, 64), pend: newPending(), stale: map[string]bool{}, cache: map[string]*domain.Partner{}}
	w.lastSeq.Store(lastSeq)
	w.predicted = lastSeq
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

// flight is a group whose append is under way.
type flight struct {
	d     *decision
	start time.Time     // when the append was sent
	done  chan struct{} // closed when first and err are set
	first uint64
	err   error
}

// runState is what Run carries from one group to the next: the group in
// flight and the submissions to decide again before any new one.
type runState struct {
	fl    *flight       // nil: no append under way
	retry []*submission // decided again first, in order
}

// Run processes submissions until ctx ends. The owner stops sending
// submissions before cancelling ctx; a group in flight is still landed.
func (w *Writer) Run(ctx context.Context) error {
	var st runState
	for {
		subs := w.next(ctx, &st)
		if subs == nil {
			if st.fl != nil {
				w.land(context.Background(), st.fl)
			}
			return ctx.Err()
		}
		d, err := w.decideGroup(ctx, subs)
		if st.fl != nil {
			again, ok := w.land(ctx, st.fl)
			st.fl = nil
			if !ok {
				// d was decided on top of a group that was not stored as
				// predicted: decide both again (land has resynchronized).
				st.retry = append(append(again, subs...), st.retry...)
				continue
			}
		}
		switch {
		case err != nil:
			w.log.Warn("decision state behind the log; resynchronizing", "err", err)
			w.resync(ctx, d.first)
			// Ahead of what still waits to be retried (a group from
			// retry may leave the rest of it there).
			st.retry = append(w.requeue(subs, err, nil), st.retry...)
		case len(d.msgs) == 0:
			w.reply(d)
			w.evict()
		default:
			st.fl = w.launch(ctx, d)
		}
	}
}

// next returns the next group to decide: submissions to retry first, else
// new ones. While a group is in flight and nothing new arrives, it lands
// that group (st.fl is then nil). It returns nil when ctx ends.
func (w *Writer) next(ctx context.Context, st *runState) []*submission {
	if len(st.retry) > 0 {
		var subs []*submission
		subs, st.retry = takeGroup(st.retry)
		return subs
	}
	if s := w.carry; s != nil {
		w.carry = nil
		return w.gather(s)
	}
	for {
		var done chan struct{}
		if st.fl != nil {
			done = st.fl.done
		}
		select {
		case <-ctx.Done():
			return nil
		case s := <-w.reqs:
			return w.gather(s)
		case <-done:
			again, _ := w.land(ctx, st.fl)
			st.fl = nil
			if len(again) > 0 {
				var subs []*submission
				subs, st.retry = takeGroup(again)
				return subs
			}
		}
	}
}

// gather groups s with the submissions already waiting, up to one atomic
// batch of lines.
func (w *Writer) gather(s *submission) []*submission {
	if w.obs != nil {
		w.obs.WriterQueueDepth(len(w.reqs))
	}
	subs, n := []*submission{s}, len(s.lines)
	for len(w.reqs) > 0 {
		next := <-w.reqs
		if n+len(next.lines) > MaxLines {
			w.carry = next // too big to join: it leads the next group
			break
		}
		subs, n = append(subs, next), n+len(next.lines)
	}
	return subs
}

// takeGroup splits queued submissions into a group of at most MaxLines lines
// and the rest.
func takeGroup(queue []*submission) ([]*submission, []*submission) {
	n, i := 0, 0
	for ; i < len(queue) && (i == 0 || n+len(queue[i].lines) <= MaxLines); i++ {
		n += len(queue[i].lines)
	}
	return queue[:i:i], queue[i:]
}

// launch appends a decided group in the background.
//
// Alone on the stream, the writer's state is complete up to the stream's end
// (catchUp), so the one check that nobody appended since, on the stream's
// last sequence, implies every partner's: the server compares two numbers
// instead of looking up each partner's last message. Once another writer
// shows up (a failed stream check, the log ahead of us in catchUp, or read
// models holding events we did not number), the writer checks per partner
// for contentionWindow, so that writers on different partners do not fail
// each other's appends.
func (w *Writer) launch(ctx context.Context, d *decision) *flight {
	fl := &flight{d: d, done: make(chan struct{}), start: time.Now()}
	w.proj.Expect(d.first + uint64(len(d.msgs)) - 1)
	expect, opts := d.expect, []eventstore.AppendOption(nil)
	if time.Now().After(w.contended) {
		expect, opts = nil, []eventstore.AppendOption{eventstore.ExpectLastSeq(d.first - 1)}
	}
	go func() {
		fl.first, fl.err = w.es.Append(ctx, d.msgs, expect, opts...)
		close(fl.done)
	}()
	return fl
}

// metAnotherWriter switches appends to per-partner checks for a while.
func (w *Writer) metAnotherWriter() { w.contended = time.Now().Add(contentionWindow) }

// streamConflict reports a failed check of the stream's last sequence:
// another writer appended, not necessarily to the same partners.
func streamConflict(err error) bool {
	var c *eventstore.ConflictError
	return errors.As(err, &c) && c.Partner == ""
}

// land waits for a group's append and replies to its submissions. ok is false
// when the group was not stored as predicted; the writer has then
// resynchronized, and again holds the submissions to decide again.
func (w *Writer) land(ctx context.Context, fl *flight) (again []*submission, ok bool) {
	<-fl.done
	d := fl.d
	if fl.err != nil || fl.first != d.first {
		// No handoff is sure to follow: the projector reads what the log
		// holds (resync below waits for it to).
		w.proj.Abandon()
	}
	if errors.Is(fl.err, eventstore.ErrUnknownOutcome) {
		if w.settle(ctx, fl) {
			return nil, false
		}
	}
	last := d.first + uint64(len(d.msgs)) - 1
	switch {
	case fl.err == nil && fl.first == d.first:
		w.proj.Offer(d.events)
		if w.obs != nil {
			w.obs.AppendedBatch(len(d.msgs), time.Since(fl.start))
		}
		w.lastSeq.Store(last)
		w.reply(d)
		w.evict()
		return nil, true
	case fl.err == nil:
		// Stored, but another writer appended in between: our numbering
		// was off. Renumber the replies and resynchronize.
		w.log.Warn("stream moved under the writer; resynchronizing", "predicted", d.first, "actual", fl.first)
		shift(d.results, d.first, fl.first)
		w.resync(ctx, d.first)
		w.reply(d)
		return nil, false
	}
	if streamConflict(fl.err) {
		w.log.Info("another writer appended; checking appends per partner", "err", fl.err, "for", contentionWindow)
		w.metAnotherWriter()
	} else {
		w.log.Warn("append failed; resynchronizing", "err", fl.err)
	}
	w.resync(ctx, d.first)
	return w.requeue(d.subs, fl.err, settled(d, d.first, 0, fl.err)), false
}

// settle finds out what an append whose outcome was unknown stored, so that
// its lines are answered as what they are: recorded by this submission
// (duplicate:false, with their sequences), or not recorded. All stored, the
// flight becomes a success; none stored, it stays a failure to retry. Part
// stored (a single-replica commit that ran out of room half-way), the rest
// is appended after it, as decided; if that fails too, settle answers the
// group line by line, resynchronizes and returns true.
func (w *Writer) settle(ctx context.Context, fl *flight) (answered bool) {
	d := fl.d
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	after := min(d.first-1, w.lastSeq.Load())
	first, n, err := w.es.Settle(sctx, after, d.msgs)
	if err != nil {
		w.log.Warn("cannot read back what an append with an unknown outcome stored", "err", err, "outcome", fl.err)
		return false
	}
	w.log.Info("append with an unknown outcome read back", "stored", n, "of", len(d.msgs), "first", first, "outcome", fl.err)
	switch {
	case n == 0:
		return false
	case n == len(d.msgs):
		fl.first, fl.err = first, nil
		return false
	}
	// The rest was decided on top of the stored part: append it right
	// after, reading back again should that outcome be unknown too.
	for attempt := 0; attempt < maxAttempts; attempt++ {
		next := first + uint64(n)
		var rest uint64
		rest, err = w.es.Append(sctx, d.msgs[n:], nil, eventstore.ExpectLastSeq(next-1))
		if err == nil && rest != next {
			err = fmt.Errorf("the rest of the batch was stored at %d, not right after its first part (%d)", rest, next)
		}
		if err == nil {
			fl.first, fl.err = first, nil
			return false
		}
		if !errors.Is(err, eventstore.ErrUnknownOutcome) {
			break
		}
		_, m, serr := w.es.Settle(sctx, next-1, d.msgs[n:])
		if serr != nil {
			err = fmt.Errorf("%w (reading it back: %v)", err, serr)
			break
		}
		if n += m; n == len(d.msgs) {
			fl.first, fl.err = first, nil
			return false
		}
	}
	w.log.Error("an atomic append was stored in part and could not be completed", "first", first, "stored", n, "of", len(d.msgs), "err", err)
	predicted := d.first // answerPartial renumbers d
	w.answerPartial(d, first, n, err)
	w.resync(ctx, predicted)
	return true
}

// answerPartial answers a group of which only the first n events were
// stored, at first (see settled).
func (w *Writer) answerPartial(d *decision, first uint64, n int, err error) {
	for i, rs := range settled(d, first, n, err) {
		w.answer(d.subs[i], rs)
	}
}

// settled is what a group's lines are when only the first n of its events
// were stored, at first (n may be 0): lines up to the first one not (wholly)
// stored are as decided, renumbered (recorded, duplicates of earlier
// submissions, rejections); that line and every later one were decided on
// top of events that are not in the log, so none of them is recorded.
func settled(d *decision, first uint64, n int, err error) [][]LineResult {
	shift(d.results, d.first, first)
	d.first = first
	cut := first + uint64(n) // the first sequence not stored
	code := codeOf(err)
	msg := "not recorded: " + failMsg(code, err)
	if n > 0 {
		msg = fmt.Sprintf("not recorded: the event log stored only the first %d of the batch's %d events (up to seq %d): %v",
			n, len(d.msgs), cut-1, err)
	}
	failed := false
	for _, rs := range d.results {
		for j := range rs {
			if !failed && rs[j].OK && rs[j].Seq >= cut {
				failed = true
			}
			if failed {
				rs[j] = LineResult{Line: rs[j].Line, ID: rs[j].ID, Code: code, Error: msg}
			}
		}
	}
	return d.results
}

// requeue returns the submissions to decide again after a failure, and fails
// those that have had their attempts: with results (a failed append's, see
// settled), lines that did not depend on the append keep their answer.
func (w *Writer) requeue(subs []*submission, err error, results [][]LineResult) []*submission {
	var again []*submission
	for i, s := range subs {
		if !streamConflict(err) {
			// The next attempt is checked per partner: a failed stream
			// check does not count against the submission.
			s.attempts++
		}
		if s.attempts < maxAttempts && retryable(err) && s.ctx.Err() == nil {
			again = append(again, s)
			continue
		}
		if results != nil {
			w.answer(s, results[i])
			continue
		}
		w.answer(s, failLines(s, err))
	}
	return again
}

// reply answers a decided group's submissions.
func (w *Writer) reply(d *decision) {
	for i, s := range d.subs {
		w.answer(s, d.results[i])
	}
}

// answer gives a submission its final results, and tells the observer
// what became of each line: every answer passes here, once.
func (w *Writer) answer(s *submission, rs []LineResult) {
	if w.obs != nil {
		for _, r := range rs {
			switch {
			case r.OK && !r.Duplicate:
				w.obs.Appended(r.typ, 1)
			case !r.OK:
				w.obs.Rejected(r.Code)
			}
		}
	}
	s.done <- rs
}

// Observer hears what the writer does, for metrics. Its methods are called
// on the writer's goroutine: they must be cheap and must not block.
type Observer interface {
	Appended(typ string, n int)           // n events of type typ recorded
	Rejected(code domain.Code)            // a line answered with a code
	AppendedBatch(n int, d time.Duration) // an atomic append of n events confirmed after d
	WriterQueueDepth(n int)               // submissions waiting for the writer
}

// SetObserver makes o hear what the writer does (before Run).
func (w *Writer) SetObserver(o Observer) { w.obs = o }

func shift(results [][]LineResult, predicted, actual uint64) {
	for _, rs := range results {
		for i := range rs {
			if rs[i].OK && rs[i].Seq >= predicted {
				rs[i].Seq = rs[i].Seq - predicted + actual
			}
		}
	}
}

// codeOf is the line code of a failed append.
func codeOf(err error) domain.Code {
	switch {
	case IsDamaged(err):
		return domain.CodeLogDamaged
	case errors.Is(err, eventstore.ErrStorageFull):
		return domain.CodeStorageFull
	}
	return domain.CodeUnavailable
}

// failMsg explains a failure code.
func failMsg(code domain.Code, err error) string {
	switch code {
	case domain.CodeLogDamaged:
		return "the ledger records nothing until its damaged event log is repaired: " + err.Error()
	case domain.CodeStorageFull:
		return "the event store has no room; nothing was recorded (submit again once room is made): " + err.Error()
	}
	return "the event log did not accept the batch: " + err.Error()
}

func failLines(s *submission, err error) []LineResult {
	code := codeOf(err)
	msg := failMsg(code, err)
	out := make([]LineResult, len(s.lines))
	for j := range out {
		out[j] = LineResult{Line: j + 1, Code: code, Error: msg}
	}
	return out
}
