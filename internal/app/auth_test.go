package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// step is one line of a story and the role that owns its event type.
type step struct {
	owner auth.Role
	typ   string
	line  []byte
}

// story is a valid history for one partner that uses every event type once
// at least, each line submitted by the role that owns its type.
func story(p string) []step {
	at := func(day int) time.Time { return time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day) }
	id := func(s string) string { return p + "-" + s }
	n := 0
	mk := func(owner auth.Role, typ string, day int, data map[string]any) step {
		n++
		return step{owner, typ, line(fmt.Sprintf("%s-line-%d", p, n), typ, at(day), data)}
	}
	offer, pid := id("O"), p
	return []step{
		mk(auth.Storefront, domain.TypeOfferPublished, 0, map[string]any{"offer_id": offer, "partner_id": pid,
			"publisher_id": "PUB", "listing_type": "transact", "storefront": "appsource"}),
		mk(auth.Storefront, domain.TypePartnerEnrolled, 1, map[string]any{"partner_id": pid, "name": "Contoso",
			"account_email": "admin@" + strings.ToLower(p) + ".example"}),
		mk(auth.Storefront, domain.TypeMarketingContactAssigned, 2, map[string]any{"partner_id": pid,
			"email": "marketing@" + strings.ToLower(p) + ".example", "phone": "+1 425 555 0100", "language": "en"}),
		mk(auth.Billing, domain.TypeSaleBilled, 22, map[string]any{"sale_id": id("S1"), "offer_id": offer, "customer_id": "C-1", "amount_usd_cents": 2000000}),
		mk(auth.Billing, domain.TypeSaleBilled, 51, map[string]any{"sale_id": id("S2"), "offer_id": offer, "customer_id": "C-2", "amount_usd_cents": 1000000}),
		mk(auth.Billing, domain.TypeSaleBilled, 112, map[string]any{"sale_id": id("S3"), "offer_id": offer, "customer_id": "C-3", "amount_usd_cents": 8000000}),
		mk(auth.Storefront, domain.TypeBenefitActivated, 121, map[string]any{"partner_id": pid, "benefit_id": "customer-case-study"}),
		mk(auth.RewardsTeam, domain.TypeRewardsTeamContacted, 123, map[string]any{"partner_id": pid, "benefit_id": "customer-case-study"}),
		mk(auth.Billing, domain.TypeSaleFlaggedFraud, 130, map[string]any{"sale_id": id("S1"), "confidence": "suspected"}),
		mk(auth.Billing, domain.TypeSaleFraudCleared, 131, map[string]any{"sale_id": id("S1")}),
		mk(auth.Billing, domain.TypePurchaseCancelled, 132, map[string]any{"sale_id": id("S2"), "reason": "accidental"}),
		mk(auth.Billing, domain.TypeMetricReported, 133, map[string]any{"partner_id": pid, "metric": "teams_mau", "period": "2024-04", "value": 10}),
		mk(auth.Storefront, domain.TypeEngagementOptedOut, 134, map[string]any{"partner_id": pid}),
		mk(auth.Storefront, domain.TypeEngagementOptedIn, 135, map[string]any{"partner_id": pid}),
		mk(auth.Compliance, domain.TypePartnerSanctioned, 136, map[string]any{"partner_id": pid, "ground": "illegal-activity"}),
		mk(auth.Compliance, domain.TypePartnerReinstated, 137, map[string]any{"partner_id": pid}),
		mk(auth.Storefront, domain.TypeOfferDelisted, 138, map[string]any{"offer_id": offer}),
	}
}

// conn is a client connection as an identity, with the asynchronous errors
// the server sent it (permission violations arrive that way).
type conn struct {
	*nats.Conn
	mu   sync.Mutex
	errs []error
}

func (c *conn) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, err := range c.errs {
		if errors.Is(err, nats.ErrPermissionViolation) {
			out = append(out, err.Error())
		}
	}
	return out
}

// waitViolation waits for a permissions violation naming subject.
func (c *conn) waitViolation(t *testing.T, subject string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.Flush()
		for _, v := range c.violations() {
			if strings.Contains(v, `"`+subject+`"`) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no permissions violation for %s; got %v", subject, c.violations())
}

func connectAs(t *testing.T, l *Ledger, identity string, opts ...nats.Option) *conn {
	t.Helper()
	c := &conn{}
	all := append([]nats.Option{credsOf(l, identity), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.mu.Lock()
		c.errs = append(c.errs, err)
		c.mu.Unlock()
	})}, opts...)
	nc, err := nats.Connect(l.ClientURL(), all...)
	if err != nil {
		t.Fatalf("connect as %s: %v", identity, err)
	}
	t.Cleanup(nc.Close)
	c.Conn = nc
	return c
}

