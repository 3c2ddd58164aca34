package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/projections"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// connect opens a client connection to the bench's ledger as admin.
func connect(l *app.Ledger) (*nats.Conn, error) {
	return nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), "admin")))
}

// rawPublish is the raw limit of ingest: JetStream async publish of the same
// bytes into a stream of the same kind (file storage, fsync on every write as
// the ledger's server), each message acknowledged — no validation, no
// idempotency, no batching. It runs on a server of its own, over TCP like the
// ledger's clients, so that nothing of the ledger's is in the way. Only the
// first limit lines are published (all when limit ≤ 0 or beyond the log):
// at one fsync per message it is by far the slowest phase, and its rate
// does not depend on how many messages it is measured over.
func rawPublish(ctx context.Context, dir string, log *inputLog, limit int) (Rate, error) {
	if limit <= 0 || limit > log.lines {
		limit = log.lines
	}
	srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: filepath.Join(dir, "raw-jetstream"), Port: -1, SyncAlways: true, Open: true})
	if err != nil {
		return Rate{}, err
	}
	defer srv.Shutdown()
	defer os.RemoveAll(filepath.Join(dir, "raw-jetstream"))
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return Rate{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return Rate{}, err
	}
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAWBENCH", Subjects: []string{"rawbench.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		return Rate{}, err
	}
	defer js.DeleteStream(context.Background(), s.CachedInfo().Config.Name)
	start := time.Now()
	i := 0
	err = log.each(log.path, func(line []byte) error {
		if i == limit {
			return errEnough
		}
		i++
		_, err := js.PublishAsync("rawbench."+strconv.Itoa(i%1024), line, jetstream.WithStallWait(time.Minute))
		return err
	})
	if err != nil && !errors.Is(err, errEnough) {
		return Rate{}, err
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return Rate{}, ctx.Err()
	}
	d := time.Since(start)
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != uint64(limit) {
		return Rate{}, fmt.Errorf("raw stream holds %v messages (%v), want %d", info, err, limit)
	}
	return rate(limit, d), nil
}

// errEnough stops reading the log early.
var errEnough = errors.New("enough lines")

// ingest submits the log through the RPC, as upstream systems would: the
// log split by partner across clients (each partner's events stay in order),
// requests of up to 1000 lines.
func ingest(ctx context.Context, l *app.Ledger, log *inputLog) (Rate, int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	rejected := 0
	start := time.Now()
	for _, shard := range log.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := submitFile(ctx, l, log, shard, func(r ledger.LineResult) {
				mu.Lock()
				defer mu.Unlock()
				if rejected < 5 {
					fmt.Fprintf(os.Stderr, "bench: rejected: %s %s\n", r.Code, r.Error)
				}
				rejected++
			})
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return rate(log.lines, time.Since(start)), rejected, firstErr
}

// submitFile streams one shard of the log to the ledger in requests of up to
// MaxLines lines, on its own connection.
func submitFile(ctx context.Context, l *app.Ledger, log *inputLog, path string, rejected func(ledger.LineResult)) error {
	nc, err := connect(l)
	if err != nil {
		return err
	}
	defer nc.Close()
	client := rpc.NewClient(nc)
	var batch [][]byte
	send := func() error {
		rs, err := client.Submit(ctx, batch)
		for _, r := range rs {
			if !r.OK {
				rejected(r)
			}
		}
		batch = batch[:0]
		return err
	}
	err = log.each(path, func(line []byte) error {
		batch = append(batch, append([]byte(nil), line...))
		if len(batch) == ledger.MaxLines {
			return send()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	return err
}

// rawFold is the raw limit of projection: the ledger's stream read with an
// ordered consumer and written to bbolt a batch per transaction with the
// checkpoint, without decoding anything.
func rawFold(ctx context.Context, l *app.Ledger, dir string) (Rate, error) {
	path := filepath.Join(dir, "rawfold.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true, InitialMmapSize: 64 << 20})
	if err != nil {
		return Rate{}, err
	}
	defer os.Remove(path)
	defer db.Close()
	n := 0
	start := time.Now()
	err = l.EventStore().Read(ctx, 1, "", func(rs []eventstore.Record) error {
		n += len(rs)
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("events"))
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := b.Put(binary.BigEndian.AppendUint64(nil, r.Seq), r.Data); err != nil {
					return err
				}
			}
			meta, err := tx.CreateBucketIfNotExists([]byte("meta"))
			if err != nil {
				return err
			}
			return meta.Put([]byte("checkpoint"), binary.BigEndian.AppendUint64(nil, rs[len(rs)-1].Seq))
		})
	})
	return rate(n, time.Since(start)), err
}

