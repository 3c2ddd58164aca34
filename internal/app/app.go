// Package app assembles a running ledger: the NATS connection (an embedded
// server with JetStream, or an external one), the event store, the read
// models and their projector, the writer, the queries and the RPC service,
// and takes them down again in the order that loses nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/httpapi"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/metrics"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/projections"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config is what `ledger serve` takes.
type Config struct {
	DataDir    string // JetStream store and read models; default ./ledger-data
	NATSURL    string // external NATS; empty runs an embedded server
	Listen     string // host:port of the embedded server; default 127.0.0.1:4222
	Policy     *domain.Policy
	NoSync     bool // embedded server without fsync per write (benchmarks of the raw limit only)
	Logger     *slog.Logger
	NATSOpts   []nats.Option // extra client options (credentials) for an external server
	StreamOpts []eventstore.Option
	Clock      func() time.Time // the ledger's clock (default time.Now); tests and benchmarks fix it

	// TLS on the embedded server's client listener (PEM files; both or none).
	TLSCert, TLSKey string

	// HTTP is the host:port of the HTTP listener (http.go); empty: none.
	HTTP         string
	HTTPSettings httpapi.Settings

	// Cluster makes the embedded server a node of a NATS cluster
	// (cluster.go); nil runs a single node.
	Cluster *Cluster

	// RPCOptions are extra options of the RPC service (rpc.WithLimits,
	// rpc.WithTimeouts); tests lower limits with them.
	RPCOptions []rpc.Option

	// MaxPayload replaces the embedded server's max payload (0: the
	// default, natsserver.MaxPayload); tests lower it.
	MaxPayload int32

	// Storage limits of the embedded server (natsserver.Config): 0 takes
	// natsserver.DefaultMaxStore and DefaultMinFreeDisk. An append that
	// would exceed either is refused with storage_full.
	MaxStore, MinFreeDisk int64
	// Intake are the intake's limits (zero fields: the defaults of
	// intake.Settings).
	Intake intake.Settings
	// QueryCacheBytes bounds the query cache of compiled partner views
	// (0: ledger.DefaultQueryCacheBytes; negative: no cache).
	QueryCacheBytes int64
	// NoDrain runs the ledger without deciding the intake: it serves
	// queries and submissions, and publishes queue up for the ledgers that
	// drain (`ledger serve --intake-drain=false`).
	NoDrain bool
	// BackupInterval is how often, at most, the read models' backup is
	// replaced (backup.go): 0 is defaultBackupInterval, negative never
	// (restores still use a backup another run wrote).
	BackupInterval time.Duration
}

// Ledger is a running ledger.
type Ledger struct {
	cfg     Config
	log     *slog.Logger
	srv     *natsserver.Server
	nc      *nats.Conn
	es      *eventstore.Store
	models  atomic.Pointer[projections.Store]
	proj    *ledger.Projector
	writer  *ledger.Writer
	q       *ledger.Queries
	rpc     *rpc.Server
	gate    *rpc.ReaderGate
	http    *httpapi.Server
	metrics *metrics.Metrics

	backups       jetstream.ObjectStore // the read models' backup (backup.go)
	backupsWG     sync.WaitGroup
	cancelBackups context.CancelFunc

	intake        *intake.Streams
	drainer       *intake.Drainer
	cancelDrainer context.CancelFunc
	drainerDone   chan struct{}

	cancelWriter context.CancelFunc
	wg           sync.WaitGroup
	projErr      chan error
	closeOnce    sync.Once

	projMu     sync.Mutex // guards the projector's run
	cancelProj context.CancelFunc
	projDone   chan struct{}
	adminMu    sync.Mutex // one rebuild or verify at a time (TryLock: others are answered busy)

	lock *os.File // the data directory's lock (lock.go), held until Close
}

// Paths inside the data directory.
func storeDir(data string) string   { return filepath.Join(data, "jetstream") }
func modelsPath(data string) string { return filepath.Join(data, "readmodels.db") }

