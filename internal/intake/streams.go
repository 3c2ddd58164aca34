// Package intake is the ledger's durable CloudEvents intake (CONTRACT.md
// "The intake", "Outcomes"): the INTAKE stream publishers JetStream-publish
// to, the OUTCOMES stream the ledger answers on, and the drainer that
// decides queued events in publish order through the same writer as
// ledger.submit.
//
// How one event goes through. A publisher of a submitting role publishes to
// ledger.intake.<token>; its account's import renames that to
// ledger.intake.<role>.<token> in the ledger account (package auth), where
// INTAKE stores it (file storage, fsync) and answers the PubAck: the
// publisher's durability point. The drainer pulls INTAKE with the durable
// consumer "ledger-intake", puts the messages back in stream order (a
// reorder buffer: after a crash, messages the dead ledger held come back
// only when their ack wait ends, behind newer ones), decides a run of them
// at a time with the role's permit (Writer.SubmitAs, so the writer's
// grouping into atomic batches and its idempotency apply), publishes one
// outcome per event to OUTCOMES, waits for those PubAcks, and only then
// acks the intake messages. A crash anywhere redelivers; a redelivered
// event is a duplicate of what was recorded, and its outcome is
// deduplicated by Nats-Msg-Id.
//
// Why the drain is fast. Under the server's SyncAlways every stored record
// is an fsync. A work-queue intake removed each acked message with a
// tombstone record of its own, and outcomes were published one message at
// a time: two fsyncs per event, which held the drain near the per-message
// publish rate (~2,000 events/s here). So INTAKE keeps limits retention:
// the consumer acks all (one ack per decided group moves its ack floor,
// and an ack writes nothing to the stream), and the drainer purges the
// stream up to what it has decided (a purge drops whole runs, no record
// per message); outcomes go to OUTCOMES as atomic batches, one write per
// group. An INTAKE created as a work queue by an earlier version is
// drained as before (a stream's retention cannot change), one ack per
// message.
//
// One decider at a time. The consumer uses the priority policy
// pinned_client: of the ledgers pulling it, the server delivers to one (the
// pinned client) only; when that one stops pulling for PinnedTTL, the
// server pins another. MaxAckPending bounds what a ledger holds unacked
// (and so the reorder buffer).
package intake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the intake's JetStream objects in the ledger account.
const (
	ConsumerName  = "ledger-intake"   // the drainer's durable consumer on INTAKE
	PriorityGroup = "ledger"          // the consumer's only priority group
	RejectedKV    = "LEDGER_REJECTED" // rejected outcomes by event id, for ledger.outcome
)

// Settings are the operator's limits of the intake (`ledger serve` flags).
// The zero value of a field takes its default.
type Settings struct {
	// MaxBytes bounds the queued bytes: a full intake refuses publishes
	// with JetStream's error (discard new), so nothing is dropped
	// silently. Default 1 GiB: hours of a busy publisher's backlog.
	MaxBytes int64
	// MaxMsgs bounds the queued messages (default 1,000,000).
	MaxMsgs int64
	// MaxMsgSize bounds one message (default 1 MiB: a batch of a few
	// thousand events; a single event is under ledger.MaxLineBytes).
	MaxMsgSize int32
	// OutcomesMaxAge is how long outcomes are kept (default 7 days, CONTRACT.md).
	OutcomesMaxAge time.Duration
	// OutcomesMaxBytes bounds the outcomes kept (default 1 GiB; the oldest go first).
	OutcomesMaxBytes int64
	// AckWait is how long a ledger may hold an intake message unacked
	// before the server redelivers it: after a crash, the time until the
	// next ledger may decide the events the dead one held. Default 10 s;
	// the drainer marks long decisions in progress.
	AckWait time.Duration
	// PinnedTTL is how long the server keeps the consumer pinned to a
	// ledger that stopped pulling before another takes over (default 10 s,
	// at least 2 s: the pinned ledger renews its pulls every PinnedTTL/2).
	PinnedTTL time.Duration
	// MaxAckPending bounds the messages delivered and not yet acked, so
	// the reorder buffer (default 4,096).
	MaxAckPending int
	// FetchBatch is how many messages one pull asks for (default 512).
	FetchBatch int
}