// projection runs the ledger's projector over the whole log into fresh read
// models, as a new replica would on its first start.
func projection(ctx context.Context, l *app.Ledger, dir string) (Rate, error) {
	path := filepath.Join(dir, "projection.db")
	store, err := projections.Open(path)
	if err != nil {
		return Rate{}, err
	}
	defer os.Remove(path)
	defer store.Close()
	last, err := l.EventStore().LastSeq(ctx)
	if err != nil {
		return Rate{}, err
	}
	proj, err := ledger.NewProjector(l.EventStore(), func() *projections.Store { return store }, l.Logger())
	if err != nil {
		return Rate{}, err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go proj.Run(pctx)
	if err := proj.WaitFor(ctx, last); err != nil {
		return Rate{}, err
	}
	return rate(int(last), time.Since(start)), nil
}

// rebuild is a full rebuild into a new file (ledger replay / rebuild).
func rebuild(ctx context.Context, l *app.Ledger, dir string) (Rate, error) {
	path := filepath.Join(dir, "rebuild.db")
	defer os.Remove(path)
	start := time.Now()
	d, err := ledger.Rebuild(ctx, l.EventStore(), path, ledger.RebuildOptions{})
	if err != nil {
		return Rate{}, err
	}
	return rate(int(d.Checkpoint), time.Since(start)), nil
}

// backupRestore writes the live read models' backup and restores it into a
// new file.
func backupRestore(ctx context.Context, l *app.Ledger, dir string) (RestoreStats, error) {
	b, err := l.Backup(ctx)
	if err != nil {
		return RestoreStats{}, err
	}
	path := filepath.Join(dir, "restored.db")
	defer os.Remove(path)
	start := time.Now()
	cp, err := l.RestoreBackup(ctx, path)
	if err != nil {
		return RestoreStats{}, err
	}
	took := time.Since(start)
	return RestoreStats{Bytes: b.Bytes, BackupSeconds: float64(b.Millis) / 1000, RestoreSeconds: took.Seconds(),
		EventsPerSec: rate(int(cp), took).EventsPerSec}, nil
}

// queries runs tier and benefits queries over the RPC from concurrent
// clients, each on its own connection, for random partners and instants.
func queries(ctx context.Context, l *app.Ledger, clients int, dur time.Duration, seed int64) (QueryStats, error) {
	var ids []string
	if err := l.Models().PartnerIDs(func(id string) error { ids = append(ids, id); return nil }); err != nil {
		return QueryStats{}, err
	}
	if len(ids) == 0 {
		return QueryStats{}, fmt.Errorf("no partners")
	}
	raw, rawImport, err := rawRequests(ctx, l, clients, dur/2)
	if err != nil {
		return QueryStats{}, fmt.Errorf("raw requests: %w", err)
	}
	warm, err := warmUp(ctx, l, ids, clients)
	if err != nil {
		return QueryStats{}, err
	}
	from, to := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix()
	var mu sync.Mutex
	var tier, benefits []time.Duration
	errs := 0
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := connect(l)
			if err != nil {
				mu.Lock()
				errs++
				mu.Unlock()
				return
			}
			defer nc.Close()
			client := rpc.NewClient(nc)
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(c)))
			var myTier, myBenefits []time.Duration
			myErrs := 0
			for i := 0; time.Now().Before(deadline); i++ {
				q := ledger.Query{PartnerID: ids[rng.IntN(len(ids))], At: time.Unix(from+rng.Int64N(to-from), 0).UTC().Format(time.RFC3339)}
				endpoint := rpc.EndpointTier
				if i%2 == 1 {
					endpoint = rpc.EndpointBenefits
				}
				t0 := time.Now()
				_, err := client.Query(ctx, endpoint, q)
				d := time.Since(t0)
				switch {
				case err != nil:
					myErrs++
				case endpoint == rpc.EndpointTier:
					myTier = append(myTier, d)
				default:
					myBenefits = append(myBenefits, d)
				}
			}
			mu.Lock()
			tier, benefits, errs = append(tier, myTier...), append(benefits, myBenefits...), errs+myErrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	all := append(slices.Clone(tier), benefits...)
	qs := QueryStats{Clients: clients, Count: len(all), QPS: int64(float64(len(all)) / took.Seconds()), Errors: errs,
		WarmupSeconds: warm.Seconds(), Partners: len(ids), Raw: raw, RawImport: rawImport}
	qs.P50ms, qs.P99ms = percentile(all, 50), percentile(all, 99)
	qs.Ratio, qs.ImportRatio = ratioOf(float64(qs.QPS), float64(raw.QPS)), ratioOf(float64(qs.QPS), float64(rawImport.QPS))
	qs.P99Ratio, qs.ImportP99Ratio = ratioOf(qs.P99ms, raw.P99ms), ratioOf(qs.P99ms, rawImport.P99ms)
	qs.Tier = Latency{percentile(tier, 50), percentile(tier, 99)}
	qs.Benefit = Latency{percentile(benefits, 50), percentile(benefits, 99)}
	return qs, nil
}

func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i].Microseconds()) / 1000
}

// peakRSSMB is the process's peak resident set (VmHWM): every page it
// touched, the read model files bbolt maps included.
func peakRSSMB() int64 { return procStatusMB("VmHWM:") }

