package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxBatch is the most messages one Append takes: the server's default limit
// for an atomic batch (streamMaxAtomicBatchSize).
const MaxBatch = 1000

// Atomic batch headers (ADR-50). nats.go v1.55 has no client API for atomic
// batches, so Append speaks the protocol itself.
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// flowEvery makes every flowEvery-th batch message a request instead of a
// plain publish, so a large batch cannot run far ahead of the server and a
// batch the server has already abandoned is noticed before the commit.
const flowEvery = 250

// Message is one event to append.
type Message struct {
	Partner string
	Type    string
	Data    []byte
	Header  map[string]string // further ledger headers (e.g. "Ledger-Recorded"), copied onto the JetStream message
}

// pubAck is the server's answer to a JetStream publish or batch commit.
// Batch commits add batch and count; errors carry the API error.
type pubAck struct {
	Error    *jetstream.APIError `json:"error,omitempty"`
	Stream   string              `json:"stream"`
	Sequence uint64              `json:"seq"`
	Batch    string              `json:"batch,omitempty"`
	Count    int                 `json:"count,omitempty"`
}

// Append stores msgs, in order, all or nothing, and returns the sequence of
// the first one; the others follow consecutively.
//
// For every partner P in expect, the append only succeeds if P's last
// sequence (over ledger.events.P.>) is still expect[P] (0: P has no events).
// The check is carried by P's first message and is evaluated by the server
// against the stream as it was before the append. Every partner in expect
// must have a message in msgs.
//
// With ExpectLastSeq, the append instead succeeds only if the stream's last
// sequence is still the one given, and expect must be empty: see
// ExpectLastSeq for when that is the better check.
//
// Errors: *ConflictError (errors.Is ErrConflict) when an expectation failed;
// ErrStorageFull when the store has no room for it (the room check, see
// WithRoomCheck, or the server said so); ErrUnknownOutcome when the commit
// was sent but its result was lost (Settle finds out what was stored);
// ErrUnavailable when the stream did not take it until ctx ended (no leader,
// a leader change before the commit); ErrInvalid for bad arguments. In every
// error case except ErrUnknownOutcome nothing was stored.
func (s *Store) Append(ctx context.Context, msgs []Message, expect map[string]uint64, opts ...AppendOption) (first uint64, err error) {
	var o appendOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.lastSeq != nil && len(expect) > 0 {
		return 0, fmt.Errorf("%w: per-partner expectations together with ExpectLastSeq", ErrInvalid)
	}
	out, err := buildMsgs(s.name, msgs, expect)
	if err != nil {
		return 0, err
	}
	if o.lastSeq != nil {
		out[0].Header[jetstream.ExpectedLastSeqHeader] = []string{strconv.FormatUint(*o.lastSeq, 10)}
	}
	need := appendSize(out)
	if err := s.checkRoom(need); err != nil {
		return 0, err
	}
	// A context that is already done must not reach commit, where any
	// failure counts as an unknown outcome.
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("eventstore: append: %w", err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	var ack *pubAck
	for {
		epoch := s.leader.Current()
		if len(out) == 1 {
			// One message is atomic by itself: a plain publish with the same
			// headers avoids staging a batch on the server.
			ack, err = s.commit(ctx, out[0])
		} else {
			ack, err = s.publishBatch(ctx, out, need)
		}
		if !errors.Is(err, ErrUnavailable) || epoch == nil {
			break
		}
		// Nothing was stored: the stream is between leaders. Send it again
		// once it has one (see leader.go), or shortly, until ctx ends.
		if waitLeader(ctx, epoch) != nil || ctx.Err() != nil {
			return 0, err
		}
	}
	if err != nil {
		return 0, err
	}
	if ack.Error != nil {
		if o.lastSeq != nil {
			return 0, s.streamConflict(ack.Error, *o.lastSeq, need)
		}
		return 0, s.ackError(ctx, ack.Error, msgs, expect, need)
	}
	if len(out) > 1 && ack.Count != len(out) {
		// Something was stored, but not what we sent: do not guess what.
		return 0, fmt.Errorf("%w: batch %s committed %d messages, sent %d", ErrUnknownOutcome, ack.Batch, ack.Count, len(out))
	}
	if ack.Sequence < uint64(len(out)) {
		return 0, fmt.Errorf("%w: implausible ack sequence %d for %d messages", ErrUnknownOutcome, ack.Sequence, len(out))
	}
	// The ack carries the last message's sequence; the batch was stored
	// contiguously (the server commits it under the stream's isolation lock,
	// or as one multi-entry raft proposal when clustered).
	return ack.Sequence - uint64(len(out)) + 1, nil
}

// buildMsgs validates the input and turns it into NATS messages, putting each
// expectation on its partner's first message.
func buildMsgs(stream string, msgs []Message, expect map[string]uint64) ([]*nats.Msg, error) {
	if len(msgs) == 0 || len(msgs) > MaxBatch {
		return nil, fmt.Errorf("%w: %d messages, want 1..%d", ErrInvalid, len(msgs), MaxBatch)
	}
	for i, m := range msgs {
		if err := validateMessage(i, m); err != nil {
			return nil, err
		}
	}
	pending := make(map[string]uint64, len(expect))
	for p, seq := range expect {
		if !ValidPartner(p) {
			return nil, fmt.Errorf("%w: expectation for partner %q", ErrInvalid, p)
		}
		pending[p] = seq
	}

	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		stored := m.StoredHeader()
		h := make(nats.Header, len(stored)+3)
		for k, v := range stored {
			h[k] = []string{v}
		}
		if i == 0 {
			// Pre-checked by the server: refuses to store into another stream
			// should the subject space ever be remapped.
			h[jetstream.ExpectedStreamHeader] = []string{stream}
		}
		if seq, ok := pending[m.Partner]; ok {
			h[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(seq, 10)}
			h[jetstream.ExpectedLastSubjSeqSubjHeader] = []string{PartnerFilter(m.Partner)}
			delete(pending, m.Partner)
		}
		out[i] = &nats.Msg{Subject: Subject(m.Partner, m.Type), Header: h, Data: m.Data}
	}
	if len(pending) > 0 {
		ps := make([]string, 0, len(pending))
		for p := range pending {
			ps = append(ps, p)
		}
		return nil, fmt.Errorf("%w: expectations for partners without messages: %s", ErrInvalid, strings.Join(ps, ", "))
	}
	return out, nil
}

