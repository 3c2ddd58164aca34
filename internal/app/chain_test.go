package app

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// checkChain reads the whole log and recomputes every partner's chain: no
// event may break it, and every event carries one.
func checkChain(t *testing.T, es *eventstore.Store) *eventstore.ChainCheck {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	last, err := es.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var c eventstore.ChainCheck
	if err := es.Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			c.Add(r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if c.Break != nil || c.Unchained != 0 || c.Events != last || last == 0 {
		t.Fatalf("chain over %d of %d events: break %+v, %d unchained", c.Events, last, c.Break, c.Unchained)
	}
	return &c
}

// copyStream copies the ledger's stream message by message (subject,
// headers, body) into a stream of the same configuration on a server of
// its own, through tamper, which may change, drop or reorder messages: a
// log rewritten outside the ledger by someone with the stream's storage.
func copyStream(t *testing.T, l *Ledger, tamper func([]*nats.Msg) []*nats.Msg) *eventstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var msgs []*nats.Msg
	if err := l.EventStore().Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			h := nats.Header{}
			for k, v := range r.Header {
				h.Set(k, v)
			}
			msgs = append(msgs, &nats.Msg{Subject: r.Subject, Header: h, Data: bytes.Clone(r.Data)})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: t.TempDir(), Port: -1, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	es, err := eventstore.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range tamper(msgs) {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return es
}

// TestChainCatchesARewrittenLog: every event the ledger records carries
// its chain (across batches, submissions and a restart), and a copy of the
// log rewritten outside the ledger — one amount changed, one event removed,
// two of a partner's events swapped — is caught at the first event that
// breaks it; a head written down before the rewrite no longer matches.
func TestChainCatchesARewrittenLog(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	st := story("P-1")
	for _, s := range st[:8] {
		mustAccept(t, submit(t, l.Writer(), s.line))
	}
	other := story("P-2")
	var rest [][]byte
	for i := range st[8:] {
		rest = append(rest, st[8+i].line, other[i].line)
	}
	l.Close()
	l = start(t, Config{DataDir: dir})
	mustAccept(t, submit(t, l.Writer(), rest...))
	intact := checkChain(t, l.EventStore())
	_, head := intact.Head()

	// P-1's sales are at 4, 5, 6 (sequence = story position: one per submission).
	cases := []struct {
		name   string
		tamper func([]*nats.Msg) []*nats.Msg
		breaks uint64
	}{
		{"copied as is", func(m []*nats.Msg) []*nats.Msg { return m }, 0},
		{"amount changed", func(m []*nats.Msg) []*nats.Msg {
			m[4].Data = bytes.Replace(m[4].Data, []byte(`1000000`), []byte(`9000000`), 1)
			return m
		}, 5},
		{"event removed", func(m []*nats.Msg) []*nats.Msg { return append(m[:4], m[5:]...) }, 5},
		{"partner's events swapped", func(m []*nats.Msg) []*nats.Msg { m[3], m[4] = m[4], m[3]; return m }, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := copyStream(t, l, tc.tamper)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var c eventstore.ChainCheck
			if err := es.Read(ctx, 1, "", func(rs []eventstore.Record) error {
				for _, r := range rs {
					c.Add(r)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, got := c.Head()
			if tc.breaks == 0 {
				if c.Break != nil || got != head {
					t.Fatalf("untouched copy: break %+v, head %s want %s", c.Break, got, head)
				}
				return
			}
			if c.Break == nil || c.Break.Seq != tc.breaks || c.Break.Partner != "P-1" {
				t.Fatalf("break %+v, want at seq %d (P-1)", c.Break, tc.breaks)
			}
			if got == head {
				t.Error("the rewritten log gives the head written down before")
			}
		})
	}
}