func lastSeq(t *testing.T, l *Ledger) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := l.EventStore().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func rpcSubmit(c *conn, lines ...[]byte) ([]ledger.LineResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rpc.NewClient(c.Conn).Submit(ctx, lines)
}

// submitStory submits a partner's story as c, all of it accepted.
func submitStory(t *testing.T, c *conn, partner string) {
	t.Helper()
	var lines [][]byte
	for _, st := range story(partner) {
		lines = append(lines, st.line)
	}
	rs, err := rpcSubmit(c, lines...)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	for i, r := range rs {
		if !r.OK {
			t.Fatalf("setup: story line %d (%s) refused: %s %s", i+1, story(partner)[i].typ, r.Code, r.Error)
		}
	}
}

func submitRoles() []auth.Role {
	return []auth.Role{auth.Billing, auth.Storefront, auth.RewardsTeam, auth.Compliance}
}

// TestAnonymousClientsRefused: no credentials, no connection — over TCP on
// loopback and in-process alike.
func TestAnonymousClientsRefused(t *testing.T) {
	l := start(t, Config{})
	if !strings.HasPrefix(l.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("test expects a loopback listener, got %s", l.ClientURL())
	}
	for name, connect := range map[string]func() (*nats.Conn, error){
		"loopback": func() (*nats.Conn, error) { return nats.Connect(l.ClientURL()) },
		"in-process": func() (*nats.Conn, error) {
			return nats.Connect("", nats.InProcessServer(l.srv.NATS()), nats.Timeout(time.Second))
		},
		"user+pass":   func() (*nats.Conn, error) { return nats.Connect(l.ClientURL(), nats.UserInfo("admin", "admin")) },
		"token":       func() (*nats.Conn, error) { return nats.Connect(l.ClientURL(), nats.Token("ledger")) },
		"wrong-nkey":  func() (*nats.Conn, error) { return nats.Connect(l.ClientURL(), randomNkey(t)) },
		"no-jwt-seed": func() (*nats.Conn, error) { return nats.Connect(l.ClientURL(), nats.UserJWTAndSeed("", "")) },
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := connect()
			if err == nil {
				nc.Close()
				t.Fatal("connected without valid credentials")
			}
			t.Logf("refused: %v", err)
		})
	}
}

func randomNkey(t *testing.T) nats.Option {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) })
}

// TestForgedCredentialsRefused: credentials of another ledger, a user JWT
// signed by a key of the forger's own, a tampered JWT and a JWT with
// someone else's seed are all refused.
func TestForgedCredentialsRefused(t *testing.T) {
	l := start(t, Config{})
	other := start(t, Config{})
	adminCreds, err := os.ReadFile(CredsFile(l.cfg.DataDir, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	adminJWT, err := jwt.ParseDecoratedJWT(adminCreds)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(adminJWT)
	if err != nil {
		t.Fatal(err)
	}
	auditorCreds, _ := os.ReadFile(CredsFile(l.cfg.DataDir, "auditor"))
	auditorSeed, err := jwt.ParseDecoratedUserNKey(auditorCreds)
	if err != nil {
		t.Fatal(err)
	}

	// A forger signs a user for the ledger's account with a key of its own.
	forger, _ := nkeys.CreateAccount()
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	forged := jwt.NewUserClaims(userPub)
	forged.Name = "admin"
	forged.IssuerAccount = uc.IssuerAccount
	forgedJWT, err := forged.Encode(forger)
	if err != nil {
		t.Fatal(err)
	}
	// The same, claiming to be issued by the account itself.
	forged2 := jwt.NewUserClaims(userPub)
	forged2.Name = "admin"
	forgedJWT2, err := forged2.Encode(forger)
	if err != nil {
		t.Fatal(err)
	}
	// The admin JWT with its payload changed (the signature no longer matches).
	parts := strings.Split(adminJWT, ".")
	payload, err := jwt.DecodeUserClaims(adminJWT)
	if err != nil {
		t.Fatal(err)
	}
	payload.Name = "root"
	b, _ := json.Marshal(payload)
	tampered := parts[0] + "." + encodeSegment(b) + "." + parts[2]
	adminSeed, _ := jwt.ParseDecoratedUserNKey(adminCreds)
	adminSeedBytes, _ := adminSeed.Seed()
	auditorSeedBytes, _ := auditorSeed.Seed()

	write := func(name, tok string, seed []byte) string {
		creds, err := jwt.FormatUserConfig(tok, seed)
		if err != nil {
			// FormatUserConfig refuses a seed that does not match the JWT:
			// write the file by hand, as a forger would.
			creds = fmt.Appendf(nil, "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", tok, seed)
		}
		p := filepath.Join(t.TempDir(), name+".creds")
		if err := os.WriteFile(p, creds, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		"other ledger's admin":        CredsFile(other.cfg.DataDir, "admin"),
		"other ledger's service user": CredsFile(other.cfg.DataDir, auth.ServiceUser),
		"forged issuer":               write("forged", forgedJWT, userSeed),
		"forged account":              write("forged2", forgedJWT2, userSeed),
		"tampered payload":            write("tampered", tampered, adminSeedBytes),
		"someone else's seed":         write("swapped", adminJWT, auditorSeedBytes),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(path))
			if err == nil {
				nc.Close()
				t.Fatal("connected with forged credentials")
			}
			t.Logf("refused: %v", err)
		})
	}
	// The genuine file does connect (the cases above fail for their forgery).
	connectAs(t, l, "admin")
}

