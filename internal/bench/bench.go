// Package bench measures the ledger against the raw limits of its parts in
// one run, on one machine: JetStream publish and ordered-consumer → bbolt
// folding with no ledger logic, next to the ledger's ingest, projection,
// rebuild and queries over the same generated log. A shared, noisy machine
// makes absolute numbers weak; the ratios are what to watch.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// Config is a bench run.
type Config struct {
	Events   int
	Partners int
	Clients  int // concurrent query (and submit) clients
	Seed     int64
	Queries  time.Duration // how long to run the query phase
	Dir      string        // working directory (default: a temporary one, removed after)
	Log      io.Writer     // progress lines for people (nil: none)
	Profile  string        // directory for a CPU profile of each phase (PHASE.prof); "" for none
	// RawPublishLines is how many lines the raw per-message publish is
	// measured over (≤ 0: DefaultRawPublishLines; more than the log: all).
	RawPublishLines int
	// IntakeLines is how many lines the intake phase publishes and drains
	// (≤ 0: DefaultIntakeLines; more than the log: all).
	IntakeLines int
}

// DefaultRawPublishLines bounds the raw per-message publish: at one fsync
// per message (~2,500/s here) the whole of a 1M-event log took ~400 s, most
// of a bench run, and the rate is the same over a sample.
const DefaultRawPublishLines = 50_000

// Rate is a throughput next to the raw limit it is compared with.
type Rate struct {
	EventsPerSec    int64   `json:"events_per_s"`
	RawEventsPerSec int64   `json:"raw_events_per_s,omitempty"`
	Ratio           float64 `json:"ratio,omitempty"`
	Seconds         float64 `json:"seconds"`

	// The ceilings of the ledger's own design, next to the raw limits
	// above: for ingest, atomic batch publish of the same bytes (1,000 a
	// batch, one in flight, SyncAlways, a server of its own); for
	// projection and rebuild, an ordered read of the stream with every
	// event decoded.
	// CPUMicrosPerEvent is the process's CPU time over the phase (user +
	// system, every goroutine: the embedded server and the bench's own
	// clients included) per event.
	CPUMicrosPerEvent float64 `json:"cpu_us_per_event,omitempty"`

	RawBatchEventsPerSec   int64   `json:"raw_batch_events_per_s,omitempty"`
	BatchRatio             float64 `json:"batch_ratio,omitempty"`
	ReadDecodeEventsPerSec int64   `json:"read_decode_events_per_s,omitempty"`
	ReadDecodeRatio        float64 `json:"read_decode_ratio,omitempty"`
}

// RestoreStats are the backup phase's figures: the read models' backup
// written to JetStream's object store, then restored into a new file as a
// start without read models does (the object's SHA-256, the file's
// structure and the log's record at its checkpoint checked), next to the
// full rebuild of the same log.
type RestoreStats struct {
	Bytes          int64   `json:"bytes"`
	BackupSeconds  float64 `json:"backup_seconds"`
	RestoreSeconds float64 `json:"restore_seconds"`
	// EventsPerSec is the events the restored file holds per second of
	// restore; RebuildRatio is that over the rebuild's rate: how much
	// faster a recovery from the backup is than folding the whole log.
	EventsPerSec int64   `json:"events_per_s"`
	RebuildRatio float64 `json:"rebuild_ratio"`
}

