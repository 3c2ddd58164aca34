package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterLeaderLossLosesNothing runs the ledger the way ARCHITECTURE.md
// scales it: three NATS servers clustered on loopback, the stream at R3, two
// ledger replicas connected to the cluster sharing the submit load through
// the service's queue group. Clients submit thousands of lines in batches
// and resubmit whatever was not acknowledged (idempotency makes that safe).
// Mid-ingest the stream's leader is shut down; later the node comes back,
// catches up, and the new leader is shut down too. Ingest must go on after
// each short unavailability, and in the end:
//
//   - every acknowledged line is in the stream exactly once, at the sequence
//     it was acknowledged with, and nothing else is (no gaps, no duplicates);
//   - both ledgers' read models have the same digest, equal to a clean
//     rebuild from the stream.
func TestClusterLeaderLossLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("three-node cluster with failovers: not in -short")
	}
	logs := &testLogs{}
	t.Cleanup(func() {
		switch {
		case os.Getenv("LEDGER_TEST_LOG") != "":
			t.Logf("log (warnings and errors):\n%s", logs.tail(-1))
		case t.Failed():
			t.Logf("log (warnings and errors, last 300 lines):\n%s", logs.tail(300))
		}
	})
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	credDir := filepath.Join(dir, "credentials")
	m, err := auth.Provision(credDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := startCluster(t, ctx, dir, m, log)
	urls := cl.clientURLs()

	// Two ledger replicas, each with its own read models, on the cluster.
	var ledgers []*Ledger
	for _, name := range []string{"a", "b"} {
		l, err := Start(ctx, Config{DataDir: filepath.Join(dir, "ledger-"+name), NATSURL: urls,
			Logger:     log.With("ledger", name),
			NATSOpts:   []nats.Option{nats.UserCredentials(auth.CredsFile(credDir, auth.ServiceUser)), nats.ReconnectWait(50 * time.Millisecond)},
			StreamOpts: []eventstore.Option{eventstore.WithReplicas(3)}})
		if err != nil {
			t.Fatalf("ledger %s: %v", name, err)
		}
		t.Cleanup(func() { l.Close() })
		ledgers = append(ledgers, l)
	}
	mon := cl.monitor(t, auth.CredsFile(credDir, auth.ServiceUser))
	if info := mon.info(t, ctx); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream not at R3 on the cluster: %+v", info.Cluster)
	}

	in := newIngest(clusterWorkload(200, 30), 4, 40)
	// Failovers at a third and at two thirds of the lines; a client that gets
	// far ahead of a pending failover waits for it, so that each one happens
	// mid-ingest however fast or slow the machine is.
	in.failoversAt([]int{in.total / 3, 2 * in.total / 3}, []int{in.total / 2, 5 * in.total / 6})

	clientErr := make(chan error, 1)
	go func() {
		clientErr <- in.run(ctx, urls, auth.CredsFile(credDir, auth.Admin.String()))
	}()

	var failovers []failover
	for k := range in.gates {
		if err := in.waitAcked(ctx, in.gates[k]); err != nil {
			t.Fatalf("before failover %d: %v", k+1, err)
		}
		if k > 0 {
			// The node stopped last time comes back and catches up first:
			// with one of three down, stopping another would leave no quorum.
			down := failovers[k-1].node
			if err := cl.nodes[down].start(ctx); err != nil {
				t.Fatalf("restart %s: %v", cl.nodes[down].name, err)
			}
			mon.waitAllCurrent(t, ctx)
		}
		failovers = append(failovers, cl.killLeader(t, ctx, mon, in))
		in.release(k)
	}
	if err := <-clientErr; err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ingestEnd := time.Now()

	// Bring the last stopped node back: the stream is whole on all three.
	if err := cl.nodes[failovers[len(failovers)-1].node].start(ctx); err != nil {
		t.Fatal(err)
	}
	mon.waitAllCurrent(t, ctx)

	// Every acknowledged line is in the stream once, at its acknowledged
	// sequence; nothing else is. Read also checks that sequences are dense.
	acked := in.ackedSeqs()
	if len(acked) != in.total {
		t.Fatalf("%d of %d lines acknowledged", len(acked), in.total)
	}
	es, err := eventstore.Open(ctx, mon.js, eventstore.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	last, err := es.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]uint64{}
	var n uint64
	if err := es.Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			n++
			e, err := ledger.DecodeRecorded(r)
			if err != nil {
				return err
			}
			seen[e.Input.ID] = append(seen[e.Input.ID], r.Seq)
		}
		return nil
	}); err != nil {
		t.Fatalf("reading the stream back: %v", err)
	}
	if n != last || n != uint64(in.total) {
		t.Errorf("stream holds %d events up to sequence %d, want %d (one per line)", n, last, in.total)
	}
	lost, dup, moved := 0, 0, 0
	for id, seq := range acked {
		switch got := seen[id]; {
		case len(got) == 0:
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s at seq %d: not in the stream", id, seq)
			}
		case len(got) > 1:
			dup++
			if dup <= 5 {
				t.Errorf("acknowledged %s at seq %d: in the stream %d times, at %v", id, seq, len(got), got)
			}
		case got[0] != seq:
			moved++
			if moved <= 5 {
				t.Errorf("acknowledged %s at seq %d: in the stream at seq %d", id, seq, got[0])
			}
		}
	}
	for id := range seen {
		if _, ok := acked[id]; !ok {
			t.Errorf("the stream holds %s, which no client had acknowledged", id)
		}
	}

	// Every ledger's read models converge to the same digest, equal to a
	// clean rebuild of the whole stream.
	rebuilt, err := ledger.Rebuild(ctx, es, filepath.Join(dir, "rebuilt.db"), ledger.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Checkpoint != last {
		t.Errorf("rebuild reached %d, stream ends at %d", rebuilt.Checkpoint, last)
	}
	for i, l := range ledgers {
		if err := l.Projector().WaitFor(ctx, last); err != nil {
			t.Fatalf("ledger %d read models: %v", i, err)
		}
		d, err := l.Models().Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d.Sum != rebuilt.Sum || d.Checkpoint != rebuilt.Checkpoint {
			t.Errorf("ledger %d read models %s@%d, clean rebuild %s@%d", i, d.Sum, d.Checkpoint, rebuilt.Sum, rebuilt.Checkpoint)
		}
		if rep, err := ledger.Verify(ctx, es, l.Models(), t.TempDir()); err != nil || !rep.Equal {
			t.Errorf("ledger %d verify: %+v %v", i, rep, err)
		}
	}
	// Two writers through leader losses: the chain holds.
	checkChain(t, es)

	for i, f := range failovers {
		if f.ackedAt >= in.total {
			t.Errorf("failover %d came after the ingest: it proves nothing", i+1)
		}
	}
	if t.Failed() {
		return
	}
	st := in.stats()
	t.Logf("%d lines in %d-line batches by %d clients through 2 ledgers: %d events, stream last seq %d, all acknowledged once at their sequence",
		in.total, in.batch, in.clients, n, last)
	t.Logf("ingest %.1fs; %d submissions, %d resubmitted (%d errors, %d unavailable replies); %d duplicate acknowledgements",
		ingestEnd.Sub(in.start).Seconds(), st.submits, st.retries, st.errors, st.unavailable, st.duplicates)
	for why, n := range st.reasons {
		t.Logf("not acknowledged %d times (lines or submissions): %s", n, why)
	}
	for i, f := range failovers {
		var next time.Time
		if i+1 < len(failovers) {
			next = failovers[i+1].at
		}
		role := "stream leader"
		if f.metaLeader {
			role = "stream leader and JetStream meta leader"
		}
		t.Logf("failover %d: stopped %s (%s) at %d acknowledged lines; new stream leader %s elected %s later; "+
			"first acknowledgement of a submission sent after the stop: %s after it; longest time without acknowledgements: %s",
			i+1, cl.nodes[f.node].name, role, f.ackedAt, f.newLeader, f.election.Round(time.Millisecond),
			in.firstAckAfter(f.at).Round(time.Millisecond), in.longestGap(i, f.at, next).Round(time.Millisecond))
	}
	t.Logf("digest %s at seq %d: ledger a = ledger b = clean rebuild", rebuilt.Sum, rebuilt.Checkpoint)
}

