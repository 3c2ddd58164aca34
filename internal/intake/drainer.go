package intake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderIntakeSeq carries an outcome's INTAKE stream sequence.
const HeaderIntakeSeq = "Ledger-Intake-Seq"

// Limits of the drainer's work.
const (
	// maxGroupMsgs bounds the intake messages decided in one writer call:
	// enough for the writer's group commit to fill its batches.
	maxGroupMsgs = ledger.MaxLines
	// fetchWait is how long the drainer waits for a message when the
	// intake is idle; it also paces the checks for a stalled reorder buffer.
	fetchWait = time.Second
	// retryPause is the pause after a failed decision or publish before the
	// same messages are tried again (they stay unacked meanwhile).
	retryPause = 500 * time.Millisecond
	// decideTimeout bounds one writer call.
	decideTimeout = 30 * time.Second
	// purgeInterval paces the purges of decided messages from INTAKE
	// (limits retention): one purge request per interval at most while
	// the intake is busy, at once when the drainer has caught up. Decided
	// messages count against the intake's limits until purged, so the
	// interval is short next to how fast a publisher can fill it.
	purgeInterval = 250 * time.Millisecond
	// outcomeBatch bounds the outcomes stored in one atomic batch: the
	// server's limit of messages per atomic batch.
	outcomeBatch = eventstore.MaxBatch
	// batchFlowEvery makes every batchFlowEvery-th message of an outcome
	// batch a request, so a batch cannot run far ahead of the server (as
	// the event store's batches).
	batchFlowEvery = 250
)

// Outcome is the outcome of one intake event: the `submit --json` line
// document plus its intake sequence and source.
type Outcome struct {
	ledger.LineResult
	IntakeSeq uint64 `json:"intake_seq"`
	Source    string `json:"source,omitempty"`
}

// Drainer decides the intake's events (see the package doc).
type Drainer struct {
	st  *Streams
	js  jetstream.JetStream
	w   *ledger.Writer
	log *slog.Logger

	mu      sync.Mutex
	window  []stamp // decisions over the last minute, for the rate
	decided uint64
	pinID   string // the server's id of this drainer's pin, from the messages delivered
}

type stamp struct {
	at time.Time
	n  int
}

// NewDrainer returns a drainer of st's intake through w.
func NewDrainer(st *Streams, js jetstream.JetStream, w *ledger.Writer, log *slog.Logger) *Drainer {
	return &Drainer{st: st, js: js, w: w, log: log}
}

// Rate is the events decided per second over the last minute.
func (d *Drainer) Rate(now time.Time) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	if len(d.window) == 0 {
		return 0
	}
	n := 0
	for _, s := range d.window {
		n += s.n
	}
	span := now.Sub(d.window[0].at).Seconds()
	if span < 1 {
		span = 1
	}
	return float64(n) / span
}

// Decided is the number of events this drainer has decided.
func (d *Drainer) Decided() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.decided
}

func (d *Drainer) prune(now time.Time) {
	i := 0
	for i < len(d.window) && now.Sub(d.window[i].at) > time.Minute {
		i++
	}
	d.window = d.window[i:]
}

func (d *Drainer) count(n int) {
	now := time.Now()
	d.mu.Lock()
	d.decided += uint64(n)
	d.window = append(d.window, stamp{now, n})
	d.prune(now)
	d.mu.Unlock()
}