func encodeSegment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestEachRoleSubmitsOnlyItsEventTypes walks a story that uses every event
// type. Before each line is submitted by the role that owns its type, every
// other submitting role tries it and gets "forbidden", with nothing
// recorded; the owner's submission is then accepted.
func TestEachRoleSubmitsOnlyItsEventTypes(t *testing.T) {
	l := start(t, Config{})
	conns := map[auth.Role]*conn{}
	for _, r := range submitRoles() {
		conns[r] = connectAs(t, l, string(r))
	}
	seen := map[string]bool{}
	for i, st := range story("P-1") {
		seen[st.typ] = true
		before := lastSeq(t, l)
		for _, r := range submitRoles() {
			if r == st.owner {
				continue
			}
			rs, err := rpcSubmit(conns[r], st.line)
			if err != nil {
				t.Fatalf("step %d %s as %s: %v", i+1, st.typ, r, err)
			}
			if rs[0].OK || rs[0].Code != domain.CodeForbidden {
				t.Fatalf("step %d: %s submitted %s: %+v, want forbidden", i+1, r, st.typ, rs[0])
			}
			if !strings.Contains(rs[0].Error, "role "+string(r)) || !strings.Contains(rs[0].Error, st.typ) {
				t.Errorf("forbidden message does not name role and type: %q", rs[0].Error)
			}
			if got := lastSeq(t, l); got != before {
				t.Fatalf("step %d: a forbidden %s by %s moved the stream from %d to %d", i+1, st.typ, r, before, got)
			}
		}
		rs, err := rpcSubmit(conns[st.owner], st.line)
		if err != nil {
			t.Fatal(err)
		}
		if !rs[0].OK || rs[0].Duplicate || rs[0].Seq != before+1 {
			t.Fatalf("step %d: %s submitting %s: %+v, want accepted at seq %d", i+1, st.owner, st.typ, rs[0], before+1)
		}
	}
	if len(seen) != 15 {
		t.Errorf("the story covers %d event types, want all 15", len(seen))
	}
}

// TestForbiddenLineLeavesTheRest: in one request, a forbidden line is
// rejected and the lines around it are still decided.
func TestForbiddenLineLeavesTheRest(t *testing.T) {
	l := start(t, Config{})
	st := story("P-7")
	admin := connectAs(t, l, "admin")
	if rs, err := rpcSubmit(admin, st[0].line); err != nil || !rs[0].OK {
		t.Fatalf("setup: %v %+v", err, rs)
	}
	before := lastSeq(t, l)
	billing := connectAs(t, l, "billing")
	rs, err := rpcSubmit(billing, st[1].line /* PartnerEnrolled */, st[3].line /* SaleBilled */, st[2].line /* contact */, st[4].line /* SaleBilled */)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Code{domain.CodeForbidden, "", domain.CodeForbidden, ""}
	for i, r := range rs {
		if r.Code != want[i] || r.OK != (want[i] == "") {
			t.Errorf("line %d: %+v, want code %q", i+1, r, want[i])
		}
	}
	if got := lastSeq(t, l); got != before+2 {
		t.Errorf("stream moved %d → %d, want the two sales only", before, got)
	}
}