// --- the cluster ---

type testCluster struct {
	nodes []*clusterNode
	log   *slog.Logger
}

type clusterNode struct {
	name string
	cfg  natsserver.Config
	mu   sync.Mutex
	srv  *natsserver.Server
}

func (n *clusterNode) start(ctx context.Context) error {
	srv, err := natsserver.Start(ctx, n.cfg)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.srv = srv
	n.mu.Unlock()
	return nil
}

// metaLeader reports whether the node leads JetStream's meta group (which
// creates consumers, among others).
func (n *clusterNode) metaLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv != nil && n.srv.NATS().JetStreamIsLeader()
}

func (n *clusterNode) stop() {
	n.mu.Lock()
	srv := n.srv
	n.srv = nil
	n.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
	}
}

// startCluster starts three JetStream servers clustered on loopback, each
// with its own store, all trusting the operator of m with the same accounts
// and authenticating routes with m's route credentials (as `ledger serve
// --cluster` does).
func startCluster(t *testing.T, ctx context.Context, dir string, m *auth.Material, log *slog.Logger) *testCluster {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(ports[3+i]))
	}
	cl := &testCluster{log: log}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		cl.nodes = append(cl.nodes, &clusterNode{name: name, cfg: natsserver.Config{
			StoreDir: filepath.Join(dir, name), Host: "127.0.0.1", Port: ports[i], SyncAlways: true,
			ServerName: name, Logger: log.With("node", name),
			Auth: &natsserver.Auth{OperatorJWT: m.OperatorJWT, SystemAccount: m.SystemAccount,
				Accounts: m.AccountJWTs, StoreAccount: m.LedgerAccount},
			Cluster: &natsserver.Cluster{Name: "ledger-test", Host: "127.0.0.1", Port: ports[3+i], Routes: routes,
				Username: m.RouteUser, Password: m.RoutePassword},
		}})
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, n := range cl.nodes {
		wg.Go(func() { errs[i] = n.start(ctx) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, n := range cl.nodes {
			n.stop()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return cl
}

func (cl *testCluster) clientURLs() string {
	var us []string
	for _, n := range cl.nodes {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", n.cfg.Port))
	}
	return strings.Join(us, ",")
}

func (cl *testCluster) node(name string) int {
	for i, n := range cl.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// freePorts reserves n loopback ports by listening on them at once, then
// frees them for the servers (a port could be taken in between, which the
// server would report at start).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// failover is one stopped stream leader.
type failover struct {
	node       int
	metaLeader bool // the node also led JetStream's meta group
	at         time.Time
	ackedAt    int
	newLeader  string
	election   time.Duration
}

// killLeader shuts the stream leader down and waits for another node to
// lead the stream (JetStream's leader-elected advisory says when).
func (cl *testCluster) killLeader(t *testing.T, ctx context.Context, mon *monitor, in *ingest) failover {
	t.Helper()
	info := mon.info(t, ctx)
	leader := cl.node(info.Cluster.Leader)
	if leader < 0 {
		t.Fatalf("stream leader %q is none of the nodes", info.Cluster.Leader)
	}
	old := cl.nodes[leader].name
	mon.drainElections()
	f := failover{node: leader, ackedAt: in.ackedCount(), at: time.Now(), metaLeader: cl.nodes[leader].metaLeader()}
	cl.log.Warn("test: stopping the stream leader", "node", old, "meta_leader", f.metaLeader)
	cl.nodes[leader].stop()
	// The advisory is missed when the monitor's own server was the one
	// stopped: stream info, polled meanwhile, is the fallback.
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case e := <-mon.elected:
			if e.leader != old {
				f.newLeader, f.election = e.leader, e.at.Sub(f.at)
				return f
			}
		case <-poll.C:
			if info, err := mon.tryInfo(ctx); err == nil && info.Cluster != nil && info.Cluster.Leader != "" && info.Cluster.Leader != old {
				f.newLeader, f.election = info.Cluster.Leader, time.Since(f.at)
				return f
			}
		case <-ctx.Done():
			t.Fatalf("no new stream leader after stopping %s (%d lines acknowledged)", old, in.ackedCount())
		}
	}
}

// monitor watches the stream from a connection of its own: stream info and
// the leader-elected advisories (which the service identity may read).
type monitor struct {
	js      jetstream.JetStream
	stream  string
	elected chan election
}

type election struct {
	leader string
	at     time.Time
}

func (cl *testCluster) monitor(t *testing.T, creds string) *monitor {
	t.Helper()
	nc, err := nats.Connect(cl.clientURLs(), nats.UserCredentials(creds), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	m := &monitor{js: js, stream: eventstore.DefaultStreamName, elected: make(chan election, 16)}
	if _, err := nc.Subscribe("$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED."+m.stream, func(msg *nats.Msg) {
		var adv struct {
			Leader string `json:"leader"`
		}
		if json.Unmarshal(msg.Data, &adv) == nil {
			select {
			case m.elected <- election{adv.Leader, time.Now()}:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *monitor) drainElections() {
	for {
		select {
		case <-m.elected:
		default:
			return
		}
	}
}

func (m *monitor) tryInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := m.js.Stream(ctx, m.stream)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

func (m *monitor) info(t *testing.T, ctx context.Context) *jetstream.StreamInfo {
	t.Helper()
	for {
		info, err := m.tryInfo(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			return info
		}
		if ctx.Err() != nil {
			t.Fatalf("stream info: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAllCurrent waits until the stream has a leader and both other
// replicas are online and current.
func (m *monitor) waitAllCurrent(t *testing.T, ctx context.Context) {
	t.Helper()
	for {
		info, err := m.tryInfo(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2 &&
			!slices.ContainsFunc(info.Cluster.Replicas, func(p *jetstream.PeerInfo) bool { return !p.Current || p.Offline }) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("stream replicas not current: %v %+v", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- the workload and its clients ---

// clusterWorkload is partners × (offer, enrolment, sales…), with a fraud
// flag on every 7th sale and a cancellation on every 11th, so that tiers
// move up and down. Each partner's lines are in the order they must be
// decided in.
func clusterWorkload(partners, sales int) [][][]byte {
	out := make([][][]byte, partners)
	for p := range partners {
		pid, oid := fmt.Sprintf("CP-%04d", p), fmt.Sprintf("CO-%04d", p)
		ls := [][]byte{offerLine(pid, oid),
			line("enrol-"+pid, domain.TypePartnerEnrolled, t0.Add(time.Hour), map[string]any{"partner_id": pid,
				"name": "Partner " + pid, "account_email": strings.ToLower(pid) + "@example.com"})}
		for s := range sales {
			sid := fmt.Sprintf("%s-S%03d", pid, s)
			at := t0.Add(time.Duration(2+s*5) * time.Hour)
			ls = append(ls, saleLine(sid, oid, int64(1000+(p*37+s*101)%90000), at))
			if s%7 == 3 {
				ls = append(ls, line("fraud-"+sid, domain.TypeSaleFlaggedFraud, at.Add(time.Hour),
					map[string]any{"sale_id": sid, "confidence": domain.ConfidenceConfirmed}))
			}
			if s%11 == 5 {
				ls = append(ls, line("cancel-"+sid, domain.TypePurchaseCancelled, at.Add(2*time.Hour),
					map[string]any{"sale_id": sid, "reason": "accidental"}))
			}
		}
		out[p] = ls
	}
	return out
}

// ingest drives clients that submit batches through the RPC and resubmit
// every batch that is not acknowledged line by line.
type ingest struct {
	clients, batch int
	shards         [][][]byte // per client, in order
	total          int

	// Failover coordination: once gates[k] lines are acknowledged the test
	// stops a leader; until it has (release(k)), no client goes beyond
	// holdAt[k] acknowledged lines.
	gates, holdAt []int
	released      []chan struct{}
	holdStart     []time.Time // when the first client waited at holdAt[k]

	start time.Time
	acked atomic.Int64

	mu      sync.Mutex
	ackSeq  map[string]uint64
	acks    []ackRecord // one per acknowledged submission
	changed chan struct{}
	st      ingestStats
}

type ackRecord struct{ sent, at time.Time }

type ingestStats struct {
	submits, retries, errors, unavailable, duplicates int
	reasons                                           map[string]int // why submissions were not acknowledged
}

func newIngest(partners [][][]byte, clients, batch int) *ingest {
	in := &ingest{clients: clients, batch: batch, ackSeq: map[string]uint64{}, changed: make(chan struct{})}
	in.shards = make([][][]byte, clients)
	// Partner p goes to client p%clients; within a client, partners are
	// interleaved round-robin so that each batch touches many partners.
	for c := range clients {
		var mine [][][]byte
		for p := c; p < len(partners); p += clients {
			mine = append(mine, partners[p])
		}
		for i := 0; ; i++ {
			more := false
			for _, ls := range mine {
				if i < len(ls) {
					in.shards[c] = append(in.shards[c], ls[i])
					more = true
				}
			}
			if !more {
				break
			}
		}
		in.total += len(in.shards[c])
	}
	return in
}

func (in *ingest) failoversAt(gates, holdAt []int) {
	in.gates, in.holdAt = gates, holdAt
	in.released = make([]chan struct{}, len(gates))
	in.holdStart = make([]time.Time, len(gates))
	for k := range in.released {
		in.released[k] = make(chan struct{})
	}
}

func (in *ingest) release(k int) { close(in.released[k]) }

func (in *ingest) run(ctx context.Context, urls, creds string) error {
	in.start = time.Now()
	var wg sync.WaitGroup
	errs := make([]error, in.clients)
	for c := range in.clients {
		wg.Go(func() { errs[c] = in.client(ctx, urls, creds, in.shards[c]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (in *ingest) client(ctx context.Context, urls, creds string, lines [][]byte) error {
	nc, err := nats.Connect(urls, nats.UserCredentials(creds), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer nc.Close()
	client := rpc.NewClient(nc)
	for i := 0; i < len(lines); i += in.batch {
		batch := lines[i:min(i+in.batch, len(lines))]
		for k, hold := range in.holdAt {
			if int(in.acked.Load()) >= hold {
				in.mu.Lock()
				if in.holdStart[k].IsZero() {
					in.holdStart[k] = time.Now()
				}
				in.mu.Unlock()
				select {
				case <-in.released[k]:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return fmt.Errorf("batch at line %d not acknowledged after %d attempts: %w", i, attempt, ctx.Err())
			}
			sent := time.Now()
			// Long enough for the writer's own retries across a failover
			// (a late reply only makes the resubmission a duplicate); a
			// request or reply lost with a server is resubmitted after it.
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			rs, err := client.Submit(actx, batch)
			cancel()
			done, err := in.record(sent, attempt, rs, err)
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	return nil
}

// record notes a submission's outcome: done when every line is
// acknowledged; an error for a line refused for a reason other than
// unavailability (the workload is valid) or a sequence that differs from an
// earlier acknowledgement of the same line.
func (in *ingest) record(sent time.Time, attempt int, rs []ledger.LineResult, err error) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.st.submits++
	if attempt > 0 {
		in.st.retries++
	}
	if err != nil {
		in.st.errors++
		in.reason(err.Error())
		return false, nil
	}
	for _, r := range rs {
		if !r.OK && r.Code != domain.CodeUnavailable {
			return false, fmt.Errorf("line %s refused: %s %s", r.ID, r.Code, r.Error)
		}
	}
	ok := 0
	for _, r := range rs {
		if !r.OK {
			in.st.unavailable++
			in.reason(r.Error)
			continue
		}
		ok++
		if r.Duplicate {
			in.st.duplicates++
		}
		if prev, seen := in.ackSeq[r.ID]; seen && prev != r.Seq {
			return false, fmt.Errorf("line %s acknowledged at seq %d, then at seq %d", r.ID, prev, r.Seq)
		} else if !seen {
			in.ackSeq[r.ID] = r.Seq
			in.acked.Add(1)
		}
	}
	if ok < len(rs) {
		return false, nil
	}
	in.acks = append(in.acks, ackRecord{sent: sent, at: time.Now()})
	close(in.changed)
	in.changed = make(chan struct{})
	return true, nil
}

var batchID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// reason counts a failure by its message, batch ids and numbers left out.
func (in *ingest) reason(msg string) {
	if in.st.reasons == nil {
		in.st.reasons = map[string]int{}
	}
	msg = batchID.ReplaceAllString(msg, "<id>")
	msg = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, msg)
	in.st.reasons[msg]++
}

func (in *ingest) ackedCount() int { return int(in.acked.Load()) }

func (in *ingest) waitAcked(ctx context.Context, n int) error {
	for {
		in.mu.Lock()
		got, ch := len(in.ackSeq), in.changed
		in.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d lines acknowledged: %w", got, n, ctx.Err())
		}
	}
}

func (in *ingest) ackedSeqs() map[string]uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return maps.Clone(in.ackSeq)
}

func (in *ingest) stats() ingestStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.st
}

// firstAckAfter is how long after t the first submission sent after t was
// acknowledged.
func (in *ingest) firstAckAfter(t time.Time) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	best := time.Duration(-1)
	for _, a := range in.acks {
		if a.sent.After(t) && (best < 0 || a.at.Sub(t) < best) {
			best = a.at.Sub(t)
		}
	}
	return best
}

// longestGap is the longest time without any acknowledgement after failover
// k (stopped at t), until the next failover or a client's waiting for it
// (next, if not zero) or the end of ingest: the stretch the failover can be
// blamed for.
func (in *ingest) longestGap(k int, t, next time.Time) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	until := next
	if k+1 < len(in.holdStart) && !in.holdStart[k+1].IsZero() && (until.IsZero() || in.holdStart[k+1].Before(until)) {
		until = in.holdStart[k+1]
	}
	var ats []time.Time
	for _, a := range in.acks {
		if !a.at.Before(t) && (until.IsZero() || a.at.Before(until)) {
			ats = append(ats, a.at)
		}
	}
	slices.SortFunc(ats, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	prev := t
	for _, at := range ats {
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return gap
}

// testLogs collects log lines for a failing test's report.
type testLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLogs) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A stopped node's peers retry their routes to it every second: expected.
	ls := slices.DeleteFunc(strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n"),
		func(s string) bool { return strings.Contains(s, "Error trying to connect to route") })
	if n >= 0 {
		ls = ls[max(0, len(ls)-n):]
	}
	return strings.Join(ls, "\n")
}