// procStatusMB reads one "kB" field of /proc/self/status, in MB.
func procStatusMB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb / 1024
		}
	}
	return -1
}

// memSampler records, by sampling (the kernel keeps no peak of either), the
// peak of the process's anonymous memory (RssAnon: heap and stacks — not the
// file pages bbolt maps, which the kernel can drop and reread), overall and
// per phase, and the peak of its mapped file pages (RssFile: the binary and
// the read-model files).
type memSampler struct {
	mu       sync.Mutex
	phase    string
	byPhase  map[string]int64
	fileBy   map[string]int64
	anon     int64
	file     int64
	stop     chan struct{}
	finished chan struct{}
}

func sampleMemory() *memSampler {
	m := &memSampler{byPhase: map[string]int64{}, fileBy: map[string]int64{}, stop: make(chan struct{}), finished: make(chan struct{})}
	m.sample()
	go func() {
		defer close(m.finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				m.sample()
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	anon, file := procStatusMB("RssAnon:"), procStatusMB("RssFile:")
	m.mu.Lock()
	defer m.mu.Unlock()
	m.anon, m.file = max(m.anon, anon), max(m.file, file)
	if m.phase != "" {
		m.byPhase[m.phase] = max(m.byPhase[m.phase], anon)
		m.fileBy[m.phase] = max(m.fileBy[m.phase], file)
	}
}

// enter starts counting a phase's own peak (the previous phase's ends).
func (m *memSampler) enter(phase string) {
	m.sample()
	m.mu.Lock()
	m.phase = phase
	m.mu.Unlock()
	m.sample()
}

// peaks stops sampling and returns the peaks in MB: anonymous and file
// pages overall, and each by phase.
func (m *memSampler) peaks() (anon, file int64, anonBy, fileBy map[string]int64) {
	close(m.stop)
	<-m.finished
	return m.anon, m.file, m.byPhase, m.fileBy
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// warmUp asks once for every partner's tier, as a serving ledger would have
// been asked already: the measured phase then sees the steady state, where
// each partner's compiled view is cached until its next event. The time it
// takes is the cold cost of compiling every partner once.
func warmUp(ctx context.Context, l *app.Ledger, ids []string, clients int) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := connect(l)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			client := rpc.NewClient(nc)
			for i := c; i < len(ids); i += clients {
				if _, err := client.Query(ctx, rpc.EndpointTier, ledger.Query{PartnerID: ids[i]}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// rawRequests is the raw limit of queries: a micro service on the same
// server that answers every request at once with a document of a tier
// document's size, asked by the same number of clients over their own
// connections, measured twice: from inside the ledger's account, and from
// a role's account through its import. Whatever the ledger's queries add is
// the difference.
func rawRequests(ctx context.Context, l *app.Ledger, clients int, dur time.Duration) (direct, imported RawRequests, err error) {
	srv, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), "ledger")))
	if err != nil {
		return direct, imported, err
	}
	defer srv.Close()
	doc := make([]byte, 420)
	for i := range doc {
		doc[i] = 'x'
	}
	svc, err := micro.AddService(srv, micro.Config{Name: "benchecho", Version: "1.0.0",
		Endpoint: &micro.EndpointConfig{Subject: "benchecho.tier", Handler: micro.HandlerFunc(func(r micro.Request) { r.Respond(doc) })}})
	if err != nil {
		return direct, imported, err
	}
	defer svc.Stop()
	// From inside the ledger's account: the server's own floor.
	direct, err = requestLoad(ctx, l.ClientURL(), "ledger", l, "benchecho.tier", clients, dur)
	if err != nil {
		return direct, imported, err
	}
	// From the admin's account, as the queries come: the service's PING
	// reaches it through the role's import of $SRV.> (answered by micro
	// with a small document, no work), so the difference is the import.
	imported, err = requestLoad(ctx, l.ClientURL(), "admin", l, "$SRV.PING.benchecho", clients, dur)
	return direct, imported, err
}

// requestLoad runs clients request loops (as role) on subject for dur and
// reports their rate and latency.
func requestLoad(ctx context.Context, url, role string, l *app.Ledger, subject string, clients int, dur time.Duration) (RawRequests, error) {
	creds := nats.UserCredentials(app.CredsFile(l.DataDir(), role))
	var mu sync.Mutex
	var all []time.Duration
	var failed error
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := nats.Connect(url, creds)
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			defer nc.Close()
			var mine []time.Duration
			req := []byte(`{"partner_id":"P-00001","at":"2024-05-10T00:00:00Z"}`)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if _, err := nc.RequestWithContext(ctx, subject, req); err != nil {
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		return RawRequests{}, fmt.Errorf("no request to %s answered (%v)", subject, failed)
	}
	return RawRequests{QPS: int64(float64(len(all)) / time.Since(start).Seconds()), P50ms: percentile(all, 50), P99ms: percentile(all, 99)}, nil
}
