package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go/jetstream"
)

// requestsOf lists requests a role's credentials may send, each with a body
// that gets an answer, covering every kind of responder: the ledger's
// service, micro discovery, the JetStream API and the reader gate.
func requestsOf(r auth.Role) map[string][]byte {
	q := []byte(`{"partner_id":"P-1"}`)
	reqs := map[string][]byte{
		"ledger.stats": nil, "ledger.tier": q, "ledger.benefits": q, "ledger.history": q,
		"ledger.audit": q, "ledger.attention": nil,
		"$SRV.PING": nil, "$SRV.INFO.ledger": nil, "$SRV.STATS.ledger": nil,
	}
	if r.MaySubmitAny() {
		// Answered (unknown_offer), and records nothing.
		reqs[auth.SubjectSubmit] = saleLine("S-REPLY", "NO-SUCH-OFFER", 100, t0)
	}
	if r.Reads() {
		reqs["$JS.API.INFO"] = nil
		reqs["$JS.API.STREAM.INFO."+auth.StreamName] = nil
		reqs["$JS.API.STREAM.NAMES"] = nil
		reqs["$JS.API.STREAM.MSG.GET."+auth.StreamName] = []byte(`{"seq":1}`)
		reqs["$JS.API.CONSUMER.CREATE."+auth.StreamName+".reply-attack"] =
			[]byte(`{"stream_name":"LEDGER","config":{"name":"reply-attack","ack_policy":"none"}}`)
		reqs["$JS.API.CONSUMER.DELETE."+auth.StreamName+".reply-attack"] = nil
	}
	return reqs
}