// publishBatch sends out as one atomic batch and returns the commit's ack.
func (s *Store) publishBatch(ctx context.Context, out []*nats.Msg, need int64) (*pubAck, error) {
	select {
	case s.batchSem <- struct{}{}:
		defer func() { <-s.batchSem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("eventstore: waiting for a batch slot: %w", ctx.Err())
	}

	// Stored on every message of the batch; 36 characters (the limit is 64).
	id := uuid.NewString()
	last := len(out) - 1
	for i, m := range out {
		m.Header[hdrBatchID] = []string{id}
		m.Header[hdrBatchSeq] = []string{strconv.Itoa(i + 1)}
		if i == last {
			m.Header[hdrBatchCommit] = []string{"1"}
			break
		}
		// The first message must be a request: its (empty) reply says the
		// server has started the batch.
		if i == 0 || (i+1)%flowEvery == 0 {
			if err := s.stage(ctx, m); err != nil {
				return nil, fmt.Errorf("%w: batch %s message %d", s.unavailable(err, need), id, i+1)
			}
			continue
		}
		if err := s.nc.PublishMsg(m); err != nil {
			return nil, fmt.Errorf("%w: batch %s message %d: %w", ErrUnavailable, id, i+1, err)
		}
	}
	// Nothing is stored before the commit; if we give up here the server
	// drops the staged batch after its inactivity timeout (10s).
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eventstore: batch %s not committed: %w", id, err)
	}
	return s.commit(ctx, out[last])
}