// Run drains the intake until ctx ends. It pulls continuously (the client
// library keeps pull requests outstanding) and decides whatever has
// arrived, so an idle intake answers a lone event at once and a busy one
// is decided in runs of up to FetchBatch messages.
func (d *Drainer) Run(ctx context.Context) error {
	// Pull requests expire in half the pinned TTL, so the pinned ledger
	// renews them before the server would unpin it: an idle but live
	// decider keeps its pin.
	it, err := d.st.Consumer.Messages(jetstream.PullPriorityGroup(PriorityGroup),
		jetstream.PullMaxMessages(d.st.settings.FetchBatch), jetstream.PullExpiry(d.st.settings.PinnedTTL/2))
	if err != nil {
		return fmt.Errorf("intake: pull: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	if d.st.WorkQueue {
		d.log.Warn("intake: INTAKE is the work queue of an earlier version: drained with one ack (one stream write) per message; " +
			"once it is empty, stop the ledgers and delete the stream so that the next start creates the faster one")
	}
	buf := map[uint64]jetstream.Msg{} // delivered, not yet decided, by stream sequence
	var next uint64                   // the sequence to decide next (0: unknown)
	var purged uint64                 // everything below it is purged from INTAKE
	var lastPurge time.Time
	add := func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		if id := m.Headers().Get(pinIDHeader); id != "" {
			d.mu.Lock()
			d.pinID = id
			d.mu.Unlock()
		}
		if next != 0 && md.Sequence.Stream < next {
			// A redelivery of an event decided (its outcome stored) and
			// acked already: the ack was lost or late.
			m.Ack()
			return
		}
		buf[md.Sequence.Stream] = m
	}
	for ctx.Err() == nil {
		m, err := it.Next(jetstream.NextMaxWait(fetchWait))
		switch {
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return ctx.Err()
		case err == nil:
			add(m)
			// Whatever else has arrived, without waiting.
			for len(buf) < d.st.settings.FetchBatch {
				m, err := it.Next(jetstream.NextMaxWait(time.Millisecond))
				if err != nil {
					break
				}
				add(m)
			}
		}
		if len(buf) == 0 {
			continue
		}
		if next == 0 || buf[next] == nil {
			next = d.resume(ctx, buf, next)
		}
		for ctx.Err() == nil && buf[next] != nil {
			run := []jetstream.Msg{}
			for s := next; buf[s] != nil && len(run) < maxGroupMsgs; s++ {
				run = append(run, buf[s])
			}
			done, err := d.decide(ctx, run)
			for _, m := range run[:done] {
				md, _ := m.Metadata()
				delete(buf, md.Sequence.Stream)
			}
			next += uint64(done)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("intake: deciding failed; retrying", "at_seq", next, "err", err)
					for _, m := range run[done:] {
						m.InProgress() // keep them: they are retried in order
					}
					sleep(ctx, retryPause)
				}
				break
			}
		}
		if next > purged && next > 1 && (len(buf) == 0 || time.Since(lastPurge) >= purgeInterval) {
			if d.purge(ctx, next) {
				purged = next
			}
			lastPurge = time.Now()
		}
	}
	return ctx.Err()
}

// pinIDHeader carries, on a message of a pinned consumer, the pin's id.
const pinIDHeader = "Nats-Pin-Id"

// Unpin ends this drainer's pin, once Run has returned, so that another
// ledger's drainer (or this one's, run again) decides at once instead of
// after the pinned TTL. It does nothing when the pin is another's: ending
// a live decider's pin would let a second one decide beside it. (The pin
// cannot pass to another before the TTL since this drainer's last pull,
// at least half of it: far longer than the check and the unpin take.)
func (d *Drainer) Unpin(ctx context.Context) error {
	d.mu.Lock()
	id := d.pinID
	d.pinID = ""
	d.mu.Unlock()
	if id == "" {
		return nil
	}
	info, err := d.st.Consumer.Info(ctx)
	if err != nil {
		return fmt.Errorf("intake: unpin: %w", err)
	}
	for _, g := range info.PriorityGroups {
		if g.Group == PriorityGroup && g.PinnedClientID == id {
			if err := d.st.Intake.UnpinConsumer(ctx, ConsumerName, PriorityGroup); err != nil {
				return fmt.Errorf("intake: unpin: %w", err)
			}
		}
	}
	return nil
}

// purge drops the messages below seq from INTAKE: all of them are decided
// (their outcomes stored) and acked. A failed purge is retried with the
// next one; a work-queue INTAKE needs none (acks remove its messages).
func (d *Drainer) purge(ctx context.Context, seq uint64) bool {
	if d.st.WorkQueue {
		return true
	}
	if err := d.st.Intake.Purge(ctx, jetstream.WithPurgeSequence(seq)); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("intake: purging decided messages failed; retrying with the next purge", "below_seq", seq, "err", err)
		}
		return false
	}
	return true
}

// resume finds the sequence to decide next when the buffer does not hold
// it: the consumer's ack floor + 1 (everything below is decided), skipping
// sequences no longer in the stream. When the message at that sequence is
// still held by a ledger that died, it comes back at the end of its ack
// wait; until then the buffer waits.
func (d *Drainer) resume(ctx context.Context, buf map[uint64]jetstream.Msg, next uint64) uint64 {
	lowest := uint64(0)
	for s := range buf {
		if lowest == 0 || s < lowest {
			lowest = s
		}
	}
	info, err := d.st.Consumer.Info(ctx)
	if err != nil {
		return next
	}
	if floor := info.AckFloor.Stream + 1; floor > next {
		next = floor
	}
	for next < lowest {
		if _, err := d.st.Intake.GetMsg(ctx, next); !errors.Is(err, jetstream.ErrMsgNotFound) {
			break // queued, held elsewhere: wait for its redelivery
		}
		next++
	}
	return next
}

// piece is one intake message being decided.
type piece struct {
	msg   jetstream.Msg
	seq   uint64
	role  auth.Role
	lines []cloudevents.Line
	fail  *domain.Error // the whole message refused (one outcome)
	h     nats.Header
}

