package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// The writer's unit tests: its grouping, retry and resync logic over an
// in-memory event log (fakeLog) whose every append has a scripted outcome.
// The read models are a real projections.Store in a temporary directory,
// folded by a real Projector reading the same in-memory log; the end-to-end
// tests (internal/app, internal/rpc) run the writer on the real server.

// outcome is what the fake log does with one Append.
type outcome int

const (
	stored          outcome = iota // stored as asked, if its checks pass (every Append once the script has run out)
	otherWriter                    // another writer appends first, to another partner; then the checks decide (a stream check fails)
	otherWriterSame                // another writer appends first, to the first message's partner (every check fails)
	unknownStored                  // stored, but the answer is lost: ErrUnknownOutcome
	unknownPart                    // only the first message stored (a commit that ran out of room half-way), the answer lost
	unknownLost                    // nothing stored, the answer lost: ErrUnknownOutcome
	unavailable                    // nothing stored: ErrUnavailable (no leader)
	storageFull                    // nothing stored: ErrStorageFull
)

// appendCall is one Append the writer made.
type appendCall struct {
	msgs   []eventstore.Message
	expect map[string]uint64
	stream bool // checked against the stream's last sequence (ExpectLastSeq)
}

// fakeLog is an in-memory event log: records numbered from 1, per-partner
// checks enforced, stream checks (whose expected sequence an AppendOption
// hides) failed only when another writer appended (otherWriter).
type fakeLog struct {
	mu       sync.Mutex
	recs     []eventstore.Record // recs[i].Seq == i+1
	script   []outcome           // outcome of each Append, in order
	appends  []appendCall
	settles  int
	lastSeqs int // the writer's LastSeq calls (the projector's are not counted)
	others   int // records another writer appended
	logReads int // records the projector read back from the log

	// Called, outside the lock, before the writer's nth (from 1) Append or
	// LastSeq is answered: a test holds the writer there.
	beforeAppend  func(n int)
	beforeLastSeq func(n int)
	// Called, outside the lock, once the writer's nth Append has stored
	// its records and before it returns: the log holds a group whose
	// acknowledgement has not reached the writer.
	afterStore func(n int)
}

var recordedAt = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func (f *fakeLog) Append(ctx context.Context, msgs []eventstore.Message, expect map[string]uint64, opts ...eventstore.AppendOption) (uint64, error) {
	f.mu.Lock()
	f.appends = append(f.appends, appendCall{msgs: msgs, expect: maps.Clone(expect), stream: len(opts) > 0})
	n := len(f.appends)
	out := stored
	if n <= len(f.script) {
		out = f.script[n-1]
	}
	hook := f.beforeAppend
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	switch out {
	case unknownLost:
		return 0, fmt.Errorf("%w: no answer (fake)", eventstore.ErrUnknownOutcome)
	case unavailable:
		return 0, fmt.Errorf("%w: no leader (fake)", eventstore.ErrUnavailable)
	case storageFull:
		return 0, fmt.Errorf("%w: max_store (fake)", eventstore.ErrStorageFull)
	case otherWriter, otherWriterSame:
		f.others++
		id := fmt.Sprintf("other-%d", f.others)
		partner := fmt.Sprintf("P-9%03d", f.others)
		if out == otherWriterSame {
			partner = msgs[0].Partner
		}
		f.store(eventstore.Message{Partner: partner, Type: domain.TypeOfferPublished, Data: []byte(offer(id, partner)),
			Header: map[string]string{HdrRecorded: recordedAt.Format(time.RFC3339Nano)}})
		if len(opts) > 0 {
			last := uint64(len(f.recs))
			return 0, &eventstore.ConflictError{Expected: last - 1, Actual: last}
		}
	}
	for p, want := range expect {
		if got := f.partnerLast(p); got != want {
			return 0, &eventstore.ConflictError{Partner: p, Expected: want, Actual: got}
		}
	}
	first := uint64(len(f.recs)) + 1
	switch out {
	case unknownPart:
		f.store(msgs[0])
		return 0, fmt.Errorf("%w: no answer (fake)", eventstore.ErrUnknownOutcome)
	case unknownStored:
		f.store(msgs...)
		return 0, fmt.Errorf("%w: no answer (fake)", eventstore.ErrUnknownOutcome)
	}
	f.store(msgs...)
	if hook := f.afterStore; hook != nil {
		f.mu.Unlock()
		hook(n)
		f.mu.Lock()
	}
	return first, nil
}