// unavailable classifies a failure before the commit: nothing was stored;
// an error the server answered with is a refusal (see refused), anything
// else (no answer, a leader change, a broken connection) means the stream
// was unavailable.
func (s *Store) unavailable(err error, need int64) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return s.refused(apiErr, need)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// stage sends a non-final batch message as a request and checks the server's
// answer: empty means staged, anything else is an error response.
func (s *Store) stage(ctx context.Context, m *nats.Msg) error {
	resp, err := s.request(ctx, m)
	if err != nil {
		return err
	}
	if len(resp.Data) == 0 {
		return nil
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("decode batch response %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return ack.Error
	}
	return nil
}

// commit sends the message that decides the outcome (a single publish or a
// batch's commit) and decodes the ack. Once it is sent, only "no responders"
// proves nothing was stored; any other failure leaves the outcome unknown.
func (s *Store) commit(ctx context.Context, m *nats.Msg) (*pubAck, error) {
	resp, err := s.request(ctx, m)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("%w: no JetStream stream answered on %s: %w", ErrUnavailable, m.Subject, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return nil, fmt.Errorf("%w: decode ack %q: %w", ErrUnknownOutcome, resp.Data, err)
	}
	return &ack, nil
}

// ackError turns an error ack into the Append error. For a failed
// expected-sequence check the server says only "wrong last sequence: N" (and
// nothing at all on a replicated stream), not which partner; so each expected
// partner is re-read, in batch order (the order the server checks them), and
// the first that no longer matches is the conflict.
func (s *Store) ackError(ctx context.Context, apiErr *jetstream.APIError, msgs []Message, expect map[string]uint64, need int64) error {
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
	default:
		return s.refused(apiErr, need)
	}
	order := make([]string, 0, len(expect))
	seen := make(map[string]bool, len(expect))
	for _, m := range msgs {
		if _, ok := expect[m.Partner]; ok && !seen[m.Partner] {
			seen[m.Partner] = true
			order = append(order, m.Partner)
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("eventstore: append rejected: %w", apiErr)
	}
	reported, hasReported := parseWrongLastSeq(apiErr.Description)
	for _, p := range order {
		actual, err := s.PartnerLastSeq(ctx, p)
		if err != nil {
			s.log.Warn("conflict: cannot re-read partner's last sequence", "partner", p, "err", err)
			break
		}
		if actual != expect[p] {
			return &ConflictError{Partner: p, Expected: expect[p], Actual: actual}
		}
	}
	// Re-reading did not settle it (read failed, or the partner has since
	// caught up with an expectation that was ahead). Blame the first partner
	// whose expectation differs from what the server reported.
	for _, p := range order {
		if !hasReported || expect[p] != reported {
			return &ConflictError{Partner: p, Expected: expect[p], Actual: reported}
		}
	}
	return &ConflictError{Partner: order[0], Expected: expect[order[0]], Actual: reported}
}

// streamConflict turns the error ack of an append under ExpectLastSeq into
// the Append error.
func (s *Store) streamConflict(apiErr *jetstream.APIError, expected uint64, need int64) error {
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
		actual, _ := parseWrongLastSeq(apiErr.Description)
		return &ConflictError{Expected: expected, Actual: actual}
	}
	return s.refused(apiErr, need)
}

// parseWrongLastSeq extracts N from "wrong last sequence: N".
func parseWrongLastSeq(desc string) (uint64, bool) {
	i := strings.LastIndexByte(desc, ':')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(desc[i+1:]), 10, 64)
	return n, err == nil
}

// Server error codes the append classifies (nats.go names none of them).
const (
	jsErrInsufficientResources jetstream.ErrorCode = 10023 // JSInsufficientResourcesErr: over max_store (or an account's storage limit)
	jsErrStoreFailed           jetstream.ErrorCode = 10077 // JSStreamStoreFailedF: the store refused the message, e.g. ENOSPC
	jsErrBatchIncomplete       jetstream.ErrorCode = 10176 // JSAtomicPublishIncompleteBatchErr: staging the batch failed, whatever the cause
)

// Per-message overheads in the estimate handed to the room check: the file
// store's record framing and index, and the batch headers publishBatch adds.
const (
	recordOverhead   = 64
	batchHdrOverhead = 96
)

