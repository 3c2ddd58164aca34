package app

import (
	"context"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestAppendCheckFollowsContention reads the expectation headers the
// writers stored: a ledger alone on the stream checks its appends against
// the stream's last sequence (one comparison for the server), and once it
// has met another writer it checks per partner, so that writers on
// different partners do not refuse each other's appends.
func TestAppendCheckFollowsContention(t *testing.T) {
	a := start(t, Config{})
	mustAccept(t, submit(t, a.Writer(), offerLine("P-1", "O-1")))
	b := start(t, Config{NATSURL: a.ClientURL(), NATSOpts: []nats.Option{credsOf(a, "ledger")}})
	mustAccept(t, submit(t, a.Writer(), offerLine("P-2", "O-2")))
	mustAccept(t, submit(t, b.Writer(), offerLine("P-3", "O-3"))) // b finds a's P-2 beyond what it knew
	mustAccept(t, submit(t, a.Writer(), offerLine("P-4", "O-4"))) // a finds b's P-3

	nc, err := nats.Connect(a.ClientURL(), credsOf(a, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, eventstore.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		seq          uint64
		stream, subj string // expected header values ("" = absent)
	}{
		{1, "0", ""}, // a alone
		{2, "1", ""}, // a, still alone as far as it knows
		{3, "", "0"}, // b: the log was ahead of it
		{4, "", "0"}, // a: b's append was ahead of it
	} {
		m, err := stream.GetMsg(ctx, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		gotStream, gotSubj := m.Header.Get(jetstream.ExpectedLastSeqHeader), m.Header.Get(jetstream.ExpectedLastSubjSeqHeader)
		if gotStream != c.stream || gotSubj != c.subj {
			t.Errorf("seq %d (%s): stream check %q, per-partner check %q; want %q, %q",
				c.seq, m.Subject, gotStream, gotSubj, c.stream, c.subj)
		}
	}
}