// Start brings a ledger up and returns once it accepts requests: the read
// models have caught up with the log, so the writer's idempotency index is
// complete.
func Start(ctx context.Context, cfg Config) (*Ledger, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "ledger-data"
	}
	if cfg.Policy == nil {
		cfg.Policy = domain.DefaultPolicy()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Ledger{cfg: cfg, log: cfg.Logger, projErr: make(chan error, 1)}
	if err := l.start(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Ledger) start(ctx context.Context) error {
	cfg := l.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// The lock comes first: a second process on the same directory must
	// not touch the credentials, the JetStream store or the read models.
	var err error
	if l.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return err
	}
	if err := removeTemps(cfg.DataDir, l.log); err != nil {
		return err
	}
	if cfg.NATSURL == "" {
		err = l.startEmbedded(ctx) // credentials, server, in-process connection: auth.go
	} else {
		l.nc, err = nats.Connect(cfg.NATSURL, append([]nats.Option{nats.Name("ledger"), nats.MaxReconnects(-1),
			nats.CustomInboxPrefix(serviceInboxPrefix)}, cfg.NATSOpts...)...)
	}
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	js, err := jetstream.New(l.nc)
	if err != nil {
		return err
	}
	streamOpts := []eventstore.Option{eventstore.WithLogger(l.log)}
	if l.srv != nil {
		// Refuse an append the store has no room for before the server
		// finds out half-way through storing it (natsserver.RoomFor).
		streamOpts = append(streamOpts, eventstore.WithRoomCheck(l.srv.RoomFor))
	}
	if l.es, err = l.openStream(ctx, js, append(streamOpts, cfg.StreamOpts...)); err != nil {
		return err
	}
	stream, err := js.Stream(ctx, l.es.StreamName())
	if err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	// The backup and the intake keep the event stream's replicas.
	replicas := stream.CachedInfo().Config.Replicas
	if l.backups, err = openBackups(ctx, js, replicas); err != nil {
		return err
	}
	models, err := l.openModels(ctx, modelsPath(cfg.DataDir))
	if err != nil {
		return err
	}
	l.models.Store(models)
	get := l.models.Load
	if l.proj, err = ledger.NewProjector(l.es, get, l.log.With("component", "projector")); err != nil {
		return err
	}
	// The log is checked for lost events before the projector follows it
	// and the writer appends to it. A damaged log does not stop the start:
	// the projector stops before the damage, stats and the log error say
	// what is wrong, queries answer log_damaged and submissions are refused
	// until it is repaired.
	last, err := l.proj.CheckLog(ctx)
	if err != nil && !ledger.IsDamaged(err) {
		return err
	}
	l.startProjector()
	if err := l.catchUp(ctx, last); err != nil && !ledger.IsDamaged(err) {
		return err
	}
	l.writer = ledger.NewWriter(cfg.Policy, l.es, get, l.proj, last, l.log.With("component", "writer"))
	if cfg.Clock != nil {
		l.writer.SetClock(cfg.Clock)
	}
	// The writer feeds the metrics of every submission path (RPC, HTTP,
	// intake): each line's answer passes through it once.
	l.metrics = metrics.New(l.projectionLag)
	l.metrics.EnableWriter()
	l.writer.SetObserver(l.metrics)
	wctx, wcancel := context.WithCancel(context.Background())
	l.cancelWriter = wcancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.writer.Run(wctx)
	}()
	l.q = ledger.NewQueries(cfg.Policy, l.es, get, l.proj, l.writer.LastSeq, cfg.QueryCacheBytes)
	if l.gate, err = rpc.StartReaderGate(l.nc, l.es.StreamName(), l.log.With("component", "readers")); err != nil {
		return err
	}
	if err := l.openIntake(ctx, js, replicas); err != nil {
		return err
	}
	if l.rpc, err = rpc.Register(l.nc, l.writer, l.q, l.log.With("component", "rpc"),
		append([]rpc.Option{rpc.WithAdmin(l), rpc.WithIntake(l), rpc.WithObserver(l.metrics)}, cfg.RPCOptions...)...); err != nil {
		return err
	}
	if !cfg.NoDrain {
		l.startDrainer()
	}
	l.metrics.EnableIntakeFunc(l.intakeGauges)
	l.startBackups()
	return l.startHTTP()
}

