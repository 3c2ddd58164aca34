package eventstore

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The benchmarks compare the ledger's write and read paths with raw
// JetStream on the same embedded server: SyncAlways (as in production),
// in-process connection, 250-byte payloads.
// Run: go test -run x -bench . -benchtime 3x ./eventstore/

var benchPayload = bytes.Repeat([]byte("x"), 250)

func reportEventsPerSec(b *testing.B, events int) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

// BenchmarkPublishSync is one js.Publish at a time: one fsync per event.
func BenchmarkPublishSync(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	subj := Subject("P-bench", "SaleRecorded")
	b.SetBytes(int64(len(benchPayload)))
	b.ResetTimer()
	for range b.N {
		if _, err := e.js.Publish(ctx, subj, benchPayload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportEventsPerSec(b, b.N)
}

// BenchmarkPublishAsync keeps many publishes in flight; the server batches
// the fsyncs of whatever has arrived.
func BenchmarkPublishAsync(b *testing.B) {
	e := newEnv(b)
	var failed atomic.Int64
	js, err := jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	subj := Subject("P-bench", "SaleRecorded")
	b.SetBytes(int64(len(benchPayload)))
	b.ResetTimer()
	for range b.N {
		// SyncAlways makes acks slow to come back: wait for room rather
		// than fail after the default 200ms stall.
		if _, err := js.PublishAsync(subj, benchPayload, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("async publishes did not complete")
	}
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d async publishes failed", n)
	}
	reportEventsPerSec(b, b.N)
}

// BenchmarkAppendBatch1000 is Append of 1000 events (one atomic batch, one
// commit) per op, with a per-partner expectation as the decider uses it.
func BenchmarkAppendBatch1000(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Partner: "P-bench", Type: "SaleRecorded", Data: benchPayload}
	}
	var last uint64
	b.SetBytes(int64(len(benchPayload) * len(msgs)))
	b.ResetTimer()
	for range b.N {
		first, err := e.store.Append(ctx, msgs, map[string]uint64{"P-bench": last})
		if err != nil {
			b.Fatal(err)
		}
		last = first + uint64(len(msgs)) - 1
	}
	b.StopTimer()
	reportEventsPerSec(b, b.N*len(msgs))
}

// BenchmarkReadOrdered reads 100k events with Read (ordered consumer,
// 4096 in flight) per op.
func BenchmarkReadOrdered(b *testing.B) {
	const total = 100_000
	e := newEnv(b)
	ctx := context.Background()
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Partner: "P-bench", Type: "SaleRecorded", Data: benchPayload}
	}
	for range total / len(msgs) {
		if _, err := e.store.Append(ctx, msgs, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(benchPayload) * total))
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := e.store.Read(ctx, 1, "", func(recs []Record) error {
			n += len(recs)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != total {
			b.Fatalf("read %d events, want %d", n, total)
		}
	}
	b.StopTimer()
	reportEventsPerSec(b, b.N*total)
}