// Defaults of Settings.
const (
	DefaultMaxBytes         int64 = 1 << 30
	DefaultMaxMsgs          int64 = 1_000_000
	DefaultMaxMsgSize       int32 = 1 << 20
	DefaultOutcomesMaxAge         = 7 * 24 * time.Hour
	DefaultOutcomesMaxBytes int64 = 1 << 30
	DefaultAckWait                = 10 * time.Second
	DefaultPinnedTTL              = 10 * time.Second
	DefaultMaxAckPending          = 4096
	DefaultFetchBatch             = 1000
	minPinnedTTL                  = 2 * time.Second
	// outcomesDuplicates is the window in which a republished outcome (a
	// redelivery after a crash) is deduplicated by its Nats-Msg-Id. It
	// covers AckWait many times over.
	outcomesDuplicates = 10 * time.Minute
)

// withDefaults fills in the zero fields.
func (s Settings) withDefaults() Settings {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.MaxBytes, DefaultMaxBytes)
	def(&s.MaxMsgs, DefaultMaxMsgs)
	def(&s.OutcomesMaxBytes, DefaultOutcomesMaxBytes)
	if s.MaxMsgSize <= 0 {
		s.MaxMsgSize = DefaultMaxMsgSize
	}
	if s.OutcomesMaxAge <= 0 {
		s.OutcomesMaxAge = DefaultOutcomesMaxAge
	}
	if s.AckWait <= 0 {
		s.AckWait = DefaultAckWait
	}
	if s.PinnedTTL <= 0 {
		s.PinnedTTL = DefaultPinnedTTL
	}
	// The drainer's pull requests expire in half of it, at least a second
	// (the client library's minimum expiry).
	s.PinnedTTL = max(s.PinnedTTL, minPinnedTTL)
	if s.MaxAckPending <= 0 {
		s.MaxAckPending = DefaultMaxAckPending
	}
	if s.FetchBatch <= 0 {
		s.FetchBatch = DefaultFetchBatch
	}
	if s.FetchBatch > s.MaxAckPending {
		s.FetchBatch = s.MaxAckPending
	}
	return s
}

// Streams are the intake's JetStream objects, created or updated to the
// settings (Open).
type Streams struct {
	Intake   jetstream.Stream
	Outcomes jetstream.Stream
	Consumer jetstream.Consumer
	Rejected jetstream.KeyValue
	// WorkQueue is set when INTAKE is the work queue of an earlier
	// version: each message is acked on its own (AckAll is refused on a
	// work queue) and the acks remove them, no purge.
	WorkQueue bool
	settings  Settings
}

// Open creates or updates INTAKE, OUTCOMES, the drainer's consumer and the
// rejected-outcome index, with replicas those of the event stream.
func Open(ctx context.Context, js jetstream.JetStream, replicas int, set Settings) (*Streams, error) {
	set = set.withDefaults()
	st := &Streams{settings: set}
	// A work-queue INTAKE of an earlier version stays one (the server
	// cannot change a stream's retention), drained with one ack per message.
	retention, ackPolicy := jetstream.LimitsPolicy, jetstream.AckAllPolicy
	if s, err := js.Stream(ctx, auth.IntakeStreamName); err == nil && s.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy {
		retention, ackPolicy, st.WorkQueue = jetstream.WorkQueuePolicy, jetstream.AckExplicitPolicy, true
	}
	var err error
	st.Intake, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        auth.IntakeStreamName,
		Description: "benefits ledger intake: published events, queued until decided",
		Subjects:    []string{auth.IntakeStreamSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		// Limits retention: a message leaves the intake when the drainer
		// purges what it has decided (its outcomes are stored); the limits
		// bound what is queued (decided messages count until the purge,
		// at most purgeInterval later).
		Retention:  retention,
		Discard:    jetstream.DiscardNew,
		MaxBytes:   set.MaxBytes,
		MaxMsgs:    set.MaxMsgs,
		MaxMsgSize: set.MaxMsgSize,
		// Nobody but the ledger account may consume, purge or delete: the
		// role accounts import only the publish subjects.
	})
	if err != nil {
		return nil, fmt.Errorf("intake: stream %s: %w", auth.IntakeStreamName, err)
	}
	st.Outcomes, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        auth.OutcomesStreamName,
		Description: "benefits ledger outcomes of intake events, one per event, by role",
		Subjects:    []string{auth.SubjectOutcomes + ".*"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      set.OutcomesMaxAge,
		MaxBytes:    set.OutcomesMaxBytes,
		Duplicates:  outcomesDuplicates,
		// The drainer stores a group's outcomes as one atomic batch: one
		// write (one fsync) instead of one per event.
		AllowAtomicPublish: true,
	})
	if err != nil {
		return nil, fmt.Errorf("intake: stream %s: %w", auth.OutcomesStreamName, err)
	}
	st.Consumer, err = js.CreateOrUpdateConsumer(ctx, auth.IntakeStreamName, jetstream.ConsumerConfig{
		Durable:     ConsumerName,
		Description: "the ledger's drainer: one pinned ledger decides at a time",
		// Ack all: the drainer decides in stream order, so one ack of a
		// group's last message acks the group (work queue: explicit).
		AckPolicy:      ackPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckWait:        set.AckWait,
		MaxDeliver:     -1, // an event is never given up: a poison message is answered, not retried
		MaxAckPending:  set.MaxAckPending,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{PriorityGroup},
		PinnedTTL:      set.PinnedTTL,
		Replicas:       replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("intake: consumer %s: %w", ConsumerName, err)
	}
	st.Rejected, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      RejectedKV,
		Description: "rejected intake events by id (ledger.outcome), kept as long as outcomes",
		TTL:         set.OutcomesMaxAge,
		// Bounded like the outcomes: a publisher sending only rejected
		// lines must not grow it beyond them (the oldest go first).
		MaxBytes: set.OutcomesMaxBytes,
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("intake: key-value %s: %w", RejectedKV, err)
	}
	if err := openOutcomeNames(ctx, js, replicas); err != nil {
		return nil, err
	}
	return st, nil
}