// store appends records as Append stores them (f.mu held).
func (f *fakeLog) store(msgs ...eventstore.Message) {
	for _, m := range msgs {
		f.recs = append(f.recs, eventstore.Record{Seq: uint64(len(f.recs)) + 1, Subject: eventstore.Subject(m.Partner, m.Type),
			Partner: m.Partner, Type: m.Type, Data: bytes.Clone(m.Data), Header: m.StoredHeader(), Stored: recordedAt})
	}
}

func (f *fakeLog) partnerLast(p string) uint64 {
	for i := len(f.recs) - 1; i >= 0; i-- {
		if f.recs[i].Partner == p {
			return f.recs[i].Seq
		}
	}
	return 0
}

// Settle finds the run of msgs stored after sequence after, as
// eventstore.Store.Settle does.
func (f *fakeLog) Settle(ctx context.Context, after uint64, msgs []eventstore.Message) (first uint64, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settles++
	for _, r := range f.recs[min(after, uint64(len(f.recs))):] {
		switch {
		case n == len(msgs):
			return first, n, nil
		case sameStored(r, msgs[n]):
			if n == 0 {
				first = r.Seq
			}
			n++
		case n > 0:
			return first, n, nil
		}
	}
	return first, n, nil
}

func sameStored(r eventstore.Record, m eventstore.Message) bool {
	return r.Partner == m.Partner && r.Type == m.Type && bytes.Equal(r.Data, m.Data) && maps.Equal(r.Header, m.StoredHeader())
}

func (f *fakeLog) LastSeq(ctx context.Context) (uint64, error) {
	f.mu.Lock()
	f.lastSeqs++
	n, hook := f.lastSeqs, f.beforeLastSeq
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return f.last(), nil
}

func (f *fakeLog) last() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.recs))
}

// ids are the envelope ids of the records, in log order.
func (f *fakeLog) ids(t *testing.T) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for i, r := range f.recs {
		if r.Seq != uint64(i)+1 {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		var env struct{ ID string }
		if err := json.Unmarshal(r.Data, &env); err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
		ids = append(ids, env.ID)
	}
	return ids
}

// counts are the writer's Settle and LastSeq calls so far.
func (f *fakeLog) counts() (settles, lastSeqs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settles, f.lastSeqs
}

// calls is a copy of the Appends made so far.
func (f *fakeLog) calls() []appendCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]appendCall(nil), f.appends...)
}

// fakeReader is the projector's view of a fakeLog: its reads reach no hook
// and are not counted as the writer's; the records it reads are counted in
// logReads.
type fakeReader struct{ f *fakeLog }

func (r fakeReader) LastSeq(context.Context) (uint64, error)    { return r.f.last(), nil }
func (r fakeReader) CheckDense(context.Context) (uint64, error) { return r.f.last(), nil }
func (r fakeReader) Read(ctx context.Context, from uint64, partner string, fn func([]eventstore.Record) error, _ ...eventstore.ReadOption) error {
	r.f.mu.Lock()
	var batch []eventstore.Record
	for _, rec := range r.f.recs[min(max(from, 1)-1, uint64(len(r.f.recs))):] {
		if partner == "" || rec.Partner == partner {
			batch = append(batch, rec)
		}
	}
	r.f.logReads += len(batch)
	r.f.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return fn(batch)
}

// offer is the input line of a partner's first offer (offer O-id), the
// first event a partner can have.
func offer(id, partner string) string {
	return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test/writer","type":"OfferPublished","time":"2024-01-10T00:00:00Z",`+
		`"data":{"offer_id":"O-%s","partner_id":%q,"publisher_id":"PUB-1","listing_type":"transact","storefront":"azure-marketplace"}}`, id, id, partner)
}

// writerRig runs a writer and its projector over a fake log until the test
// ends.
type writerRig struct {
	log *fakeLog
	w   *Writer
}