// startBackups runs runBackups until Close (not when BackupInterval is
// negative).
func (l *Ledger) startBackups() {
	interval := l.cfg.BackupInterval
	if interval < 0 {
		return
	}
	if interval == 0 {
		interval = defaultBackupInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelBackups = cancel
	l.backupsWG.Add(1)
	go func() {
		defer l.backupsWG.Done()
		l.runBackups(ctx, interval)
	}()
}

// catchUp waits for the projector to fold the log up to last, reporting
// progress on a long recovery.
func (l *Ledger) catchUp(ctx context.Context, last uint64) error {
	start := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := l.proj.WaitFor(wctx, last)
		cancel()
		if err == nil {
			if last > 0 {
				l.log.Info("read models caught up with the log", "seq", last, "took", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("read models cannot catch up with the log: %w", err)
		}
		l.log.Info("folding the log into the read models", "at", l.proj.Checkpoint(), "of", last)
	}
}

// openModels opens the read models. When there is no file (a new replica, a
// lost disk) or the existing one is of another schema or damaged (moved
// aside), it restores the backup if one can be trusted for this log
// (backup.go), else starts a fresh file; the projector then folds the log
// from the file's checkpoint. The file is checked through first
// (projections.Check): bbolt itself crashes the process on a truncated or
// garbled file instead of reporting it.
func (l *Ledger) openModels(ctx context.Context, path string) (*projections.Store, error) {
	_, statErr := os.Stat(path)
	if statErr == nil {
		err := projections.Check(path)
		if errors.Is(err, projections.ErrInUse) {
			return nil, err // another ledger has it open: not ours to move aside
		}
		if err == nil {
			var s *projections.Store
			if s, err = projections.Open(path); err == nil {
				return s, nil
			}
		}
		aside := fmt.Sprintf("%s.broken-%d", path, time.Now().Unix())
		l.log.Warn("read models unusable; restoring or rebuilding them from the log", "path", path, "err", err, "moved_to", aside)
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("%w (and cannot move it aside: %v)", err, rerr)
		}
	} else if !errors.Is(statErr, os.ErrNotExist) {
		return nil, fmt.Errorf("read models: %w", statErr)
	}
	l.restoreModels(ctx, path)
	return projections.Open(path)
}

// startProjector runs the projector until stopProjector.
func (l *Ledger) startProjector() {
	l.projMu.Lock()
	defer l.projMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.cancelProj, l.projDone = cancel, done
	go func() {
		defer close(done)
		if err := l.proj.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			select {
			case l.projErr <- err:
			default:
			}
		}
	}()
}

// stopProjector stops the projector and waits for it.
func (l *Ledger) stopProjector() {
	l.projMu.Lock()
	defer l.projMu.Unlock()
	if l.cancelProj != nil {
		l.cancelProj()
		<-l.projDone
		l.cancelProj = nil
	}
}

// PauseProjector stops folding the log into the read models until the
// returned resume is called: a seam for tests that need read models behind
// the log (queries then wait, and answer projection_behind).
func (l *Ledger) PauseProjector() (resume func()) {
	l.stopProjector()
	return l.startProjector
}

// ClientURL is where clients connect (the embedded server's, or the external URL).
func (l *Ledger) ClientURL() string {
	if l.srv != nil {
		return l.srv.ClientURL()
	}
	return l.cfg.NATSURL
}

// Writer, Queries and Models expose the parts, for tests and benchmarks.
func (l *Ledger) Writer() *ledger.Writer        { return l.writer }
func (l *Ledger) Queries() *ledger.Queries      { return l.q }
func (l *Ledger) Models() *projections.Store    { return l.models.Load() }
func (l *Ledger) Projector() *ledger.Projector  { return l.proj }
func (l *Ledger) EventStore() *eventstore.Store { return l.es }

// DataDir is the ledger's data directory.
func (l *Ledger) DataDir() string { return l.cfg.DataDir }

// Logger is the ledger's logger.
func (l *Ledger) Logger() *slog.Logger { return l.log }

// ProjectorFailed delivers a projector failure (a damaged log).
func (l *Ledger) ProjectorFailed() <-chan error { return l.projErr }

// Close stops the ledger in the order that loses nothing: stop taking
// requests and let in-flight ones finish, stop the writer, let the read models
// catch up with what was appended, then close the files and the server.
func (l *Ledger) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.stopHTTP()
		if l.cancelBackups != nil {
			l.cancelBackups()
			l.backupsWG.Wait()
		}
		l.stopDrainer()
		if l.rpc != nil {
			l.rpc.Stop()
		}
		if l.gate != nil {
			l.gate.Stop()
		}
		if l.cancelWriter != nil {
			l.cancelWriter()
		}
		if l.writer != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			l.proj.WaitFor(ctx, l.writer.LastSeq())
			cancel()
		}
		l.stopProjector()
		l.wg.Wait()
		if l.nc != nil {
			// Requests are finished and the writer stopped: flush what is
			// buffered and close (Drain is asynchronous and would race the
			// server's shutdown).
			l.nc.Flush()
			l.nc.Close()
		}
		if m := l.models.Load(); m != nil {
			err = m.Close()
		}
		if l.srv != nil {
			l.srv.Shutdown()
		}
		if l.lock != nil {
			l.lock.Close() // releases the flock
		}
	})
	return err
}
