package intake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, set intake.Settings) *app.Ledger {
	t.Helper()
	l, err := app.Start(ctxT(t), app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Intake: set})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func connect(t *testing.T, l *app.Ledger, role string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), role)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// binary is a binary-mode intake message of an event.
func binary(subject, id, typ, at, data string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set("ce-specversion", "1.0")
	m.Header.Set("ce-id", id)
	m.Header.Set("ce-source", "test/intake")
	m.Header.Set("ce-type", typ)
	m.Header.Set("ce-time", at)
	m.Header.Set("Content-Type", "application/json")
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Data = []byte(data)
	return m
}

func offer(subject, id, offerID string) *nats.Msg {
	return binary(subject, id, domain.TypeOfferPublished, "2024-09-01T00:00:00Z",
		fmt.Sprintf(`{"offer_id":%q,"partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}`, offerID))
}

// outcomes reads n outcomes of role from OUTCOMES through the role's own
// account (the reader gate), in order.
func outcomes(t *testing.T, js jetstream.JetStream, role auth.Role, n int) []intake.Outcome {
	t.Helper()
	ctx := ctxT(t)
	c, err := js.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{auth.OutcomesSubject(role)}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	var out []intake.Outcome
	for len(out) < n {
		m, err := it.Next(jetstream.NextMaxWait(time.Minute))
		if err != nil {
			t.Fatalf("outcome %d of %d: %v", len(out)+1, n, err)
		}
		var o intake.Outcome
		if err := json.Unmarshal(m.Data(), &o); err != nil {
			t.Fatal(err)
		}
		if got := m.Headers().Get(intake.HeaderIntakeSeq); got != fmt.Sprint(o.IntakeSeq) {
			t.Errorf("header %s %q, body intake_seq %d", intake.HeaderIntakeSeq, got, o.IntakeSeq)
		}
		out = append(out, o)
	}
	return out
}

// TestIntakeOutcomes: a storefront publisher's events (binary, structured,
// batch), a line its role may not submit (forbidden), and messages that are
// no CloudEvent at all (coded outcomes, acked) each get one outcome in
// publish order, readable by the role; the events behind the poison ones
// are decided; ledger.outcome answers recorded, rejected and unknown; the
// intake ends empty.
func TestIntakeOutcomes(t *testing.T) {
	l := start(t, intake.Settings{})
	nc, js := connect(t, l, "storefront")
	ctx := ctxT(t)
	pub := func(m *nats.Msg) uint64 {
		t.Helper()
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	pub(offer("ledger.intake.shop", "o-1", "O-1"))
	poison := nats.NewMsg("ledger.intake.shop")
	poison.Data = []byte("this is not JSON")
	pub(poison)
	odd := nats.NewMsg("ledger.intake.shop")
	odd.Header.Set("Content-Type", "text/csv")
	odd.Data = []byte("a,b")
	pub(odd)
	pub(binary("ledger.intake.shop", "s-1", domain.TypeSaleBilled, "2024-09-02T00:00:00Z",
		`{"sale_id":"S-1","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}`))
	b := nats.NewMsg("ledger.intake.other.token")
	b.Header.Set("Content-Type", "application/cloudevents-batch+json")
	b.Data = []byte(`[{"specversion":"1.0","id":"o-2","source":"test/intake","type":"OfferPublished","time":"2024-09-01T00:00:00Z",` +
		`"data":{"offer_id":"O-2","partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}}, 7]`)
	pub(b)
	pub(offer("ledger.intake.shop", "o-1", "O-1")) // the same id again: Nats-Msg-Id deduplicates the publish itself

	got := outcomes(t, js, auth.Storefront, 6)
	type want struct {
		line int
		id   string
		ok   bool
		code domain.Code
		seq  uint64
	}
	wants := []want{
		{1, "o-1", true, "", 1},
		{1, "", false, domain.CodeInvalidJSON, 2},
		{1, "", false, "unsupported_media_type", 3},
		{1, "s-1", false, domain.CodeForbidden, 4},
		{1, "o-2", true, "", 5},
		{2, "", false, domain.CodeInvalidJSON, 5},
	}
	for i, w := range wants {
		o := got[i]
		if o.Line != w.line || o.ID != w.id || o.OK != w.ok || o.Code != w.code || o.IntakeSeq != w.seq {
			t.Errorf("outcome %d: %+v, want %+v", i+1, o, w)
		}
	}
	if got[0].Source != "test/intake" || got[0].Seq != 1 || got[4].Seq != 2 {
		t.Errorf("outcomes: %+v", got)
	}

	c := rpc.NewClient(nc)
	for id, state := range map[string]string{"o-1": rpc.StateRecorded, "s-1": rpc.StateRejected, "nope": rpc.StateUnknown} {
		body, err := c.Call(ctx, rpc.EndpointOutcome, fmt.Appendf(nil, `{"id":%q}`, id))
		if err != nil {
			t.Fatal(err)
		}
		var doc rpc.OutcomeDoc
		json.Unmarshal(body, &doc)
		if doc.State != state || (state == rpc.StateRejected && doc.Code != string(domain.CodeForbidden)) {
			t.Errorf("outcome %s: %s, want %s", id, body, state)
		}
	}

	// Another role may not read storefront's outcomes.
	_, bjs := connect(t, l, "billing")
	if _, err := bjs.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{auth.OutcomesSubject(auth.Storefront)}}); err == nil {
		t.Error("billing created a consumer on storefront's outcomes")
	}
	if _, err := bjs.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{}); err == nil {
		t.Error("billing created an unfiltered consumer on OUTCOMES")
	}
	// The auditor reads them all.
	_, ajs := connect(t, l, "auditor")
	if got := outcomes(t, ajs, auth.Storefront, 6); got[3].Code != domain.CodeForbidden {
		t.Errorf("auditor read %+v", got)
	}
	// Nobody but the ledger consumes or purges the intake.
	// (A permissions violation: no reply comes, hence the short wait.)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := ajs.Stream(short, auth.IntakeStreamName); err == nil {
		t.Error("the auditor reached the INTAKE stream")
	}
	waitEmpty(t, l)
}