func newWriterRig(t *testing.T, f *fakeLog) *writerRig {
	t.Helper()
	return newWriterRigModels(t, f, nil)
}

// newWriterRigModels is newWriterRig with the writer's read models reached
// through models (given the real ones; nil: directly); the projector's are
// always the real ones.
func newWriterRigModels(t *testing.T, f *fakeLog, models func(*projections.Store) func() *projections.Store) *writerRig {
	t.Helper()
	store, err := projections.Open(filepath.Join(t.TempDir(), "models.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	get := func() *projections.Store { return store }
	logger := slog.New(slog.DiscardHandler)
	proj, err := newProjector(fakeReader{f}, get, logger)
	if err != nil {
		t.Fatal(err)
	}
	writerGet := get
	if models != nil {
		writerGet = models(store)
	}
	w := newWriter(domain.DefaultPolicy(), f, writerGet, proj, 0, logger)
	w.SetClock(func() time.Time { return recordedAt })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { proj.Run(ctx) })
	wg.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &writerRig{log: f, w: w}
}

// submit submits lines and returns their results (nil if it failed). The deadline only keeps
// a writer that never answers from hanging the test binary.
func (r *writerRig) submit(t *testing.T, lines ...string) []LineResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw := make([][]byte, len(lines))
	for i, l := range lines {
		raw[i] = []byte(l)
	}
	rs, err := r.w.Submit(ctx, raw)
	if err != nil {
		t.Errorf("submit: %v", err) // not Fatal: submit may run on another goroutine
	}
	return rs
}

// waitQueued waits until n submissions wait in the writer's queue.
func (r *writerRig) waitQueued(n int) {
	for len(r.w.reqs) < n {
		time.Sleep(time.Millisecond)
	}
}

// checkResults compares what a test asserts of each line.
func checkResults(t *testing.T, what string, got, want []LineResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d: %+v", what, len(got), len(want), got)
	}
	bad := 0
	for i := range want {
		g, w := got[i], want[i]
		if bad == 5 {
			t.Errorf("%s: …", what)
			return
		}
		if g.Line != w.Line || g.OK != w.OK || g.Seq != w.Seq || g.Duplicate != w.Duplicate || g.Code != w.Code {
			t.Errorf("%s: line %d = {line %d ok %v seq %d dup %v code %q %s}, want {line %d ok %v seq %d dup %v code %q}",
				what, i+1, g.Line, g.OK, g.Seq, g.Duplicate, g.Code, g.Error, w.Line, w.OK, w.Seq, w.Duplicate, w.Code)
			bad++
		}
	}
}

func recorded(line int, seq uint64) LineResult { return LineResult{Line: line, OK: true, Seq: seq} }
func duplicate(line int, seq uint64) LineResult {
	return LineResult{Line: line, OK: true, Seq: seq, Duplicate: true}
}
func failed(line int, code domain.Code) LineResult { return LineResult{Line: line, Code: code} }

