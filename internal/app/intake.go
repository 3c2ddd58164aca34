package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go/jetstream"
)

// openIntake creates the intake's streams (replicas as the event stream's)
// and returns its drainer, not yet running.
func (l *Ledger) openIntake(ctx context.Context, js jetstream.JetStream, replicas int) error {
	var err error
	if l.intake, err = intake.Open(ctx, js, replicas, intakeWithin(l.cfg.Intake, l.cfg.MaxStore)); err != nil {
		return err
	}
	l.drainer = intake.NewDrainer(l.intake, js, l.writer, l.log.With("component", "intake"))
	return nil
}

// intakeWithin bounds the intake's and the outcomes' byte limits to a
// sixth of the embedded server's storage limit each (when one is set): the
// intake, the outcomes and the index of rejected ids (sized as the
// outcomes) each reserve their max bytes against it, and the event log
// keeps at least half.
func intakeWithin(set intake.Settings, maxStore int64) intake.Settings {
	if maxStore <= 0 {
		return set
	}
	sixth := maxStore / 6
	bound := func(v, def int64) int64 {
		if v <= 0 {
			v = def
		}
		return min(v, sixth)
	}
	set.MaxBytes = bound(set.MaxBytes, intake.DefaultMaxBytes)
	set.OutcomesMaxBytes = bound(set.OutcomesMaxBytes, intake.DefaultOutcomesMaxBytes)
	return set
}

// startDrainer runs the drainer until Close.
func (l *Ledger) startDrainer() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelDrainer = cancel
	l.drainerDone = make(chan struct{})
	go func() {
		defer close(l.drainerDone)
		if err := l.drainer.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.log.Error("intake drainer stopped", "err", err)
		}
	}()
}

// stopDrainer stops the drainer and waits for it: a decision under way is
// finished or left unacked (and then redelivered).
func (l *Ledger) stopDrainer() {
	if l.cancelDrainer != nil {
		l.cancelDrainer()
		<-l.drainerDone
		l.cancelDrainer = nil
		// Unpin this ledger so that another drainer (another ledger's, or
		// this one's when resumed) takes over now rather than after the
		// pinned TTL. What this one held unacked comes back after its ack
		// wait, as after a crash.
		ctx, cancel := context.WithTimeout(context.Background(), unpinTimeout)
		defer cancel()
		if err := l.drainer.Unpin(ctx); err != nil {
			l.log.Debug("intake: unpin after stopping the drainer", "err", err)
		}
	}
}

// unpinTimeout bounds the unpin request of a stopping drainer: the pinned
// TTL ends the pin anyway.
const unpinTimeout = 2 * time.Second

// Drainer is the intake's drainer (tests, benchmarks).
func (l *Ledger) Drainer() *intake.Drainer { return l.drainer }

// IntakeStreams are the intake's JetStream objects.
func (l *Ledger) IntakeStreams() *intake.Streams { return l.intake }

// Outcome answers ledger.outcome: recorded when the read models' envelope
// index holds the id (once they have folded what this ledger appended),
// rejected when the intake rejected it, unknown otherwise.
func (l *Ledger) Outcome(ctx context.Context, id string) (rpc.OutcomeDoc, error) {
	if id == "" {
		return rpc.OutcomeDoc{}, &domain.Error{Code: domain.CodeInvalidRequest, Msg: `request must be {"id": "…"}: id is missing`}
	}
	doc := rpc.OutcomeDoc{ID: id, State: rpc.StateUnknown}
	if err := l.proj.WaitFor(ctx, l.writer.LastSeq()); err != nil {
		return doc, err
	}
	if seq, _, ok := l.Models().Directory().Envelope(id); ok {
		doc.State, doc.Seq = rpc.StateRecorded, seq
		return doc, nil
	}
	e, err := l.intake.Rejected.Get(ctx, intake.RejectedKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return doc, nil
	}
	if err != nil {
		return doc, fmt.Errorf("outcome: %w", err)
	}
	var o intake.Outcome
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		return doc, fmt.Errorf("outcome: stored outcome: %w", err)
	}
	doc.State, doc.Code, doc.Error = rpc.StateRejected, string(o.Code), o.Error
	return doc, nil
}

// IntakeDoc is the ledger.intakeinfo reply.
type IntakeDoc struct {
	intake.Info
	DecidedHere uint64 `json:"decided_here"` // events this ledger decided since it started
}

// intakeGauges feeds the metrics' intake gauges at scrape time.
func (l *Ledger) intakeGauges() (uint64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in, err := l.intake.Info(ctx, time.Now())
	if err != nil {
		return 0, 0, err
	}
	var oldest time.Duration
	if in.OldestQueuedAge != nil {
		oldest = time.Duration(*in.OldestQueuedAge * float64(time.Second))
	}
	return in.Queued, oldest, nil
}

// IntakeInfo answers ledger.intakeinfo.
func (l *Ledger) IntakeInfo(ctx context.Context) (any, error) {
	now := time.Now()
	in, err := l.intake.Info(ctx, now)
	if err != nil {
		return nil, err
	}
	in.DecidedPerSec = l.drainer.Rate(now)
	return IntakeDoc{Info: in, DecidedHere: l.drainer.Decided()}, nil
}

// PauseDrainer stops deciding the intake until the returned resume is
// called: a seam for tests and the bench, which fill the intake. It ends
// the consumer's pin, whoever holds it (a paused drainer that never
// received a message does not know its pin), and resume ends it again
// before the drainer starts, so that a resumed drainer decides at once:
// pause only the deciding ledger, or one before any other drains.
//
// The second unpin is for the stopped drainer's pull requests. Its
// iterator unsubscribes asynchronously after Stop, so the server may still
// hold one of its requests, with interest, when the first unpin arrives,
// and pin that: the intake filled during the pause then goes to a closed
// subscription, and the resumed drainer waits out the pinned TTL (10 s;
// once seen in the bench as an intake drain of 1,251 events/s instead of
// about 22,000). By the time the caller resumes, those requests are gone.
func (l *Ledger) PauseDrainer() (resume func()) {
	l.stopDrainer()
	l.unpinIntake("pausing")
	return func() {
		l.unpinIntake("resuming")
		l.startDrainer()
	}
}

// unpinIntake ends the intake consumer's pin, whoever holds it; when names
// the moment, for the debug log of a failure.
func (l *Ledger) unpinIntake(when string) {
	ctx, cancel := context.WithTimeout(context.Background(), unpinTimeout)
	defer cancel()
	if err := l.intake.Intake.UnpinConsumer(ctx, intake.ConsumerName, intake.PriorityGroup); err != nil {
		l.log.Debug("intake: unpin when "+when+" the drainer", "err", err)
	}
}