// QueryStats are the query phase's figures.
type QueryStats struct {
	Clients int     `json:"clients"`
	Count   int     `json:"count"`
	QPS     int64   `json:"qps"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	Tier    Latency `json:"tier"`
	Benefit Latency `json:"benefits"`
	Errors  int     `json:"errors"`
	// Every partner is asked once before the measured phase (compiling
	// each partner's view cold), as a serving ledger would have been.
	Partners      int     `json:"partners"`
	WarmupSeconds float64 `json:"warmup_s"`
	// Raw is request/reply through the same server to a service that does
	// nothing, from as many clients: the floor under the query figures.
	Raw RawRequests `json:"raw"`
	// RawImport is the same do-nothing request as a client role makes it:
	// from the role's own account through its service import into the
	// ledger's (internal/auth), the path every query takes since the
	// isolation of roles. Ratio and ImportRatio are the queries' qps over
	// each; P99Ratio and ImportP99Ratio their p99 over each.
	RawImport      RawRequests `json:"raw_import"`
	Ratio          float64     `json:"ratio"`
	ImportRatio    float64     `json:"import_ratio"`
	P99Ratio       float64     `json:"p99_ratio"`
	ImportP99Ratio float64     `json:"import_p99_ratio"`
}

// RawRequests are the raw request/reply figures.
type RawRequests struct {
	QPS   int64   `json:"qps"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

// Latency is one query kind's latency.
type Latency struct {
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

// Report is the bench document.
type Report struct {
	Events     int          `json:"events"`
	Partners   int          `json:"partners"`
	Ingest     Rate         `json:"ingest"`
	Projection Rate         `json:"projection"`
	Rebuild    Rate         `json:"rebuild"`
	Restore    RestoreStats `json:"restore"`
	Query      QueryStats   `json:"query"`
	PeakRSSMB  int64        `json:"peak_rss_mb"`  // VmHWM: includes the bbolt files' mapped pages
	PeakAnonMB int64        `json:"peak_anon_mb"` // sampled RssAnon: heap and stacks
	// PeakFileMB is the sampled peak of the mapped file pages (RssFile): the
	// binary and the read-model files, whose pages the stores hand back to
	// the kernel every half second.
	PeakFileMB int64 `json:"peak_file_mb"`
	// PeakAnonByPhaseMB and PeakFileByPhaseMB are each measured phase's
	// peaks of the two.
	PeakAnonByPhaseMB map[string]int64 `json:"peak_anon_by_phase_mb"`
	PeakFileByPhaseMB map[string]int64 `json:"peak_file_by_phase_mb"`
	Rejected          int              `json:"rejected"`
	Machine           string           `json:"machine"`

	// The live read models after ingest: the file, the bytes in use by
	// each top-level bucket, and the file per event.
	ReadModelBytes         int64            `json:"read_model_bytes"`
	ReadModelFreeBytes     int64            `json:"read_model_free_bytes"`   // of ReadModelBytes, in free pages
	ReadModelBuckets       map[string]int64 `json:"read_model_buckets"`      // bytes in use by each bucket's pages
	ReadModelBucketPages   map[string]int64 `json:"read_model_bucket_pages"` // bytes of the pages each bucket occupies
	ReadModelBytesPerEvent float64          `json:"read_model_bytes_per_event"`
	RawPublishLines        int              `json:"raw_publish_lines"` // lines the raw per-message publish was measured over

	// Intake is the durable intake: a publisher's acked publishes and the
	// drain, over a sample of the log (intake.events), next to the raw
	// batch ceiling.
	Intake IntakeStats `json:"intake"`
}

// Run generates the log and measures every phase.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 8
	}
	if cfg.Queries <= 0 {
		cfg.Queries = 5 * time.Second
	}
	say := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			return Report{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	gcfg := gen.Config{Events: cfg.Events, Partners: cfg.Partners, Seed: cfg.Seed}
	say("generating %d events for %d partners…", cfg.Events, gcfg.WithDefaults().Partners)
	start := time.Now()
	log, err := writeLog(gcfg, filepath.Join(dir, "input.ndjson"), cfg.Clients)
	if err != nil {
		return Report{}, err
	}
	say("generated %d lines in %s", log.lines, time.Since(start).Round(time.Millisecond))
	r := Report{Events: log.lines, Machine: machine()}
	if cfg.RawPublishLines <= 0 {
		cfg.RawPublishLines = DefaultRawPublishLines
	}
	r.RawPublishLines = min(cfg.RawPublishLines, log.lines)
	say("raw JetStream async publish, fsync per message (first %d lines)…", r.RawPublishLines)
	var raw Rate
	err = cfg.profiled("raw_publish", func() (err error) { raw, err = rawPublish(ctx, dir, log, cfg.RawPublishLines); return })
	if err != nil {
		return r, fmt.Errorf("raw publish: %w", err)
	}
	say("  %d events/s", raw.EventsPerSec)
	say("raw JetStream atomic batch publish, 1,000 a batch, one in flight (same bytes, same durability)…")
	var rawBatch Rate
	err = cfg.profiled("raw_batch", func() (err error) {
		rawBatch, err = rawBatchPublish(ctx, dir, log, gcfg.WithDefaults().Partners)
		return
	})
	if err != nil {
		return r, fmt.Errorf("raw batch publish: %w", err)
	}
	say("  %d events/s", rawBatch.EventsPerSec)

	if cfg.IntakeLines <= 0 {
		cfg.IntakeLines = DefaultIntakeLines
	}
	say("intake: publish the first %d lines, one PubAck each, and drain them (alone, then while publishing)…", min(cfg.IntakeLines, log.lines))
	err = cfg.profiled("intake", func() (err error) {
		r.Intake, err = intakePhase(ctx, dir, log, cfg.IntakeLines, gcfg.Clock)
		return
	})
	if err != nil {
		return r, fmt.Errorf("intake: %w", err)
	}
	r.Intake.RawBatchEventsPerSec = rawBatch.EventsPerSec
	r.Intake.DrainRatio = ratio(Rate{EventsPerSec: r.Intake.DrainEventsPerSec}, rawBatch)
	say("  publish %d events/s; drain %d events/s alone (%.2f× raw batch publish), %d/s while publishing at %d/s",
		r.Intake.PublishEventsPerSec, r.Intake.DrainEventsPerSec, r.Intake.DrainRatio, r.Intake.DrainWhilePublishingEventsPerSec, r.Intake.PublishWhileDrainingEventsPerSec)

	// Neither the generator's memory nor the raw ceilings' servers are the
	// ledger's, nor the intake phase's own ledger: return them to the system and restart the peak-RSS count
	// before the ledger starts.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	mem := sampleMemory()

	// No periodic backup: the restore phase writes one, measured.
	l, err := app.Start(ctx, app.Config{DataDir: filepath.Join(dir, "ledger"), Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Clock: gcfg.Clock,
		BackupInterval: -1})
	if err != nil {
		return Report{}, err
	}
	defer l.Close()

	say("ingest through the ledger (%d clients)…", cfg.Clients)
	var ing Rate
	var rejected int
	cpu := cpuTime()
	mem.enter("ingest")
	err = cfg.profiled("ingest", func() (err error) { ing, rejected, err = ingest(ctx, l, log); return })
	ing.CPUMicrosPerEvent = perEvent(cpuTime()-cpu, log.lines)
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.Ingest, r.Rejected = ing.vs(raw), rejected
	r.Ingest.RawBatchEventsPerSec, r.Ingest.BatchRatio = rawBatch.EventsPerSec, ratio(ing, rawBatch)
	say("  %d events/s (%.2f× raw publish, %.2f× raw batch publish), %d rejected", r.Ingest.EventsPerSec, r.Ingest.Ratio,
		r.Ingest.BatchRatio, rejected)
	if err := l.Projector().WaitFor(ctx, l.Writer().LastSeq()); err != nil {
		return r, err
	}
	st, err := l.Models().Stats()
	if err != nil {
		return r, err
	}
	r.Partners = int(st.Partners)
	r.ReadModelBytes, r.ReadModelFreeBytes = st.FileBytes, st.FreeBytes
	if st.Events > 0 {
		r.ReadModelBytesPerEvent = float64(int64(float64(st.FileBytes)/float64(st.Events)*10)) / 10
	}
	say("read models: %d bytes, %.1f bytes per event, %d bytes of them in free pages", r.ReadModelBytes, r.ReadModelBytesPerEvent, r.ReadModelFreeBytes)

	say("raw fold: ordered consumer → bbolt with checkpoint, no decoding…")
	var rawFolded Rate
	mem.enter("raw_fold")
	err = cfg.profiled("raw_fold", func() (err error) { rawFolded, err = rawFold(ctx, l, dir); return })
	if err != nil {
		return r, fmt.Errorf("raw fold: %w", err)
	}
	say("  %d events/s", rawFolded.EventsPerSec)
	say("ordered read + decode of every event…")
	var rd Rate
	mem.enter("read_decode")
	if err = cfg.profiled("read_decode", func() (err error) { rd, err = readDecode(ctx, l); return }); err != nil {
		return r, fmt.Errorf("read and decode: %w", err)
	}
	say("  %d events/s", rd.EventsPerSec)
	say("projection: the ledger's projector over the whole log, fresh read models…")
	var proj Rate
	cpu = cpuTime()
	mem.enter("projection")
	err = cfg.profiled("projection", func() (err error) { proj, err = projection(ctx, l, dir); return })
	proj.CPUMicrosPerEvent = perEvent(cpuTime()-cpu, log.lines)
	if err != nil {
		return r, fmt.Errorf("projection: %w", err)
	}
	r.Projection = proj.vs(rawFolded).vsReadDecode(rd)
	say("  %d events/s (%.2f× raw fold, %.2f× read + decode)", r.Projection.EventsPerSec, r.Projection.Ratio, r.Projection.ReadDecodeRatio)
	say("rebuild: a full rebuild of the read models…")
	var rb Rate
	cpu = cpuTime()
	mem.enter("rebuild")
	if err = cfg.profiled("rebuild", func() (err error) { rb, err = rebuild(ctx, l, dir); return }); err != nil {
		return r, fmt.Errorf("rebuild: %w", err)
	}
	rb.CPUMicrosPerEvent = perEvent(cpuTime()-cpu, log.lines)
	r.Rebuild = rb.vs(rawFolded).vsReadDecode(rd)
	say("  %d events/s (%.2f× raw fold, %.2f× read + decode)", r.Rebuild.EventsPerSec, r.Rebuild.Ratio, r.Rebuild.ReadDecodeRatio)
	say("backup and restore: the read models to JetStream's object store and back into a new file…")
	mem.enter("restore")
	if err = cfg.profiled("restore", func() (err error) { r.Restore, err = backupRestore(ctx, l, dir); return }); err != nil {
		return r, fmt.Errorf("backup and restore: %w", err)
	}
	r.Restore.RebuildRatio = ratioOf(float64(r.Restore.EventsPerSec), float64(r.Rebuild.EventsPerSec))
	say("  backup %d bytes in %.2f s; restore %.2f s (%d events/s, %.1f× the rebuild)", r.Restore.Bytes, r.Restore.BackupSeconds,
		r.Restore.RestoreSeconds, r.Restore.EventsPerSec, r.Restore.RebuildRatio)

	say("queries: tier and benefits over the RPC, %d clients, %s…", cfg.Clients, cfg.Queries)
	mem.enter("query")
	if err = cfg.profiled("query", func() (err error) { r.Query, err = queries(ctx, l, cfg.Clients, cfg.Queries, cfg.Seed); return }); err != nil {
		return r, fmt.Errorf("queries: %w", err)
	}
	say("  %d queries/s, p50 %.2f ms, p99 %.2f ms (raw request/reply: %d/s, p99 %.2f ms; through a role's import: %d/s, p99 %.2f ms)",
		r.Query.QPS, r.Query.P50ms, r.Query.P99ms, r.Query.Raw.QPS, r.Query.Raw.P99ms, r.Query.RawImport.QPS, r.Query.RawImport.P99ms)
	r.PeakRSSMB = peakRSSMB()
	r.PeakAnonMB, r.PeakFileMB, r.PeakAnonByPhaseMB, r.PeakFileByPhaseMB = mem.peaks()
	// After the peaks: walking every page of the file is the bench's own
	// statistics, not the ledger's memory. Queries do not write, so the
	// buckets are still those of the log ingested.
	sizes, err := l.Models().BucketBytes()
	if err != nil {
		return r, err
	}
	r.ReadModelBuckets, r.ReadModelBucketPages = map[string]int64{}, map[string]int64{}
	for name, sz := range sizes {
		r.ReadModelBuckets[name], r.ReadModelBucketPages[name] = sz.InUse, sz.Pages
	}
	return r, nil
}

// vs sets the ratio to a raw rate.
func (r Rate) vs(raw Rate) Rate {
	r.RawEventsPerSec, r.Ratio = raw.EventsPerSec, ratio(r, raw)
	return r
}

// vsReadDecode sets the ratio to the read + decode ceiling.
func (r Rate) vsReadDecode(rd Rate) Rate {
	r.ReadDecodeEventsPerSec, r.ReadDecodeRatio = rd.EventsPerSec, ratio(r, rd)
	return r
}

// ratio is r's rate over ceiling's, to two decimals (0 without a ceiling).
func ratio(r, ceiling Rate) float64 {
	return ratioOf(float64(r.EventsPerSec), float64(ceiling.EventsPerSec))
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perEvent is d per event in microseconds, to one decimal.
func perEvent(d time.Duration, events int) float64 {
	if events <= 0 {
		return 0
	}
	return float64(int64(float64(d.Microseconds())/float64(events)*10)) / 10
}

// ratioOf is x over ceiling to two decimals (truncated), 0 without a
// ceiling.
func ratioOf(x, ceiling float64) float64 {
	if ceiling <= 0 {
		return 0
	}
	return float64(int64(x/ceiling*100)) / 100
}

func rate(events int, d time.Duration) Rate {
	return Rate{EventsPerSec: int64(float64(events) / d.Seconds()), Seconds: float64(d.Milliseconds()) / 1000}
}

// profiled runs one phase, under a CPU profile when asked: profile before
// optimizing.
func (cfg Config) profiled(phase string, fn func() error) error {
	if cfg.Profile == "" {
		return fn()
	}
	if err := os.MkdirAll(cfg.Profile, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(cfg.Profile, phase+".prof"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	err = fn()
	pprof.StopCPUProfile()
	if h, herr := os.Create(filepath.Join(cfg.Profile, phase+".heap")); herr == nil {
		pprof.WriteHeapProfile(h)
		h.Close()
	}
	return err
}