// TestWriterGroupsConcurrentSubmissions: submissions that arrive while a
// group's append is in flight are decided on top of it and appended
// together, in one Append once it is confirmed, their lines in order under
// contiguous sequences.
func TestWriterGroupsConcurrentSubmissions(t *testing.T) {
	const n = 5 // submissions arriving during the first append, two lines each
	f := &fakeLog{}
	deciding := make(chan struct{}) // the writer is in the first group's catchUp
	release := make(chan struct{})
	nextDecided := make(chan struct{}) // the writer is deciding the second group
	f.beforeLastSeq = func(call int) {
		switch call {
		case 1:
			close(deciding)
			<-release
		case 2:
			close(nextDecided)
		}
	}
	f.beforeAppend = func(call int) {
		if call == 1 {
			<-nextDecided // the first append is in flight until then
		}
	}
	r := newWriterRig(t, f)

	type answer struct {
		i  int
		rs []LineResult
	}
	answers := make(chan answer, n+1)
	go func() { answers <- answer{0, r.submit(t, offer("a", "P-1"))} }()
	<-deciding
	want := map[int][]LineResult{0: {recorded(1, 1)}}
	wantIDs := []string{"a"}
	for i := 1; i <= n; i++ {
		id, partner := fmt.Sprintf("b%d", i), fmt.Sprintf("P-1%02d", i)
		go func() { answers <- answer{i, r.submit(t, offer(id+"-1", partner), offer(id+"-2", partner+"0"))} }()
		r.waitQueued(i) // one at a time: the queue's order is known
		first := uint64(2 * i)
		want[i] = []LineResult{recorded(1, first), recorded(2, first+1)}
		wantIDs = append(wantIDs, id+"-1", id+"-2")
	}
	close(release)
	for range n + 1 {
		a := <-answers
		checkResults(t, fmt.Sprintf("submission %d", a.i), a.rs, want[a.i])
	}

	calls := f.calls()
	if len(calls) != 2 || len(calls[0].msgs) != 1 || len(calls[1].msgs) != 2*n {
		sizes := make([]int, len(calls))
		for i, c := range calls {
			sizes[i] = len(c.msgs)
		}
		t.Fatalf("appends of %v messages, want [1 %d]: the submissions made during the first were not grouped", sizes, 2*n)
	}
	for i, c := range calls {
		if !c.stream || c.expect != nil {
			t.Errorf("append %d checked per partner %v, want the stream check of a writer alone", i+1, c.expect)
		}
	}
	if got := f.ids(t); !slices.Equal(got, wantIDs) {
		t.Errorf("log holds %v, want %v", got, wantIDs)
	}
}

