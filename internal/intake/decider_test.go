package intake_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestOneDeciderAtATime: two ledgers drain one intake (a third hosts the
// NATS server with its drainer paused). The pinned consumer lets exactly
// one of them decide; when it goes away the other takes over, and every
// event is decided once, in publish order.
func TestOneDeciderAtATime(t *testing.T) {
	set := intake.Settings{PinnedTTL: 2 * time.Second, AckWait: 5 * time.Second}
	host := start(t, set)
	host.PauseDrainer()
	replica := func() *app.Ledger {
		l, err := app.Start(ctxT(t), app.Config{DataDir: t.TempDir(), NATSURL: host.ClientURL(), Intake: set,
			NATSOpts: []nats.Option{nats.UserCredentials(app.CredsFile(host.DataDir(), auth.ServiceUser))}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	b, c := replica(), replica()
	_, js := connect(t, host, "storefront")
	ctx := ctxT(t)
	publish := func(from, to int) {
		t.Helper()
		var fs []jetstream.PubAckFuture
		for i := from; i < to; i++ {
			f, err := js.PublishMsgAsync(offer("ledger.intake.shop", fmt.Sprintf("o-%d", i), fmt.Sprintf("O-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, f)
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			t.Fatal("publishes not acknowledged")
		}
		for _, f := range fs {
			select {
			case err := <-f.Err():
				t.Fatalf("publish: %v", err)
			default:
			}
		}
	}
	const first, second = 1000, 500
	publish(0, first)
	outcomes(t, js, auth.Storefront, first)
	// A drainer counts a message once it is acked, just after its outcome
	// is stored: wait for the count.
	decided := func(want uint64) (uint64, uint64) {
		for {
			db, dc := b.Drainer().Decided(), c.Drainer().Decided()
			if db+dc >= want || ctx.Err() != nil {
				return db, dc
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	db, dc := decided(first)
	if db+dc != first || (db != 0 && dc != 0) {
		t.Fatalf("decided: %d by one ledger, %d by the other; want all %d by one", db, dc, first)
	}
	decider, other := b, c
	if dc > 0 {
		decider, other = c, b
	}
	decider.Close()
	publish(first, first+second)
	got := outcomes(t, js, auth.Storefront, first+second)
	for i, o := range got {
		if !o.OK || o.Duplicate || o.IntakeSeq != uint64(i+1) || o.Seq != uint64(i+1) || o.ID != fmt.Sprintf("o-%d", i) {
			t.Fatalf("outcome %d: %+v", i+1, o)
		}
	}
	decided(first + second)
	if n := other.Drainer().Decided(); n != second {
		t.Errorf("the second ledger decided %d after the takeover, want %d (first %d, host %d)", n, second, decider.Drainer().Decided(), host.Drainer().Decided())
	}
}

// TestLedgerOutage: with the NATS server running apart from the deciding
// ledger (another ledger hosts it, its drainer paused), the ledger stops
// while a publisher keeps publishing: every publish is acknowledged, and
// once a ledger runs again everything is decided, once, in publish order.
func TestLedgerOutage(t *testing.T) {
	set := intake.Settings{PinnedTTL: 2 * time.Second, AckWait: 5 * time.Second}
	host := start(t, set)
	host.PauseDrainer()
	data := t.TempDir()
	replica := func() *app.Ledger {
		l, err := app.Start(ctxT(t), app.Config{DataDir: data, NATSURL: host.ClientURL(), Intake: set,
			NATSOpts: []nats.Option{nats.UserCredentials(app.CredsFile(host.DataDir(), auth.ServiceUser))}})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	_, js := connect(t, host, "storefront")
	ctx := ctxT(t)
	n := 0
	publish := func(count int) {
		t.Helper()
		var fs []jetstream.PubAckFuture
		for range count {
			f, err := js.PublishMsgAsync(offer("ledger.intake.shop", fmt.Sprintf("o-%d", n), fmt.Sprintf("O-%d", n)))
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, f)
			n++
		}
		for _, f := range fs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatalf("publish not acknowledged: %v", err)
			case <-ctx.Done():
				t.Fatal("publishes not acknowledged")
			}
		}
	}
	l := replica()
	publish(500)
	l.Close() // the outage: the publisher goes on
	publish(2000)
	in, err := host.IntakeStreams().Info(ctx, time.Now())
	if err != nil || in.Queued == 0 {
		t.Fatalf("intake during the outage: %+v %v", in, err)
	}
	l = replica()
	defer l.Close()
	publish(500)
	got := outcomes(t, js, auth.Storefront, n)
	for i, o := range got {
		if !o.OK || o.Duplicate || o.IntakeSeq != uint64(i+1) || o.Seq != uint64(i+1) || o.ID != fmt.Sprintf("o-%d", i) {
			t.Fatalf("outcome %d: %+v", i+1, o)
		}
	}
	waitEmpty(t, host)
}
