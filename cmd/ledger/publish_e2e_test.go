package main

import (
	"context"
	"encoding/json"

	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPublishWaitOutcomesIntake: ledger publish --mode binary --wait queues
// a file on the intake and summarises its outcomes; ledger outcomes lists
// them (--rejected only the rejection); ledger intake shows an empty queue.
func TestPublishWaitOutcomesIntake(t *testing.T) {
	s := startServer(t, t.TempDir())
	input := filepath.Join(t.TempDir(), "in.ndjson")
	writeSales(t, input, 3, 5)
	f, _ := os.OpenFile(input, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"specversion":"1.0","id":"bad-1","source":"test","type":"SaleBilled","time":"2024-09-01T00:00:00Z","data":{"sale_id":"S-x","offer_id":"O-404","customer_id":"C","amount_usd_cents":1}}` + "\n")
	f.Close()
	out, code := s.cli(nil, "publish", "--mode", "binary", "--wait", input)
	if code != exitRejected || !strings.Contains(out, "published 9") || !strings.Contains(out, "accepted 8, duplicates 0, rejected 1") || !strings.Contains(out, "unknown_offer") {
		t.Fatalf("publish --wait: exit %d:\n%s", code, out)
	}
	out, code = s.cli(nil, "outcomes", "--json")
	if code != exitOK || strings.Count(out, "\n") != 9 {
		t.Fatalf("outcomes --json: exit %d:\n%s", code, out)
	}
	out, code = s.cli(nil, "outcomes", "--rejected", "--json")
	var o intake.Outcome
	if code != exitOK || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &o) != nil || o.ID != "bad-1" || o.IntakeSeq != 9 || o.Source != "test" {
		t.Fatalf("outcomes --rejected --json: exit %d:\n%s", code, out)
	}
	out, code = s.cli(nil, "intake", "--json")
	var doc app.IntakeDoc
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.Queued != 0 || doc.OldestQueuedAge != nil {
		t.Fatalf("intake --json: exit %d:\n%s", code, out)
	}
	if out, code = s.cli(nil, "intake"); code != exitOK || !strings.Contains(out, "queued") {
		t.Fatalf("intake: exit %d:\n%s", code, out)
	}
}

// TestIntakeDrainSurvivesKills SIGKILLs `ledger serve` (and its embedded
// NATS server) 10 times while it drains a 50,000-event intake published
// before (the figures): afterwards every event is recorded exactly
// once, in publish order, there is one outcome per event, and verify
// passes. Each kill comes as soon as the drain has made progress since the
// last restart (plus a jitter of a few milliseconds, so that kills land at
// different points of a group), so a fast drain is still killed mid-way.
func TestIntakeDrainSurvivesKills(t *testing.T) {
	skipShort(t)
	const (
		partners = 50
		sales    = 49_950
		kills    = 10
	)
	total := partners + sales
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	writeSales(t, input, partners, sales)
	port := freePort(t)
	flags := []string{"--intake-ack-wait", "2s", "--intake-pinned-ttl", "2s"}
	// Published to a ledger that does not drain: the whole intake is
	// queued before the first drain starts.
	srv := startServerAt(t, data, port, append([]string{"--intake-drain=false"}, flags...)...)
	logs := []*server{srv}
	fatal := func(format string, args ...any) {
		t.Helper()
		for i, s := range logs {
			t.Logf("serve #%d log:\n%s", i+1, s.log)
		}
		t.Fatalf(format, args...)
	}
	start := time.Now()
	if out, code := srv.cli(nil, "publish", input); code != exitOK {
		fatal("publish: exit %d: %s", code, out)
	}
	t.Logf("published %d events in %s", total, time.Since(start).Round(time.Millisecond))
	srv.stop()
	srv = startServerAt(t, data, port, flags...)
	logs = append(logs, srv)

	nc, err := nats.Connect(srv.url, nats.UserCredentials(app.CredsFile(data, "admin")), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	recorded := func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(ctx, auth.StreamName)
		if err != nil {
			return 0
		}
		return st.CachedInfo().State.LastSeq
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	last := uint64(0)
	for k := 1; k <= kills; k++ {
		// Some progress since the last kill, then a jitter.
		deadline := time.Now().Add(time.Minute)
		for recorded() <= last && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		at := recorded()
		if at >= uint64(total) {
			fatal("the intake was drained before kill %d: the kills came too late to prove anything", k)
		}
		srv.kill()
		last = at
		t.Logf("kill %d: about %d of %d recorded", k, at, total)
		srv = startServerAt(t, data, port, flags...)
		logs = append(logs, srv)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for recorded() < uint64(total) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Every event once, in publish order: the log's n-th event is the
	// input's n-th line.
	// Reading 50,000 events and as many outcomes back one by one takes
	// minutes on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	want, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(want)), "\n")
	c, err := js.OrderedConsumer(ctx, auth.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range lines {
		m, err := c.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			fatal("log event %d of %d: %v", i+1, len(lines), err)
		}
		var got, exp struct{ ID string }
		json.Unmarshal(m.Data(), &got)
		json.Unmarshal([]byte(line), &exp)
		if got.ID != exp.ID {
			fatal("log event %d is %s, want %s (publish order)", i+1, got.ID, exp.ID)
		}
	}
	if n := recorded(); n != uint64(total) {
		fatal("the log holds %d events, want %d", n, total)
	}
	// One outcome per event.
	oc, err := js.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for len(seen) < total {
		m, err := oc.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			fatal("outcome %d of %d: %v", len(seen)+1, total, err)
		}
		var o intake.Outcome
		json.Unmarshal(m.Data(), &o)
		if seen[o.IntakeSeq] || !o.OK {
			fatal("outcome %+v: twice, or not ok", o)
		}
		seen[o.IntakeSeq] = true
	}
	st, err := js.Stream(ctx, auth.OutcomesStreamName)
	if err != nil {
		fatal("OUTCOMES: %v", err)
	}
	if n := st.CachedInfo().State.Msgs; n != uint64(total) {
		fatal("OUTCOMES holds %d outcomes, want %d", n, total)
	}
	if out, code := srv.cli(nil, "verify"); code != exitOK {
		fatal("verify: exit %d: %s", code, out)
	}
}
