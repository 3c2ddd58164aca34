// Package eventstore keeps the ledger's events in one JetStream stream, the
// ledger's single source of truth.
//
// Every event is one message on ledger.events.<partner>.<Type>; the payload
// is the event envelope exactly as received and the ledger adds Ledger-*
// headers. The stream denies deletes and purges and has no limits, so stream
// sequences are dense (1, 2, 3, ...) forever: readers rely on that to detect
// gaps, and projections use the sequence as their checkpoint.
//
// Writes are optimistic, checked by the server against the stream as it was
// before the append, in one of two ways: ExpectLastSeq requires the whole
// stream's last sequence to be the one the decider saw (the cheap check,
// while one writer is alone on the stream), and per-partner expectations
// require each partner's last sequence (over ledger.events.<partner>.>) to
// be the one its decision was based on (when other writers share the
// stream). A bulk Append is one JetStream atomic batch, so it is
// all-or-nothing and pays one commit (one fsync) for up to MaxBatch events.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/internal/epoch"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultTimeout applies to a call whose context has no deadline, so that a
// lost server cannot hang a writer forever.
const defaultTimeout = 10 * time.Second

// maxConcurrentBatches caps atomic batches in flight from one Store. The
// server refuses more than 50 per stream (and commits them one at a time
// anyway), so queueing here is better than an error there.
const maxConcurrentBatches = 16

type options struct {
	name     string
	replicas int
	log      *slog.Logger
	readOnly bool
	room     RoomCheck
}

// RoomCheck says whether the server has room for an append of need bytes
// (an estimate of what it will store). A non-nil error means it has not;
// Append then stores nothing and returns the error wrapped in ErrStorageFull.
type RoomCheck func(need int64) error

// Option configures Open.
type Option func(*options)

// WithStreamName names the stream (default "LEDGER").
func WithStreamName(name string) Option { return func(o *options) { o.name = name } }

// WithReplicas sets the stream's replica count (default 1; 3 on a cluster).
func WithReplicas(n int) Option { return func(o *options) { o.replicas = n } }

// ReadOnly opens an existing stream without creating or reconfiguring it:
// for auditors replaying the log, who may read it but not change it.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithRoomCheck makes every Append first ask check whether the store has
// room for it. An atomic batch that runs out of room while the server
// commits it is stored in part (a single-replica stream stores its
// messages one at a time, and stops at the first that does not fit), so
// the ledger refuses an append that would not fit rather than let the
// server find out half-way.
func WithRoomCheck(check RoomCheck) Option { return func(o *options) { o.room = check } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Store is the event log. It is safe for concurrent use. It lives as long
// as the NATS connection under its JetStream context: it has nothing of its
// own to close, and once the connection is closed for good every call fails
// (a writable Store's leader watch ends with it).
type Store struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	stream jetstream.Stream
	name   string
	log    *slog.Logger
	// batchSem limits concurrent atomic batches (see maxConcurrentBatches).
	batchSem chan struct{}
	// leader abandons append requests a leader change left unanswered
	// (leader.go); nil for a read-only store.
	leader *epoch.Watch
	room   RoomCheck // nil: no check before an append (see WithRoomCheck)
}

// Record is one stored event. Read and Follow hand out records the caller
// may keep: nothing in them is reused.
type Record struct {
	Seq     uint64
	Subject string // as stored: Subject(Partner, Type) for every record Append wrote
	Partner string
	Type    string
	Data    []byte
	Header  map[string]string // all Ledger-* headers (not the Nats-* ones)
	Stored  time.Time         // JetStream's timestamp, UTC
}

// streamConfig is the stream as the ledger needs it. It is re-applied on
// every Open (create or update), so it is also the migration path.
func streamConfig(o options) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        o.name,
		Description: "benefits ledger events: the source of truth",
		Subjects:    []string{StreamSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas,
		// No MaxAge/MaxMsgs/MaxBytes: the log is kept forever, so the discard
		// policy never applies. Limits retention is the only one that keeps
		// messages regardless of consumers.
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		// History is immutable: nothing may remove an event, which is also
		// what makes stream sequences gap-free.
		DenyDelete: true,
		DenyPurge:  true,
		// One commit for a whole bulk submit, all-or-nothing.
		AllowAtomicPublish: true,
		// AllowDirect stays off: the direct-get API cannot take the wildcard
		// subject PartnerLastSeq asks for (it is put in the request subject).
		AllowDirect: false,
		// Duplicates: default window; the ledger keeps its own permanent
		// idempotency index, so Nats-Msg-Id is not relied on.
	}
}