// appendSize estimates the bytes an append stores.
func appendSize(out []*nats.Msg) int64 {
	var n int64
	for _, m := range out {
		n += int64(len(m.Subject) + len(m.Data) + recordOverhead)
		for k, vs := range m.Header {
			for _, v := range vs {
				n += int64(len(k) + len(v) + 4)
			}
		}
		if len(out) > 1 {
			n += batchHdrOverhead
		}
	}
	return n
}

// checkRoom asks the room check, if any, whether need bytes fit.
func (s *Store) checkRoom(need int64) error {
	if s.room == nil {
		return nil
	}
	if err := s.room(need); err != nil {
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return nil
}

// refused turns an error the server answered an append with (nothing was
// stored) into the Append error: ErrStorageFull when the server is out of
// room, or when staging the batch failed while the room check now finds no
// room (the server says only "incomplete" for a staging write that failed
// on a full disk).
func (s *Store) refused(apiErr *jetstream.APIError, need int64) error {
	switch {
	case apiErr.ErrorCode == jsErrInsufficientResources:
		return fmt.Errorf("%w: %w", ErrStorageFull, apiErr)
	case apiErr.ErrorCode == jsErrStoreFailed && noSpace(apiErr.Description):
		return fmt.Errorf("%w: %w", ErrStorageFull, apiErr)
	case apiErr.ErrorCode == jsErrBatchIncomplete:
		if err := s.checkRoom(need); err != nil {
			return fmt.Errorf("%w (the server: %w)", err, apiErr)
		}
	}
	return fmt.Errorf("eventstore: append rejected: %w", apiErr)
}

// noSpace reports whether a store error describes a full disk or limit.
func noSpace(desc string) bool {
	d := strings.ToLower(desc)
	return strings.Contains(d, "no space left") || strings.Contains(d, "maximum bytes") || strings.Contains(d, "insufficient resources")
}

// barrierStream is a stream name no stream has (names cannot contain
// spaces): a publish expecting it is refused without being stored.
const barrierStream = "ledger append barrier"

// Settle finds out what an Append whose outcome was unknown (ErrUnknownOutcome)
// stored of msgs, reading the stream after sequence after (the last one the
// caller knows precedes the append). It returns where msgs[0] was stored and
// how many of msgs were stored there, in order; n is 0 when none was.
//
// An atomic batch is all-or-nothing, except on a single-replica stream whose
// commit fails half-way (the disk or max_store runs out between two of its
// messages): the server then keeps the first messages and answers nothing.
// So n may be anything from 0 to len(msgs).
//
// Before reading, Settle sends a publish the stream refuses (it expects
// another stream): the stream handles one connection's publishes in order,
// so once that is answered, the append's commit has been processed. On a
// replicated stream the commit may still be applying; the caller's next
// append, checked against what it saw, catches a late one.
func (s *Store) Settle(ctx context.Context, after uint64, msgs []Message) (first uint64, n int, err error) {
	if len(msgs) == 0 {
		return 0, 0, fmt.Errorf("%w: nothing to settle", ErrInvalid)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	probe := &nats.Msg{Subject: Subject(msgs[0].Partner, msgs[0].Type),
		Header: nats.Header{jetstream.ExpectedStreamHeader: []string{barrierStream}}}
	if _, err := s.request(ctx, probe); err != nil {
		return 0, 0, fmt.Errorf("eventstore: settle: barrier: %w", err)
	}
	errDone := errors.New("settled")
	err = s.Read(ctx, after+1, "", func(recs []Record) error {
		for _, r := range recs {
			switch {
			case n == len(msgs):
				return errDone
			case sameMessage(r, msgs[n]):
				if n == 0 {
					first = r.Seq
				}
				n++
			case n > 0:
				return errDone // the stored run ends here
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return 0, 0, fmt.Errorf("eventstore: settle: %w", err)
	}
	return first, n, nil
}

// sameMessage reports whether r is m as Append stores it.
func sameMessage(r Record, m Message) bool {
	if r.Partner != m.Partner || r.Type != m.Type || !bytes.Equal(r.Data, m.Data) {
		return false
	}
	for k, v := range m.Header {
		if r.Header[k] != v {
			return false
		}
	}
	return true
}
