package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultIntakeLines bounds the intake phase's sample: a publisher waits
// for one fsynced PubAck per event (~2,500/s here), so publishing a 1M log
// would take most of an hour; the rates are the same over a sample.
const DefaultIntakeLines = 20_000

// intakePublishPending bounds a bench publisher's publishes awaiting their
// PubAck, as `ledger publish` does (its publishMaxPending).
const intakePublishPending = 256

// IntakeStats are the intake phase's figures: a publisher JetStream-
// publishing one event per message (structured mode, waiting for every
// PubAck) to a ledger of its own, and its drainer deciding them.
type IntakeStats struct {
	Events int `json:"events"` // the sample: the log's first events
	// PublishEventsPerSec is the publisher's acked publishes per second,
	// over the first half of the sample, while the drainer is paused.
	PublishEventsPerSec int64 `json:"publish_events_per_s"`
	// DrainEventsPerSec is the drain of that half, alone: from the
	// drainer's start to every event decided (outcome stored, acked).
	DrainEventsPerSec int64 `json:"drain_events_per_s"`
	// The second half published while the drainer runs: the publisher's
	// rate, and the drain's from the first publish to the last decision.
	PublishWhileDrainingEventsPerSec int64 `json:"publish_while_draining_events_per_s"`
	DrainWhilePublishingEventsPerSec int64 `json:"drain_while_publishing_events_per_s"`
	// The ceiling: the raw atomic batch publish (ingest's
	// raw_batch_events_per_s), and the drain alone over it.
	RawBatchEventsPerSec int64   `json:"raw_batch_events_per_s"`
	DrainRatio           float64 `json:"drain_ratio"`
}

// intakePhase runs the intake phase over the log's first limit lines.
func intakePhase(ctx context.Context, dir string, log *inputLog, limit int, clock func() time.Time) (IntakeStats, error) {
	var st IntakeStats
	l, err := app.Start(ctx, app.Config{DataDir: filepath.Join(dir, "intake-ledger"), Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Clock: clock})
	if err != nil {
		return st, err
	}
	defer l.Close()
	nc, err := connect(l)
	if err != nil {
		return st, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(intakePublishPending))
	if err != nil {
		return st, err
	}
	var lines [][]byte
	err = log.each(log.path, func(line []byte) error {
		if len(lines) == limit {
			return errEnough
		}
		lines = append(lines, append([]byte(nil), line...))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return st, err
	}
	st.Events = len(lines)
	half := len(lines) / 2
	publish := func(lines [][]byte, from int) (time.Duration, error) {
		start := time.Now()
		for i, line := range lines {
			m := nats.NewMsg(auth.SubjectIntake + ".bench")
			m.Data = line
			m.Header.Set(jetstream.MsgIDHeader, "bench-"+strconv.Itoa(from+i))
			if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
				return 0, fmt.Errorf("intake publish: %w", err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return time.Since(start), nil
	}
	decided := func(want uint64) error {
		for l.Drainer().Decided() < want {
			select {
			case <-ctx.Done():
				return fmt.Errorf("intake: %d of %d decided: %w", l.Drainer().Decided(), want, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
		return nil
	}
	resume := l.PauseDrainer()
	d, err := publish(lines[:half], 0)
	if err != nil {
		resume()
		return st, err
	}
	st.PublishEventsPerSec = rate(half, d).EventsPerSec
	start := time.Now()
	resume()
	if err := decided(uint64(half)); err != nil {
		return st, err
	}
	st.DrainEventsPerSec = rate(half, time.Since(start)).EventsPerSec
	start = time.Now()
	if d, err = publish(lines[half:], half); err != nil {
		return st, err
	}
	st.PublishWhileDrainingEventsPerSec = rate(len(lines)-half, d).EventsPerSec
	if err := decided(uint64(len(lines))); err != nil {
		return st, err
	}
	st.DrainWhilePublishingEventsPerSec = rate(len(lines)-half, time.Since(start)).EventsPerSec
	return st, nil
}