// decide decides a run of consecutive intake messages, in order, a group
// of same-role messages per writer call, and returns how many are done
// (outcomes stored, acked).
func (d *Drainer) decide(ctx context.Context, run []jetstream.Msg) (int, error) {
	pieces := make([]piece, len(run))
	for i, m := range run {
		pieces[i] = parse(m)
	}
	done := 0
	for done < len(pieces) {
		// The longest prefix of one role within the writer's line limit.
		end, lines := done, 0
		for end < len(pieces) && pieces[end].role == pieces[done].role &&
			(end == done || lines+len(pieces[end].lines) <= ledger.MaxLines) {
			lines += len(pieces[end].lines)
			end++
		}
		group := pieces[done:end]
		outcomes, err := d.decideGroup(ctx, group)
		if err != nil {
			return done, err
		}
		if err := d.publish(ctx, group, outcomes); err != nil {
			return done, err
		}
		// The outcomes are stored: now the acks (a lost one means a
		// redelivery, which is a duplicate). Ack all: the last message acks
		// the group and everything before it, all decided.
		acks := group[len(group)-1:]
		if d.st.WorkQueue {
			acks = group
		}
		for _, p := range acks {
			if err := p.msg.Ack(); err != nil {
				d.log.Warn("intake: ack not sent", "seq", p.seq, "err", err)
			}
		}
		d.count(len(group))
		done = end
	}
	return done, nil
}

// parse reads an intake message: its role (from the subject) and its lines
// (any CloudEvents mode).
func parse(m jetstream.Msg) piece {
	md, _ := m.Metadata()
	p := piece{msg: m, seq: md.Sequence.Stream, h: m.Headers()}
	var err error
	if p.role, err = auth.RoleOfIntakeSubject(m.Subject()); err != nil {
		p.role = auth.Admin // only the ledger account itself could publish such a subject
		p.fail = &domain.Error{Code: domain.CodeForbidden, Msg: "intake subject names no role: " + err.Error()}
		return p
	}
	_, lines, err := cloudevents.Decode(map[string][]string(p.h), m.Data())
	switch {
	case err != nil:
		p.fail = &domain.Error{Code: domain.CodeOf(err), Msg: err.Error()}
	case cloudevents.Events(lines) == 0:
		p.fail = &domain.Error{Code: domain.CodeEmptyMessage, Msg: "the message holds no event: publish one CloudEvent (structured or binary) or a non-empty batch"}
	case len(lines) > ledger.MaxLines:
		p.fail = &domain.Error{Code: domain.CodeTooManyLines, Msg: fmt.Sprintf("%d events in one message, at most %d", len(lines), ledger.MaxLines)}
	default:
		p.lines = lines
	}
	return p
}

// permit is the writer's check of role r's lines.
func permit(r auth.Role) ledger.Permit {
	if r.SubmitsAll() {
		return nil
	}
	return r.CheckSubmit
}

// transient codes are answers of a ledger that cannot decide now: the
// events are retried, never answered with them.
func transient(c domain.Code) bool {
	return c == domain.CodeUnavailable || c == domain.CodeLogDamaged || c == domain.CodeProjectionBehind || c == domain.CodeTimeout
}

// decideGroup submits a group's lines in one writer call and returns each
// message's outcomes.
func (d *Drainer) decideGroup(ctx context.Context, group []piece) ([][]Outcome, error) {
	var raws [][]byte
	for _, p := range group {
		raws = append(raws, cloudevents.Raws(p.lines)...)
	}
	var results []ledger.LineResult
	if len(raws) > 0 {
		dctx, cancel := context.WithTimeout(ctx, decideTimeout)
		var err error
		results, err = d.w.SubmitAs(dctx, permit(group[0].role), raws)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("intake: submit: %w", err)
		}
		for _, r := range results {
			if transient(r.Code) {
				return nil, fmt.Errorf("intake: the writer cannot decide now: %s: %s", r.Code, r.Error)
			}
		}
	}
	out := make([][]Outcome, len(group))
	for i, p := range group {
		if p.fail != nil {
			out[i] = []Outcome{{LineResult: ledger.LineResult{Line: 1, ID: first(cloudevents.Header(p.h, "ce-id")), Code: p.fail.Code, Error: p.fail.Error()},
				IntakeSeq: p.seq, Source: first(cloudevents.Header(p.h, "ce-source"))}}
			continue
		}
		n := len(cloudevents.Raws(p.lines))
		merged := cloudevents.Merge(p.lines, results[:n])
		results = results[n:]
		// One result per line that is not blank, numbered by its place
		// among all the message's lines.
		for _, r := range merged {
			out[i] = append(out[i], Outcome{LineResult: r, IntakeSeq: p.seq, Source: sourceOf(p.lines[r.Line-1], p.h)})
		}
	}
	return out, nil
}