// TestAuditorCannotSubmit: the auditor's credentials may not publish to
// ledger.submit at all; the client reports "forbidden" at once.
func TestAuditorCannotSubmit(t *testing.T) {
	l := start(t, Config{})
	before := lastSeq(t, l)
	aud := connectAs(t, l, "auditor")
	// Refused by the server (forbidden naming the subject), not waited out
	// (a timeout would carry another code): no clock is needed to tell.
	_, err := rpcSubmit(aud, story("P-1")[0].line)
	if domain.CodeOf(err) != domain.CodeForbidden || !strings.Contains(err.Error(), "ledger.submit") {
		t.Fatalf("auditor submit: %v, want forbidden naming ledger.submit", err)
	}
	// Nor can it address a role's subject directly.
	for _, subj := range []string{auth.SubmitSubject(auth.Billing), auth.SubmitSubject(auth.Admin)} {
		aud.Publish(subj, story("P-1")[0].line)
		aud.waitViolation(t, subj)
	}
	if got := lastSeq(t, l); got != before {
		t.Errorf("stream moved %d → %d", before, got)
	}
}

// TestOnlyTheLedgerWritesTheStream: no role may publish to the stream's
// subjects, by core NATS or JetStream, nor change or delete the stream.
func TestOnlyTheLedgerWritesTheStream(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	if rs, err := rpcSubmit(admin, story("P-1")[0].line); err != nil || !rs[0].OK {
		t.Fatalf("setup: %v %+v", err, rs)
	}
	before := lastSeq(t, l)
	const subj = "ledger.events.P-1.SaleBilled"
	evil := saleLine("S-EVIL", "P-1-O", 100_000_000, t0)
	for _, r := range auth.Roles() {
		t.Run(string(r), func(t *testing.T) {
			t.Parallel()
			c := connectAs(t, l, string(r))
			// Core publish.
			if err := c.Publish(subj, evil); err != nil {
				t.Fatal(err)
			}
			c.waitViolation(t, subj)
			// JetStream publish (a request for an acknowledgement), and the
			// JetStream API requests that change the stream, all at once:
			// each is refused by the server and answered by nobody.
			js, err := jetstream.New(c.Conn)
			if err != nil {
				t.Fatal(err)
			}
			api := "$JS.API.STREAM."
			refused := map[string][]byte{
				api + "UPDATE." + auth.StreamName:     []byte(`{"name":"LEDGER","subjects":["ledger.events.>","evil.>"]}`),
				api + "DELETE." + auth.StreamName:     nil,
				api + "PURGE." + auth.StreamName:      nil,
				api + "MSG.DELETE." + auth.StreamName: []byte(`{"seq":1}`),
				api + "CREATE.SHADOW":                 []byte(`{"name":"SHADOW","subjects":["ledger.shadow.>"]}`),
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if _, err := js.Publish(ctx, subj, evil, jetstream.WithExpectStream(auth.StreamName)); err == nil {
					t.Error("JetStream publish acknowledged")
				}
			}()
			for subject, body := range refused {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if m, err := c.Request(subject, body, time.Second); err == nil {
						t.Errorf("%s answered: %s", subject, m.Data)
					}
				}()
			}
			wg.Wait()
			for subject := range refused {
				c.waitViolation(t, subject)
			}
			if got := lastSeq(t, l); got != before {
				t.Fatalf("stream moved %d → %d", before, got)
			}
		})
	}
	t.Cleanup(func() {
		info, err := l.EventStore().GetMsg(context.Background(), before)
		if err != nil || info.Seq != before || lastSeq(t, l) != before {
			t.Errorf("stream changed: %v", err)
		}
	})
}