// waitEmpty waits until the intake holds nothing.
func waitEmpty(t *testing.T, l *app.Ledger) {
	t.Helper()
	ctx := ctxT(t)
	for {
		in, err := l.IntakeStreams().Info(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if in.Queued == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("intake still holds %d messages", in.Queued)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestIntakeFull: a full intake refuses publishes with JetStream's error
// (discard new: maximum messages exceeded) and loses nothing it accepted.
func TestIntakeFull(t *testing.T) {
	l := start(t, intake.Settings{MaxMsgs: 3})
	resume := l.PauseDrainer()
	_, js := connect(t, l, "storefront")
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := js.PublishMsg(ctx, offer("ledger.intake.shop", fmt.Sprintf("o-%d", i), fmt.Sprintf("O-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := js.PublishMsg(ctx, offer("ledger.intake.shop", "o-x", "O-x"))
	if err == nil || !strings.Contains(err.Error(), "maximum messages exceeded") {
		t.Fatalf("a publish to a full intake: %v, want JetStream's maximum messages exceeded", err)
	}
	t.Logf("full intake: %v", err)
	resume()
	_, ajs := connect(t, l, "storefront")
	got := outcomes(t, ajs, auth.Storefront, 3)
	for i, o := range got {
		if !o.OK || o.ID != fmt.Sprintf("o-%d", i) {
			t.Errorf("outcome %d: %+v", i+1, o)
		}
	}
}

// TestOutcomesConsumerOwned: a role's durable consumer on OUTCOMES gets a
// name no other role can guess, so another role can neither look it up,
// nor pull from it (which would deliver the first role's outcomes and take
// them from it), nor delete it, by the durable name it asked for; the
// owner reads through it and, asking again for the same durable, gets the
// same consumer.
func TestOutcomesConsumerOwned(t *testing.T) {
	l := start(t, intake.Settings{})
	_, sjs := connect(t, l, "storefront")
	ctx := ctxT(t)
	if _, err := sjs.PublishMsg(ctx, offer("ledger.intake.shop", "o-1", "O-1")); err != nil {
		t.Fatal(err)
	}
	outcomes(t, sjs, auth.Storefront, 1)
	cfg := jetstream.ConsumerConfig{Durable: "shop", FilterSubject: auth.OutcomesSubject(auth.Storefront), AckPolicy: jetstream.AckNonePolicy}
	own, err := sjs.CreateOrUpdateConsumer(ctx, auth.OutcomesStreamName, cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := own.CachedInfo().Name
	if name == "shop" || !strings.HasSuffix(name, "_shop") {
		t.Errorf("the durable is named %q: guessable", name)
	}

	bnc, bjs := connect(t, l, "billing")
	if _, err := bjs.Consumer(ctx, auth.OutcomesStreamName, "shop"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("billing looked up storefront's durable by its name: %v", err)
	}
	// A raw pull by the durable's name: before the fix it delivered
	// storefront's outcome.
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if m, err := bnc.RequestWithContext(short, "$JS.API.CONSUMER.MSG.NEXT."+auth.OutcomesStreamName+".shop", []byte(`{"batch":1,"no_wait":true}`)); err == nil && len(m.Data) > 0 {
		t.Errorf("billing pulled storefront's outcome: %s", m.Data)
	}
	if err := bjs.DeleteConsumer(ctx, auth.OutcomesStreamName, "shop"); err == nil {
		t.Error("billing deleted storefront's durable by its name")
	}
	// Billing's own "shop" is another consumer, on its own outcomes.
	bown, err := bjs.CreateOrUpdateConsumer(ctx, auth.OutcomesStreamName, jetstream.ConsumerConfig{Durable: "shop", FilterSubject: auth.OutcomesSubject(auth.Billing), AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatal(err)
	}
	if bown.CachedInfo().Name == name {
		t.Fatal("billing's durable is storefront's")
	}

	// The owner reads through it, and asking again gives the same one.
	again, err := sjs.CreateOrUpdateConsumer(ctx, auth.OutcomesStreamName, cfg)
	if err != nil || again.CachedInfo().Name != name {
		t.Fatalf("storefront asked again for its durable: %v, %v", again, err)
	}
	b, err := again.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []intake.Outcome
	for m := range b.Messages() {
		var o intake.Outcome
		json.Unmarshal(m.Data(), &o)
		got = append(got, o)
	}
	if len(got) != 1 || got[0].ID != "o-1" {
		t.Errorf("storefront's durable delivered %+v, want its outcome", got)
	}
	if err := sjs.DeleteConsumer(ctx, auth.OutcomesStreamName, "shop"); err != nil {
		t.Errorf("storefront deleting its durable by the name it asked for: %v", err)
	}
}

// TestOutcomesConsumerAcks: a role's acknowledging durable on OUTCOMES,
// created through the reader gate with a small max-ack-pending, delivers
// more than that limit as long as the role acks (its account imports
// $JS.ACK.OUTCOMES.>; without it the consumer stalled at the limit). The
// ack subjects write no stream, and another role cannot ack the durable
// by the name it was asked for: the gate named it unguessably.
func TestOutcomesConsumerAcks(t *testing.T) {
	l := start(t, intake.Settings{})
	_, sjs := connect(t, l, "storefront")
	ctx := ctxT(t)
	const events, maxAckPending = 8, 3
	for i := range events {
		if _, err := sjs.PublishMsg(ctx, offer("ledger.intake.shop", fmt.Sprintf("o-%d", i), fmt.Sprintf("O-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	outcomes(t, sjs, auth.Storefront, events)
	durable, err := sjs.CreateOrUpdateConsumer(ctx, auth.OutcomesStreamName, jetstream.ConsumerConfig{Durable: "acker",
		FilterSubject: auth.OutcomesSubject(auth.Storefront), AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: maxAckPending})
	if err != nil {
		t.Fatal(err)
	}
	if got := durable.CachedInfo().Config.MaxAckPending; got != maxAckPending {
		t.Fatalf("max ack pending %d, want %d", got, maxAckPending)
	}
	streams := func() map[string]uint64 {
		t.Helper()
		snc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), auth.ServiceUser)))
		if err != nil {
			t.Fatal(err)
		}
		defer snc.Close()
		js, err := jetstream.New(snc)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for info := range js.ListStreams(ctx).Info() {
			out[info.Config.Name] = info.State.LastSeq
		}
		return out
	}
	before := streams()

	// Another role acks storefront's durable by the name storefront asked
	// for, and publishes on the ack subjects as if to a stream.
	bnc, bjs := connect(t, l, "billing")
	first, err := durable.Fetch(maxAckPending, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held []jetstream.Msg
	for m := range first.Messages() {
		held = append(held, m)
	}
	if len(held) != maxAckPending {
		t.Fatalf("fetched %d, want %d", len(held), maxAckPending)
	}
	for _, m := range held {
		md, _ := m.Metadata()
		forged := fmt.Sprintf("$JS.ACK.%s.acker.1.%d.%d.%d.0", auth.OutcomesStreamName, md.Sequence.Stream, md.Sequence.Consumer, md.Timestamp.UnixNano())
		if err := bnc.Publish(forged, []byte("+ACK")); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if ack, err := bjs.Publish(short, "$JS.ACK."+auth.OutcomesStreamName+".x.1.1.1.1.0", []byte("written?")); err == nil {
		t.Errorf("a publish on an ack subject was stored: %+v", ack)
	}
	if err := bnc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Storefront's own ack of the first, answered by the server, comes
	// after billing's in the consumer's ack queue: billing's acked nothing.
	if err := held[0].DoubleAck(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	info, err := durable.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != maxAckPending-1 {
		t.Errorf("ack pending %d after one ack of %d, want %d: another role's acks reached the durable", info.NumAckPending, maxAckPending, maxAckPending-1)
	}
	for _, m := range held[1:] {
		if err := m.Ack(); err != nil {
			t.Fatal(err)
		}
	}

	// The owner reads everything past the limit, acking as it goes.
	got := len(held)
	for got < events {
		b, err := durable.Fetch(min(maxAckPending, events-got), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			var o intake.Outcome
			json.Unmarshal(m.Data(), &o)
			if o.ID != fmt.Sprintf("o-%d", got) {
				t.Fatalf("outcome %d is %s", got+1, o.ID)
			}
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
			got++
			n++
		}
		if n == 0 {
			t.Fatalf("the durable stalled after %d of %d outcomes (max ack pending %d): %v", got, events, maxAckPending, b.Error())
		}
	}
	if after := streams(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("streams moved: %v → %v", before, after)
	}
}

// TestIntakeBlankLinesAgreeWithRPC: an NDJSON intake message with blank
// lines gets the outcomes ledger.submit answers the same input with (on a
// ledger of its own): blank lines skipped, no outcome, and the other lines
// keep their input numbers; a message of blank lines only is
// empty_message.
func TestIntakeBlankLinesAgreeWithRPC(t *testing.T) {
	env := func(id, offerID string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test/intake","type":"OfferPublished","time":"2024-09-01T00:00:00Z",`+
			`"data":{"offer_id":%q,"partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}}`, id, offerID)
	}
	input := "\n \n" + env("o-1", "O-1") + "\n\n{\n\t\r\n" + env("o-2", "O-2") + "\n\n"
	ctx := ctxT(t)

	viaRPC := start(t, intake.Settings{})
	rnc, _ := connect(t, viaRPC, "storefront")
	reply, err := rpc.NewClient(rnc).Call(ctx, rpc.EndpointSubmit, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	want, err := rpc.ParseSubmitReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || want[0].Line != 3 || want[1].Line != 5 || want[2].Line != 7 {
		t.Fatalf("the RPC answered %s, want lines 3, 5 and 7", reply)
	}

	l := start(t, intake.Settings{})
	_, js := connect(t, l, "storefront")
	m := nats.NewMsg("ledger.intake.shop")
	m.Data = []byte(input)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	blank := nats.NewMsg("ledger.intake.shop")
	blank.Data = []byte("\n \n\t\n")
	if _, err := js.PublishMsg(ctx, blank); err != nil {
		t.Fatal(err)
	}
	got := outcomes(t, js, auth.Storefront, len(want)+1)
	for i := range want {
		if got[i].LineResult != want[i] {
			t.Errorf("outcome %d: %+v, the RPC answered %+v", i+1, got[i].LineResult, want[i])
		}
	}
	if o := got[len(want)]; o.Code != domain.CodeEmptyMessage || o.IntakeSeq != 2 {
		t.Errorf("blank lines only: %+v, want empty_message", o)
	}
}

// TestResumedDrainerTakesAStalePin: a pull request the server still held
// when the drainer paused — its client gone, as a stopped drainer's
// iterator goes, unsubscribing after the unpin — gets the consumer's pin
// with the first event published during the pause. The resumed drainer
// ends that pin and decides, instead of waiting out the pinned TTL (five
// minutes here: longer than the test waits for an outcome).
func TestResumedDrainerTakesAStalePin(t *testing.T) {
	l := start(t, intake.Settings{PinnedTTL: 5 * time.Minute, AckWait: 2 * time.Second})
	resume := l.PauseDrainer()
	ctx := ctxT(t)
	stale, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), auth.ServiceUser)))
	if err != nil {
		t.Fatal(err)
	}
	sjs, err := jetstream.New(stale)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sjs.Consumer(ctx, auth.IntakeStreamName, intake.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullPriorityGroup(intake.PriorityGroup), jetstream.PullExpiry(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, l, "storefront")
	if _, err := js.PublishMsg(ctx, offer("ledger.intake.shop", "o-0", "O-0")); err != nil {
		t.Fatal(err)
	}
	m, err := it.Next(jetstream.NextMaxWait(time.Minute))
	if err != nil {
		t.Fatalf("the stale client got no event: %v", err)
	}
	if m.Headers().Get("Nats-Pin-Id") == "" {
		t.Fatal("the stale client's delivery carries no pin")
	}
	stale.Close() // gone with the pin and the event unacked
	if _, err := js.PublishMsg(ctx, offer("ledger.intake.shop", "o-1", "O-1")); err != nil {
		t.Fatal(err)
	}
	resume()
	got := outcomes(t, js, auth.Storefront, 2)
	for i, o := range got {
		if !o.OK || o.ID != fmt.Sprintf("o-%d", i) {
			t.Errorf("outcome %d: %+v", i+1, o)
		}
	}
}