// sourceOf is an event's source attribute, as far as it can be read.
func sourceOf(l cloudevents.Line, h nats.Header) string {
	if l.Raw != nil {
		var env struct {
			Source string `json:"source"`
		}
		if json.Unmarshal(l.Raw, &env) == nil {
			return env.Source
		}
		return ""
	}
	return first(cloudevents.Header(h, "ce-source"))
}

// publish stores the outcomes of a group, in atomic batches of up to
// outcomeBatch (one stream write each), and waits for the server's answer;
// rejected ones are also indexed by id for ledger.outcome.
func (d *Drainer) publish(ctx context.Context, group []piece, outcomes [][]Outcome) error {
	var msgs []*nats.Msg
	for i, p := range group {
		for _, o := range outcomes[i] {
			body, err := json.Marshal(o)
			if err != nil {
				return fmt.Errorf("intake: encode outcome: %w", err)
			}
			m := &nats.Msg{Subject: auth.OutcomesSubject(p.role), Data: body, Header: nats.Header{}}
			m.Header.Set(HeaderIntakeSeq, strconv.FormatUint(p.seq, 10))
			m.Header.Set(jetstream.MsgIDHeader, strconv.FormatUint(p.seq, 10)+"."+strconv.Itoa(o.Line))
			msgs = append(msgs, m)
			if !o.OK && o.ID != "" {
				if _, err := d.st.Rejected.Put(ctx, RejectedKey(o.ID), body); err != nil {
					return fmt.Errorf("intake: index rejected outcome: %w", err)
				}
			}
		}
	}
	for len(msgs) > 0 {
		n := min(len(msgs), outcomeBatch)
		if err := d.publishBatch(ctx, msgs[:n]); err != nil {
			// A batch of a redelivered group is refused whole when any of
			// its outcomes is stored already (an atomic batch may hold no
			// duplicate); one at a time, Nats-Msg-Id drops the stored ones.
			// Any other refusal is retried the same way, and failing that
			// the group is retried.
			if err := d.publishEach(ctx, msgs[:n]); err != nil {
				return err
			}
		}
		msgs = msgs[n:]
	}
	return nil
}

// publishBatch stores msgs as one atomic batch (ADR-50: nats.go has no
// client API for it, so this speaks the protocol as the event store does).
func (d *Drainer) publishBatch(ctx context.Context, msgs []*nats.Msg) error {
	nc := d.js.Conn()
	if len(msgs) == 1 {
		return d.publishEach(ctx, msgs)
	}
	var idb [12]byte
	rand.Read(idb[:])
	id := "intake-" + hex.EncodeToString(idb[:])
	last := len(msgs) - 1
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i == last {
			m.Header.Set("Nats-Batch-Commit", "1")
			break
		}
		// The first message is a request (its empty reply says the batch
		// has started), and every batchFlowEvery-th, for flow control.
		if i == 0 || (i+1)%batchFlowEvery == 0 {
			resp, err := nc.RequestMsgWithContext(ctx, m)
			if err != nil {
				return fmt.Errorf("intake: outcome batch: %w", err)
			}
			if len(resp.Data) > 0 {
				return fmt.Errorf("intake: outcome batch refused: %s", resp.Data)
			}
			continue
		}
		if err := nc.PublishMsg(m); err != nil {
			return fmt.Errorf("intake: outcome batch: %w", err)
		}
	}
	resp, err := nc.RequestMsgWithContext(ctx, msgs[last])
	if err != nil {
		return fmt.Errorf("intake: outcome batch commit: %w", err)
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
		Count int                 `json:"count"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("intake: outcome batch commit: %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return fmt.Errorf("intake: outcome batch commit: %w", ack.Error)
	}
	if ack.Count != len(msgs) {
		return fmt.Errorf("intake: outcome batch committed %d of %d", ack.Count, len(msgs))
	}
	return nil
}

// publishEach stores msgs one publish each (without batch headers) and
// waits for every PubAck.
func (d *Drainer) publishEach(ctx context.Context, msgs []*nats.Msg) error {
	var futures []jetstream.PubAckFuture
	for _, m := range msgs {
		for _, h := range []string{"Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit"} {
			m.Header.Del(h)
		}
		f, err := d.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("intake: publish outcome: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("intake: outcome not stored: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// RejectedKey is the key of event id in the rejected-outcome index: ids
// may hold characters a key may not.
func RejectedKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