// TestAuditorReplaysTheStream: the auditor reads the whole log with an
// ordered consumer (the way `ledger replay` does) and a partner's events,
// and JetStream deliveries it aims at the service are not taken as requests.
func TestAuditorReplaysTheStream(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	submitStory(t, admin, "P-1")
	last := lastSeq(t, l)
	for _, id := range []string{"auditor", "admin"} {
		t.Run(id, func(t *testing.T) {
			c := connectAs(t, l, id)
			js, err := jetstream.New(c.Conn)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			es, err := eventstore.Open(ctx, js, eventstore.ReadOnly())
			if err != nil {
				t.Fatal(err)
			}
			// What `nats stream ls` asks (STREAM.LIST): the stream is listed.
			listed := false
			streams := js.ListStreams(ctx)
			for si := range streams.Info() {
				listed = listed || si.Config.Name == auth.StreamName
			}
			if streams.Err() != nil || !listed {
				t.Fatalf("stream list as %s: %v, %s listed: %v", id, streams.Err(), auth.StreamName, listed)
			}
			var got []uint64
			if err := es.Read(ctx, 1, "", func(recs []eventstore.Record) error {
				for _, r := range recs {
					got = append(got, r.Seq)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if uint64(len(got)) != last || got[len(got)-1] != last {
				t.Fatalf("replayed %d events, want %d", len(got), last)
			}
			n := 0
			if err := es.Read(ctx, 1, "P-1", func(recs []eventstore.Record) error { n += len(recs); return nil }); err != nil {
				t.Fatal(err)
			}
			if uint64(n) != last {
				t.Errorf("partner read: %d events, want %d", n, last)
			}
			// A plain ordered consumer from the jetstream package works too.
			oc, err := js.OrderedConsumer(ctx, auth.StreamName, jetstream.OrderedConsumerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			batch, err := oc.Fetch(int(last), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			k := 0
			for range batch.Messages() {
				k++
			}
			if uint64(k) != last {
				t.Errorf("ordered consumer fetched %d, want %d", k, last)
			}
		})
	}

	// A reader may not create a push consumer (its deliveries would be
	// published in the stream's account, to a subject of the reader's
	// choosing): the gate refuses each with a JetStream API error.
	aud := connectAs(t, l, "auditor")
	js, _ := jetstream.New(aud.Conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for name, cfg := range map[string]jetstream.ConsumerConfig{
		"push-submit": {DeliverSubject: auth.SubjectSubmit, DeliverGroup: "q"},
		"push-events": {DeliverSubject: "ledger.events.P-1.SaleBilled"},
		"push-api":    {DeliverSubject: "$JS.API.STREAM.PURGE." + auth.StreamName},
	} {
		if cfg.Durable == "" {
			cfg.Name = name
		}
		var err error
		if cfg.DeliverSubject != "" {
			_, err = js.CreateOrUpdatePushConsumer(ctx, auth.StreamName, cfg)
		} else {
			_, err = js.CreateOrUpdateConsumer(ctx, auth.StreamName, cfg)
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || !strings.Contains(apiErr.Description, "forbidden") {
			t.Errorf("%s: %v, want a forbidden API error", name, err)
		}
	}
	if s, err := js.Stream(ctx, auth.StreamName); err != nil || s.CachedInfo().State.Msgs != last {
		t.Fatalf("stream after refused consumers: %v", err)
	}
	// A durable pull consumer that acknowledges (natscli's pager) reads the
	// log, bounded by the gate, and its acks reach it.
	dur, err := js.CreateConsumer(ctx, auth.StreamName, jetstream.ConsumerConfig{Durable: "pager", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("durable consumer: %v", err)
	}
	if cfg := dur.CachedInfo().Config; !cfg.MemoryStorage || cfg.InactiveThreshold == 0 || cfg.MaxAckPending > 1000 {
		t.Errorf("durable consumer not bounded: %+v", cfg)
	}
	msg, err := dur.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if v := aud.violations(); len(v) != 0 {
		t.Errorf("reading with acks logged violations: %v", v)
	}
	if got := lastSeq(t, l); got != last {
		t.Errorf("stream moved %d → %d", last, got)
	}
}

// TestLedgerReaderConsumersOwned: a reading role's durable on the event
// stream gets a name the other reading role cannot guess, so the auditor
// can neither look up, pull from, ack on nor delete the admin's "pager" by
// the name the admin asked for; the admin reads through it and deletes it
// by that name.
func TestLedgerReaderConsumersOwned(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	submitStory(t, admin, "P-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ajs, err := jetstream.New(admin.Conn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := jetstream.ConsumerConfig{Durable: "pager", AckPolicy: jetstream.AckExplicitPolicy}
	own, err := ajs.CreateOrUpdateConsumer(ctx, auth.StreamName, cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := own.CachedInfo().Name
	if name == "pager" || !strings.HasSuffix(name, "_pager") {
		t.Errorf("the durable is named %q: guessable", name)
	}
	aud := connectAs(t, l, "auditor")
	djs, err := jetstream.New(aud.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := djs.Consumer(ctx, auth.StreamName, "pager"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("the auditor looked up the admin's durable by its name: %v", err)
	}
	short, stop := context.WithTimeout(ctx, 2*time.Second)
	defer stop()
	if m, err := aud.Conn.RequestWithContext(short, "$JS.API.CONSUMER.MSG.NEXT."+auth.StreamName+".pager", []byte(`{"batch":1,"no_wait":true}`)); err == nil && len(m.Data) > 0 {
		t.Errorf("the auditor pulled from the admin's durable: %s", m.Data)
	}
	if err := djs.DeleteConsumer(ctx, auth.StreamName, "pager"); err == nil {
		t.Error("the auditor deleted the admin's durable by its name")
	}
	again, err := ajs.CreateOrUpdateConsumer(ctx, auth.StreamName, cfg)
	if err != nil || again.CachedInfo().Name != name {
		t.Fatalf("the admin asked again for its durable: %v, %v", again, err)
	}
	m, err := again.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := m.Metadata(); md.Sequence.Stream != 1 {
		t.Errorf("the admin's durable delivered seq %d first, want 1", md.Sequence.Stream)
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Errorf("ack: %v", err)
	}
	if err := ajs.DeleteConsumer(ctx, auth.StreamName, "pager"); err != nil {
		t.Errorf("the admin deleting its durable by the name it asked for: %v", err)
	}
}

// TestAdminCanDoEverything: the admin submits every event type, queries,
// verifies and rebuilds.
func TestAdminCanDoEverything(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	for _, st := range story("P-2") {
		rs, err := rpcSubmit(admin, st.line)
		if err != nil || !rs[0].OK {
			t.Fatalf("admin submitting %s: %v %+v", st.typ, err, rs)
		}
	}
	c := rpc.NewClient(admin.Conn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ep := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointHistory, rpc.EndpointAudit, rpc.EndpointAttention, rpc.EndpointStats} {
		if _, err := c.Query(ctx, ep, ledger.Query{PartnerID: "P-2"}); err != nil {
			t.Errorf("admin %s: %v", ep, err)
		}
	}
	for _, ep := range []string{rpc.EndpointVerify, rpc.EndpointRebuild, rpc.EndpointBackup} {
		if _, err := c.Call(ctx, ep, nil); err != nil {
			t.Errorf("admin %s: %v", ep, err)
		}
	}
}

// TestEveryRoleQueries: queries and discovery work for every role; verify
// is for the auditor and admin, rebuild for admin only.
func TestEveryRoleQueries(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	if rs, err := rpcSubmit(admin, story("P-3")[0].line); err != nil || !rs[0].OK {
		t.Fatalf("setup: %v", err)
	}
	for _, r := range auth.Roles() {
		t.Run(string(r), func(t *testing.T) {
			cn := connectAs(t, l, string(r))
			c := rpc.NewClient(cn.Conn)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, ep := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointHistory, rpc.EndpointAudit, rpc.EndpointAttention, rpc.EndpointStats} {
				if _, err := c.Query(ctx, ep, ledger.Query{PartnerID: "P-3"}); err != nil {
					t.Errorf("%s: %v", ep, err)
				}
			}
			// Discovery.
			msg, err := cn.Request("$SRV.PING.ledger", nil, 5*time.Second)
			if err != nil {
				t.Fatalf("$SRV.PING: %v", err)
			}
			if !strings.Contains(string(msg.Data), `"name":"ledger"`) {
				t.Errorf("$SRV.PING answered %s", msg.Data)
			}
			for _, subj := range []string{"$SRV.PING", "$SRV.INFO.ledger", "$SRV.STATS.ledger"} {
				if _, err := cn.Request(subj, nil, 5*time.Second); err != nil {
					t.Errorf("%s: %v", subj, err)
				}
			}
			// Administrative endpoints.
			mayVerify := r == auth.Admin || r == auth.Auditor
			if _, err := c.Call(ctx, rpc.EndpointVerify, nil); (err == nil) != mayVerify {
				t.Errorf("verify: %v (allowed: %v)", err, mayVerify)
			} else if err != nil && domain.CodeOf(err) != domain.CodeForbidden {
				t.Errorf("verify refused with %v, want forbidden", err)
			}
			// The policy file: every role; the scans: the reading roles.
			if b, err := c.Call(ctx, rpc.EndpointPolicy, nil); err != nil || !bytes.Equal(b, domain.DefaultPolicyJSON()) {
				t.Errorf("policy: %v (%d bytes)", err, len(b))
			}
			whatIf, _ := json.Marshal(ledger.WhatIfRequest{PolicyFile: string(domain.DefaultPolicyJSON())})
			for ep, body := range map[string][]byte{rpc.EndpointWhatIf: whatIf, rpc.EndpointExport: []byte(`{"kind":"tiers"}`)} {
				if _, err := c.Call(ctx, ep, body); (err == nil) != mayVerify {
					t.Errorf("%s: %v (allowed: %v)", ep, err, mayVerify)
				} else if err != nil && domain.CodeOf(err) != domain.CodeForbidden {
					t.Errorf("%s refused with %v, want forbidden", ep, err)
				}
			}
			if r != auth.Admin {
				for _, ep := range []string{rpc.EndpointRebuild, rpc.EndpointBackup} {
					if _, err := c.Call(ctx, ep, nil); domain.CodeOf(err) != domain.CodeForbidden {
						t.Errorf("%s: %v, want forbidden", ep, err)
					}
				}
			}
		})
	}
}

// TestRoleModelCoversEveryEndpoint: every endpoint the service registers is
// in the role model, so a new endpoint cannot be left unreachable or
// unguarded by accident.
func TestRoleModelCoversEveryEndpoint(t *testing.T) {
	l := start(t, Config{})
	admin := connectAs(t, l, "admin")
	msg, err := admin.Request("$SRV.INFO.ledger", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Endpoints []struct{ Name, Subject string }
	}
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	known := append(slices.Clone(auth.QuerySubjects), auth.SubjectSubmit, auth.SubjectSubmit+".*", auth.SubjectVerify, auth.SubjectRebuild, auth.SubjectBackup)
	known = append(known, auth.ScanSubjects...)
	for _, ep := range info.Endpoints {
		if !slices.Contains(known, ep.Subject) {
			t.Errorf("endpoint %s (%s) is not in the role model (internal/auth)", ep.Name, ep.Subject)
		}
	}
	if len(info.Endpoints) < 9 {
		t.Errorf("INFO lists %d endpoints", len(info.Endpoints))
	}
}

// TestCredentialsFilesKeptAcrossRestarts: first start writes a 0600 file per
// identity in a 0700 directory; a restart reuses them unchanged and they
// still work; a deleted file is issued anew and its old copies stop working.
func TestCredentialsFilesKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	credDir := CredentialsDir(dir)
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	if m := mode(credDir); m != 0o700 {
		t.Errorf("%s: mode %v, want 0700", credDir, m)
	}
	files := map[string][]byte{}
	paths := []string{filepath.Join(credDir, auth.KeysFile)}
	for _, id := range auth.Identities() {
		paths = append(paths, CredsFile(dir, id))
	}
	for _, p := range paths {
		if m := mode(p); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, m)
		}
		b, _ := os.ReadFile(p)
		files[p] = b
	}
	for _, r := range auth.Roles() {
		if _, ok := files[CredsFile(dir, string(r))]; !ok {
			t.Errorf("no credentials file for role %s", r)
		}
	}
	st := story("P-4")
	rs, err := rpcSubmit(connectAs(t, l, "storefront"), st[0].line)
	if err != nil || !rs[0].OK {
		t.Fatalf("storefront before restart: %v %+v", err, rs)
	}
	// Keep a copy of billing's credentials, as a client machine would.
	oldBilling := filepath.Join(t.TempDir(), "billing.creds")
	if err := os.WriteFile(oldBilling, files[CredsFile(dir, "billing")], 0o600); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l = start(t, Config{DataDir: dir})
	for p, b := range files {
		now, err := os.ReadFile(p)
		if err != nil || string(now) != string(b) {
			t.Errorf("%s changed across a restart", p)
		}
	}
	for _, r := range auth.Roles() {
		connectAs(t, l, string(r)) // every identity still gets in
	}
	if rs, err := rpcSubmit(connectAs(t, l, "storefront"), st[1].line); err != nil || !rs[0].OK {
		t.Fatalf("storefront after restart: %v %+v", err, rs)
	}
	l.Close()

	// Revoke billing by deleting its file.
	if err := os.Remove(CredsFile(dir, "billing")); err != nil {
		t.Fatal(err)
	}
	l = start(t, Config{DataDir: dir})
	nb, err := os.ReadFile(CredsFile(dir, "billing"))
	if err != nil || string(nb) == string(files[CredsFile(dir, "billing")]) {
		t.Fatalf("billing credentials not issued anew: %v", err)
	}
	if m := mode(CredsFile(dir, "billing")); m != 0o600 {
		t.Errorf("new billing.creds: mode %v", m)
	}
	if nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(oldBilling)); err == nil {
		nc.Close()
		t.Error("the revoked billing credentials still connect")
	}
	if rs, err := rpcSubmit(connectAs(t, l, "billing"), st[3].line); err != nil || !rs[0].OK {
		t.Fatalf("new billing credentials: %v %+v", err, rs)
	}
	connectAs(t, l, "storefront") // the others are untouched
}

// TestCredentialsWithoutKeysRefused: credentials files whose signing keys
// are gone are not silently replaced by new keys.
func TestCredentialsWithoutKeysRefused(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	l.Close()
	if err := os.Remove(filepath.Join(CredentialsDir(dir), auth.KeysFile)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l2, err := Start(ctx, Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		l2.Close()
		t.Fatal("started with credentials files but no signing keys")
	}
	if !strings.Contains(err.Error(), auth.KeysFile) {
		t.Errorf("error does not name %s: %v", auth.KeysFile, err)
	}
}

// TestStoreFromBeforeAuthenticationKept: a data directory whose stream was
// written by a server without authentication (the global account) keeps its
// events once the ledger runs with accounts.
func TestStoreFromBeforeAuthenticationKept(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	var lines [][]byte
	for _, st := range story("P-5") {
		lines = append(lines, st.line)
	}
	if _, err := l.Writer().Submit(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
	want := lastSeq(t, l)
	l.Close()
	// Make the directory look like one from before authentication: the
	// stream under the global account, no credentials.
	js := filepath.Join(storeDir(dir), "jetstream")
	ents, err := os.ReadDir(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "A") {
			if err := os.Rename(filepath.Join(js, e.Name()), filepath.Join(js, "$G")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.RemoveAll(CredentialsDir(dir)); err != nil {
		t.Fatal(err)
	}
	l = start(t, Config{DataDir: dir})
	if got := lastSeq(t, l); got != want {
		t.Fatalf("after migration the stream ends at %d, want %d", got, want)
	}
	rs, err := rpcSubmit(connectAs(t, l, "admin"), lines[0])
	if err != nil || !rs[0].Duplicate || rs[0].Seq != 1 {
		t.Errorf("resubmitting the first line: %v %+v, want duplicate of seq 1", err, rs)
	}
}

// TestWriterPermit: SubmitAs applies the permit per line, before deciding:
// a refused line is answered with the permit's code (forbidden by default)
// and changes nothing; the others are decided as usual.
func TestWriterPermit(t *testing.T) {
	l := start(t, Config{})
	st := story("P-6")
	noSales := func(typ string) error {
		switch typ {
		case domain.TypeSaleBilled:
			return errors.New("no sales here")
		case domain.TypeMarketingContactAssigned:
			return &domain.Error{Code: "custom", Msg: "not today"}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := l.Writer().SubmitAs(ctx, noSales, [][]byte{st[0].line, st[3].line, st[1].line, st[2].line, []byte("{not json")})
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Code{"", domain.CodeForbidden, "", "custom", domain.CodeInvalidJSON}
	for i, r := range rs {
		if r.Code != want[i] {
			t.Errorf("line %d: %+v, want %q", i+1, r, want[i])
		}
	}
	if rs[1].ID != "P-6-line-4" || rs[1].Error != "no sales here" {
		t.Errorf("forbidden line: %+v", rs[1])
	}
	if got := lastSeq(t, l); got != 2 {
		t.Errorf("stream at %d, want 2", got)
	}
	// Without a permit, the same sale is accepted.
	if rs := submit(t, l.Writer(), st[3].line); !rs[0].OK || rs[0].Duplicate {
		t.Errorf("sale without a permit: %+v", rs[0])
	}
}