// Open creates the stream or updates it to the ledger's configuration, and
// returns a Store on it. Opening an existing stream is idempotent. With
// ReadOnly the stream must exist and is left as it is. A ctx without a
// deadline is bounded by defaultTimeout (10 s).
//
// Errors: ErrInvalid for a replica count under 1; otherwise the server's
// refusal or the connection's failure, wrapped (a read-only Open of a
// missing stream wraps jetstream.ErrStreamNotFound).
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	o := options{name: DefaultStreamName, replicas: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.replicas < 1 {
		return nil, fmt.Errorf("%w: replicas %d", ErrInvalid, o.replicas)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()

	var stream jetstream.Stream
	var err error
	if o.readOnly {
		stream, err = js.Stream(ctx, o.name)
	} else {
		stream, err = js.CreateOrUpdateStream(ctx, streamConfig(o))
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: open stream %s: %w", o.name, err)
	}
	info := stream.CachedInfo()
	o.log.Info("event stream open", "stream", o.name, "replicas", o.replicas,
		"messages", info.State.Msgs, "last_seq", info.State.LastSeq)
	s := &Store{
		js:       js,
		nc:       js.Conn(),
		stream:   stream,
		name:     o.name,
		log:      o.log,
		batchSem: make(chan struct{}, maxConcurrentBatches),
		room:     o.room,
	}
	if !o.readOnly {
		if err := s.watchLeader(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// StreamName is the name of the underlying stream.
func (s *Store) StreamName() string { return s.name }

// LastSeq returns the stream's last sequence (0 when empty). A request
// unanswered when the stream changes leader is sent again; a ctx without a
// deadline is bounded by defaultTimeout. Errors are the server's or the
// connection's, wrapped.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	var info *jetstream.StreamInfo
	err := s.untilAnswered(ctx, func(ctx context.Context) (err error) {
		info, err = s.stream.Info(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("eventstore: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// PartnerLastSeq returns the sequence of the partner's last event, 0 if it
// has none; ErrInvalid for an id that is no subject token (ValidPartner). The server resolves the wildcard ledger.events.<partner>.> itself
// (the file store's LoadLastMsg walks the per-subject index for wildcards),
// the same lookup it uses for the expected-sequence check in Append.
func (s *Store) PartnerLastSeq(ctx context.Context, partner string) (uint64, error) {
	if !ValidPartner(partner) {
		return 0, fmt.Errorf("%w: partner %q", ErrInvalid, partner)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	var msg *jetstream.RawStreamMsg
	err := s.untilAnswered(ctx, func(ctx context.Context) (err error) {
		msg, err = s.stream.GetLastMsgForSubject(ctx, PartnerFilter(partner))
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("eventstore: last message of partner %s: %w", partner, err)
	}
	return msg.Sequence, nil
}

// GetMsg returns the event stored at seq. Errors wrap the server's:
// jetstream.ErrMsgNotFound when no message has that sequence.
func (s *Store) GetMsg(ctx context.Context, seq uint64) (Record, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	msg, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return Record{}, fmt.Errorf("eventstore: get message %d: %w", seq, err)
	}
	return NewRecord(msg.Sequence, msg.Subject, msg.Header, msg.Data, msg.Time), nil
}

// NewRecord builds a Record from a stored message: its stream sequence,
// subject, headers, data and JetStream timestamp. Partner and type come from
// the subject, which is what the stream and every filter actually use. Read
// and Follow deliver records built by it; tests and fuzz targets build
// records of raw messages with it.
func NewRecord(seq uint64, subject string, hdr nats.Header, data []byte, stored time.Time) Record {
	partner, typ, ok := parseSubject(subject)
	if !ok {
		// Not written by Append (the stream captures only ledger.events.>,
		// but a hand-published message can have fewer tokens): fall back to
		// the headers rather than lose the event.
		partner, typ = hdr.Get(HdrPartner), hdr.Get(HdrType)
	}
	h := make(map[string]string, 4)
	for k, v := range hdr {
		if len(v) > 0 && strings.HasPrefix(k, ledgerHdrPrefix) {
			h[k] = v[0]
		}
	}
	return Record{Seq: seq, Subject: subject, Partner: partner, Type: typ, Data: data, Header: h, Stored: stored.UTC()}
}

// withDefaultTimeout adds defaultTimeout to a context without a deadline.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}