// openOutcomeNames creates the reader gate's key for naming OUTCOMES
// consumers, once for every ledger on the cluster (the first one's stays).
func openOutcomeNames(ctx context.Context, js jetstream.JetStream, replicas int) error {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      auth.OutcomeNamesKV,
		Description: "the reader gate's key naming OUTCOMES consumers (a role cannot guess another's)",
		MaxBytes:    64 << 10,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return fmt.Errorf("intake: key-value %s: %w", auth.OutcomeNamesKV, err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := kv.Create(ctx, auth.OutcomeNamesKey, []byte(hex.EncodeToString(key))); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("intake: key-value %s: %w", auth.OutcomeNamesKV, err)
	}
	return nil
}

// Info is the intake's state for `ledger intake`.
type Info struct {
	Queued          uint64   `json:"queued"`                    // events published and not yet decided (messages)
	Bytes           uint64   `json:"bytes"`                     // the intake's stored bytes: the queued messages and decided ones not yet purged
	OldestQueuedAge *float64 `json:"oldest_queued_age_seconds"` // null when nothing is queued
	DecidedPerSec   float64  `json:"decided_per_second"`        // over the drainer's last minute
	Settings        struct {
		MaxBytes   int64 `json:"max_bytes"`
		MaxMsgs    int64 `json:"max_msgs"`
		MaxMsgSize int32 `json:"max_msg_size"`
	} `json:"limits"`
}

// Info reports the queue's state.
func (st *Streams) Info(ctx context.Context, now time.Time) (Info, error) {
	var in Info
	si, err := st.Intake.Info(ctx)
	if err != nil {
		return in, fmt.Errorf("intake: %w", err)
	}
	in.Bytes = si.State.Bytes
	in.Settings.MaxBytes, in.Settings.MaxMsgs, in.Settings.MaxMsgSize = si.Config.MaxBytes, si.Config.MaxMsgs, si.Config.MaxMsgSize
	// Queued is what the consumer has not had acked: the stream may still
	// hold decided messages below the ack floor until the next purge.
	ci, err := st.Consumer.Info(ctx)
	if err != nil {
		return in, fmt.Errorf("intake: consumer: %w", err)
	}
	in.Queued = ci.NumPending + uint64(ci.NumAckPending)
	if in.Queued > 0 {
		// The first message above the ack floor (the next by subject from
		// there: sequences purged or deleted are skipped).
		m, err := st.Intake.GetMsg(ctx, max(ci.AckFloor.Stream+1, si.State.FirstSeq), jetstream.WithGetMsgSubject(auth.IntakeStreamSubjects))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return in, fmt.Errorf("intake: oldest message: %w", err)
		}
		if err == nil {
			age := now.Sub(m.Time).Seconds()
			in.OldestQueuedAge = &age
		}
	}
	return in, nil
}