// TestReplySubjectsCannotWriteTheStream: a request whose reply subject lies
// inside the stream's subjects, sent with any role's credentials to any
// responder the role can reach, stores nothing: replies cross an account
// boundary, and the server rewrites their subjects. Before the roles had
// accounts of their own, one such request from the auditor stopped the
// projector for good. The last case shows that the test would see it: the
// same request from inside the stream's account is stored.
func TestReplySubjectsCannotWriteTheStream(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	if rs, err := rpcSubmit(admin, story("P-1")[0].line); err != nil || !rs[0].OK {
		t.Fatalf("setup: %v %+v", err, rs)
	}
	before := lastSeq(t, l)
	replies := []string{"ledger.events.P-1.SaleBilled", "ledger.events.P-1.OfferPublished", "ledger.events.X.Y"}
	for _, r := range auth.Roles() {
		t.Run(string(r), func(t *testing.T) {
			c := connectAs(t, l, string(r))
			for subject, body := range requestsOf(r) {
				for _, reply := range replies {
					if err := c.PublishRequest(subject, reply, body); err != nil {
						t.Fatal(err)
					}
				}
				// The same request with a reply the client receives: once it
				// is answered, the requests before it were handled too (one
				// connection, handled in order by each responder, and the
				// ledger's pool is drained by waiting for stats below).
				if _, err := c.Request(subject, body, 10*time.Second); err != nil {
					t.Fatalf("%s: %v", subject, err)
				}
			}
			if v := c.violations(); len(v) != 0 {
				t.Errorf("the requests were not all permitted (the test would prove less): %v", v)
			}
		})
	}
	// Let in-flight handlers finish: the service answers requests in a
	// pool, so wait until a request sent after all of them is answered by
	// every worker that could still hold one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rpc.NewClient(admin.Conn)
	for range 8 {
		if _, err := c.Call(ctx, "stats", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastSeq(t, l); got != before {
		t.Fatalf("requests with reply subjects in the stream moved it %d → %d", before, got)
	}
	// The ledger still takes submissions and its projector runs.
	rs, err := rpcSubmit(admin, story("P-1")[1].line)
	if err != nil || !rs[0].OK || rs[0].Seq != before+1 {
		t.Fatalf("submit after the attack: %v %+v", err, rs)
	}
	doc, err := l.Queries().Stats(ctx)
	if err != nil || doc.ProjectorError != "" {
		t.Fatalf("stats after the attack: %v %+v", err, doc)
	}

	// Control: inside the stream's account a reply is captured.
	svc := connectAs(t, l, auth.ServiceUser)
	if err := svc.PublishRequest("ledger.stats", "ledger.events.P-1.SaleBilled", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lastSeq(t, l) == before+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if lastSeq(t, l) == before+1 {
		t.Fatal("control: a reply from inside the stream's account was not stored; the test proves nothing")
	}
}

// orderedConsumer creates an ordered consumer as a reader does, and reads
// one message through it.
func orderedConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	oc, err := js.OrderedConsumer(ctx, auth.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	if _, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		return nil, err
	}
	return oc, nil
}

// TestReaderConsumersBounded: a reading role holds at most
// rpc.ReaderConsumersPerRole consumers on the stream; the next is refused
// with JetStream's maximum-consumers error while the ledger's own readers
// (verify, the projector) and the other role's budget are untouched;
// deleting one makes room. A reader cannot delete a consumer it did not
// create through the gate, such as the ledger's own.
func TestReaderConsumersBounded(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	if rs, err := rpcSubmit(admin, story("P-1")[0].line); err != nil || !rs[0].OK {
		t.Fatalf("setup: %v %+v", err, rs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	aud := connectAs(t, l, "auditor")
	js, err := jetstream.New(aud.Conn)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range rpc.ReaderConsumersPerRole {
		c, err := js.CreateConsumer(ctx, auth.StreamName, jetstream.ConsumerConfig{Name: fmt.Sprintf("mine-%d", i), AckPolicy: jetstream.AckNonePolicy})
		if err != nil {
			t.Fatalf("consumer %d: %v", i+1, err)
		}
		names = append(names, c.CachedInfo().Name)
		if info := c.CachedInfo().Config; !info.MemoryStorage || info.InactiveThreshold == 0 || info.InactiveThreshold > 5*time.Minute {
			t.Errorf("consumer %d not bounded by the gate: %+v", i+1, info)
		}
	}
	_, err = orderedConsumer(ctx, js)
	if !errors.Is(err, jetstream.ErrMaximumConsumersLimit) {
		t.Fatalf("consumer %d: %v, want the maximum consumers error", rpc.ReaderConsumersPerRole+1, err)
	}
	// The ledger's own readers still work.
	if rep, err := l.Verify(ctx); err != nil || !rep.Equal {
		t.Fatalf("verify with the auditor at its limit: %v %+v", err, rep)
	}
	rs, err := rpcSubmit(admin, story("P-1")[1].line)
	if err != nil || !rs[0].OK {
		t.Fatalf("submit with the auditor at its limit: %v %+v", err, rs)
	}
	if err := l.Projector().WaitFor(ctx, rs[0].Seq); err != nil {
		t.Fatalf("projector with the auditor at its limit: %v", err)
	}
	// The admin has a budget of its own.
	ajs, _ := jetstream.New(admin.Conn)
	if _, err := orderedConsumer(ctx, ajs); err != nil {
		t.Fatalf("admin's ordered consumer: %v", err)
	}
	// A consumer the auditor did not create cannot be deleted by it.
	svc := connectAs(t, l, auth.ServiceUser)
	sjs, _ := jetstream.New(svc.Conn)
	own, err := sjs.Stream(ctx, auth.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	lister := own.ConsumerNames(ctx)
	var others []string
	for n := range lister.Name() {
		if !contains(names, n) {
			others = append(others, n)
		}
	}
	if len(others) == 0 {
		t.Fatal("no consumer of another identity to try")
	}
	for _, n := range others {
		if err := js.DeleteConsumer(ctx, auth.StreamName, n); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("auditor deleting %s: %v, want not found", n, err)
		}
		if _, err := own.Consumer(ctx, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer %s after the auditor's delete: %v", n, err)
		}
	}
	// Deleting its own makes room.
	if err := js.DeleteConsumer(ctx, auth.StreamName, names[0]); err != nil {
		t.Fatalf("delete own consumer: %v", err)
	}
	if _, err := orderedConsumer(ctx, js); err != nil {
		t.Fatalf("ordered consumer after a delete: %v", err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestEveryRoleHasItsOwnAccount: only the ledger's own user lives in the
// stream's account, and no two roles share one (so neither can listen to
// another's replies on _INBOX.>).
func TestEveryRoleHasItsOwnAccount(t *testing.T) {
	l := start(t, Config{})
	accountOfCreds := func(id string) string {
		b, err := os.ReadFile(CredsFile(l.cfg.DataDir, id))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseDecoratedJWT(b)
		if err != nil {
			t.Fatal(err)
		}
		uc, err := jwt.DecodeUserClaims(tok)
		if err != nil {
			t.Fatal(err)
		}
		return uc.IssuerAccount
	}
	ledgerAccount := accountOfCreds(auth.ServiceUser)
	seen := map[string]auth.Role{}
	for _, r := range auth.Roles() {
		a := accountOfCreds(string(r))
		if a == ledgerAccount {
			t.Errorf("%s lives in the stream's account", r)
		}
		if other, ok := seen[a]; ok {
			t.Errorf("%s and %s share an account", r, other)
		}
		seen[a] = r
	}
	// And the auditor indeed sees nothing of the admin's replies.
	spy := connectAs(t, l, "auditor")
	sub, err := spy.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	spy.Flush()
	admin := connectAs(t, l, "admin")
	if _, err := admin.Request("ledger.stats", nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	spy.Flush()
	if n, _, _ := sub.Pending(); n != 0 {
		t.Fatalf("the auditor read %d replies meant for the admin", n)
	}
}