// TestProjectorWaitsForTheHandoffInFlight: the log holds a group before
// the writer has its acknowledgement. A poll that sees the log's end in that
// window (here Notify, as a poll sets it) must not make the projector read
// the group back from the log: it waits for the writer's handoff, and folds
// the group from memory.
func TestProjectorWaitsForTheHandoffInFlight(t *testing.T) {
	f := &fakeLog{}
	var proj *Projector
	f.afterStore = func(int) {
		last := f.last()
		proj.Notify(last)
		// Time for a projector that reads the log to do so (it then
		// reaches last); one that waits for the handoff has nothing to
		// do until this Append returns. Not a speed bound: a slow machine
		// can only let a broken projector pass.
		for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline) && proj.Checkpoint() < last; {
			time.Sleep(time.Millisecond)
		}
	}
	r := newWriterRig(t, f)
	proj = r.w.proj
	for i := range 3 {
		id, partner := fmt.Sprintf("w%d", i), fmt.Sprintf("P-3%02d", i)
		checkResults(t, "submit "+id, r.submit(t, offer(id, partner)), []LineResult{recorded(1, uint64(i+1))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := proj.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	reads := f.logReads
	f.mu.Unlock()
	if reads != 0 {
		t.Errorf("the projector read %d records back from the log that its writer had in flight, want 0: it did not wait for the handoff", reads)
	}
}

// TestWriterAppendOutcomes: what the writer answers and what the log holds
// after each way an append can end, and that submitting the same lines again
// afterwards is answered from what was really recorded (duplicates of what
// the log holds, new events for what it does not).
func TestWriterAppendOutcomes(t *testing.T) {
	tooLong := `{"id":"x","pad":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	tests := []struct {
		name    string
		script  []outcome
		lines   []string
		want    []LineResult
		checks  []string // each Append's check: "stream" or the partners' expected last sequences
		settles int
		log     []string     // ids the log holds afterwards
		again   []LineResult // the same lines submitted again
	}{
		{
			name:   "stored",
			lines:  []string{offer("a", "P-1"), offer("b", "P-2")},
			want:   []LineResult{recorded(1, 1), recorded(2, 2)},
			checks: []string{"stream"},
			log:    []string{"a", "b"},
			again:  []LineResult{duplicate(1, 1), duplicate(2, 2)},
		},
		{
			// The stream check fails: the writer resynchronizes, reads the
			// other writer's event, and appends checked per partner.
			name:   "another writer appended",
			script: []outcome{otherWriter},
			lines:  []string{offer("a", "P-1")},
			want:   []LineResult{recorded(1, 2)},
			checks: []string{"stream", "P-1=0"},
			log:    []string{"other-1", "a"},
			again:  []LineResult{duplicate(1, 2)},
		},
		{
			// Checked per partner, another writer's append to another
			// partner does not fail ours: it is stored after it, and the
			// answer is renumbered to where it landed.
			name:   "another writer appended again while checked per partner",
			script: []outcome{otherWriter, otherWriter},
			lines:  []string{offer("a", "P-1")},
			want:   []LineResult{recorded(1, 3)},
			checks: []string{"stream", "P-1=0"},
			log:    []string{"other-1", "other-2", "a"},
			again:  []LineResult{duplicate(1, 3)},
		},
		{
			// Checked per partner, another writer's append to the same
			// partner fails ours: decided again on top of it, and checked
			// against it.
			name:   "another writer appended to the same partner",
			script: []outcome{otherWriter, otherWriterSame},
			lines:  []string{offer("a", "P-1"), offer("b", "P-2")},
			want:   []LineResult{recorded(1, 3), recorded(2, 4)},
			checks: []string{"stream", "P-1=0,P-2=0", "P-1=2,P-2=0"},
			log:    []string{"other-1", "other-2", "a", "b"},
			again:  []LineResult{duplicate(1, 3), duplicate(2, 4)},
		},
		{
			name:    "unknown outcome, stored",
			script:  []outcome{unknownStored},
			lines:   []string{offer("a", "P-1"), offer("b", "P-2")},
			want:    []LineResult{recorded(1, 1), recorded(2, 2)},
			checks:  []string{"stream"}, // read back, not appended again
			settles: 1,
			log:     []string{"a", "b"},
			again:   []LineResult{duplicate(1, 1), duplicate(2, 2)},
		},
		{
			name:    "unknown outcome, not stored",
			script:  []outcome{unknownLost},
			lines:   []string{offer("a", "P-1"), offer("b", "P-2")},
			want:    []LineResult{recorded(1, 1), recorded(2, 2)},
			checks:  []string{"stream", "stream"},
			settles: 1,
			log:     []string{"a", "b"},
			again:   []LineResult{duplicate(1, 1), duplicate(2, 2)},
		},
		{
			// The rest is appended right after the stored part.
			name:    "unknown outcome, first part stored",
			script:  []outcome{unknownPart},
			lines:   []string{offer("a", "P-1"), offer("b", "P-2")},
			want:    []LineResult{recorded(1, 1), recorded(2, 2)},
			checks:  []string{"stream", "stream"},
			settles: 1,
			log:     []string{"a", "b"},
			again:   []LineResult{duplicate(1, 1), duplicate(2, 2)},
		},
		{
			name:   "unavailable every attempt",
			script: []outcome{unavailable, unavailable, unavailable},
			lines:  []string{offer("a", "P-1"), offer("b", "P-2")},
			want:   []LineResult{failed(1, domain.CodeUnavailable), failed(2, domain.CodeUnavailable)},
			checks: []string{"stream", "stream", "stream"}, // maxAttempts
			again:  []LineResult{recorded(1, 1), recorded(2, 2)},
		},
		{
			name:   "unavailable, then stored",
			script: []outcome{unavailable, unavailable},
			lines:  []string{offer("a", "P-1")},
			want:   []LineResult{recorded(1, 1)},
			checks: []string{"stream", "stream", "stream"},
			log:    []string{"a"},
			again:  []LineResult{duplicate(1, 1)},
		},
		{
			// Not retried; a line rejected before the append keeps its
			// own answer.
			name:   "storage full",
			script: []outcome{storageFull},
			lines:  []string{tooLong, offer("a", "P-1")},
			want:   []LineResult{failed(1, domain.CodeLineTooLong), failed(2, domain.CodeStorageFull)},
			checks: []string{"stream"},
			again:  []LineResult{failed(1, domain.CodeLineTooLong), recorded(2, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLog{script: tt.script}
			r := newWriterRig(t, f)
			checkResults(t, "submit", r.submit(t, tt.lines...), tt.want)

			calls := f.calls()
			checks := make([]string, len(calls))
			for i, c := range calls {
				switch {
				case c.stream && c.expect == nil:
					checks[i] = "stream"
				case !c.stream:
					var ps []string
					for _, p := range slices.Sorted(maps.Keys(c.expect)) {
						ps = append(ps, fmt.Sprintf("%s=%d", p, c.expect[p]))
					}
					checks[i] = strings.Join(ps, ",")
				default:
					checks[i] = "both"
				}
			}
			if !slices.Equal(checks, tt.checks) {
				t.Errorf("appends checked %v, want %v", checks, tt.checks)
			}
			if settles, _ := f.counts(); settles != tt.settles {
				t.Errorf("%d reads back, want %d", settles, tt.settles)
			}
			if got := f.ids(t); !slices.Equal(got, tt.log) {
				t.Errorf("log holds %v, want %v", got, tt.log)
			}

			before := len(calls)
			checkResults(t, "submitted again", r.submit(t, tt.lines...), tt.again)
			if got := f.ids(t); len(got) != len(tt.log)+countNew(tt.again) {
				t.Errorf("after submitting again the log holds %v", got)
			}
			if len(f.calls()) > before+1 {
				t.Errorf("submitting again took %d appends", len(f.calls())-before)
			}
		})
	}
}

func countNew(rs []LineResult) int {
	n := 0
	for _, r := range rs {
		if r.OK && !r.Duplicate {
			n++
		}
	}
	return n
}

// TestWriterKeepsQueuedRetries: when a retried group cannot be decided (the
// read models fail to open a snapshot), the submissions queued to be retried
// after it are still decided and answered. Before the fix Run replaced its
// retry queue with the failed group's requeued submissions, so a second
// group waiting there (a failed append and the group decided on top of it
// come to more than one batch) was never answered: its callers waited until
// their deadline.
func TestWriterKeepsQueuedRetries(t *testing.T) {
	const lines = MaxLines*3/5 + 1 // two submissions do not fit one batch
	f := &fakeLog{script: []outcome{unavailable}}
	var broken atomic.Bool // the writer's read models fail to open a snapshot
	deciding, release := make(chan struct{}), make(chan struct{})
	nextDecided := make(chan struct{})
	f.beforeLastSeq = func(call int) {
		switch call {
		case 1: // the first submission's catchUp: the second is queued meanwhile
			close(deciding)
			<-release
		case 2: // the second submission's catchUp, decided on top of the first in flight
			close(nextDecided)
		case 3: // land's resync after the first append failed: both are queued to retry
			broken.Store(true)
		case 5: // the resync after the retried group could not be decided
			broken.Store(false)
		}
	}
	f.beforeAppend = func(call int) {
		if call == 1 {
			<-nextDecided
		}
	}
	closed, err := projections.Open(filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	r := newWriterRigModels(t, f, func(store *projections.Store) func() *projections.Store {
		return func() *projections.Store {
			if broken.Load() {
				return closed
			}
			return store
		}
	})

	sub := func(name string) []string {
		ls := make([]string, lines)
		for i := range ls {
			ls[i] = offer(fmt.Sprintf("%s-%d", name, i+1), fmt.Sprintf("P-%s%d", name, i+1))
		}
		return ls
	}
	type answer struct {
		i  int
		rs []LineResult
	}
	answers := make(chan answer, 2)
	go func() { answers <- answer{0, r.submit(t, sub("1")...)} }()
	<-deciding
	go func() { answers <- answer{1, r.submit(t, sub("2")...)} }()
	r.waitQueued(1)
	close(release)
	for range 2 {
		a := <-answers
		want := make([]LineResult, lines)
		for j := range want {
			want[j] = recorded(j+1, uint64(a.i*lines+j+1))
		}
		checkResults(t, fmt.Sprintf("submission %d", a.i+1), a.rs, want)
	}
	if got := len(f.ids(t)); got != 2*lines {
		t.Errorf("log holds %d events, want %d", got, 2*lines)
	}
	// The first append failed, the retried first submission was not
	// decided once (no append), then both were appended.
	sizes := []int{}
	for _, c := range f.calls() {
		sizes = append(sizes, len(c.msgs))
	}
	if !slices.Equal(sizes, []int{lines, lines, lines}) {
		t.Errorf("appends of %v events, want three of %d", sizes, lines)
	}
	if _, n := f.counts(); n < 5 {
		t.Errorf("the retried group's decision did not fail (%d reads of the log's end)", n)
	}
}
