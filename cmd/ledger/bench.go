package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/internal/bench"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// runBench measures the ledger next to the raw limits of JetStream and bbolt,
// in one run, in a temporary directory with an embedded server of the
// default durability.
func runBench(e *env, args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	events := fs.Int("events", 100_000, "events to generate and ingest")
	partners := fs.Int("partners", 0, fmt.Sprintf("partners (default: events/%d)", gen.DefaultEventsPerPartner))
	clients := fs.Int("clients", 8, "concurrent clients (ingest and queries)")
	seed := fs.Int64("seed", 1, "workload seed")
	queries := fs.Duration("queries", 5*time.Second, "length of the query phase")
	dir := fs.String("dir", "", "working directory (default: a temporary one, removed after)")
	asJSON := fs.Bool("json", false, "print the bench document as JSON")
	profile := fs.String("profile", "", "write a CPU profile of each phase into this directory")
	rawLines := fs.Int("raw-publish-lines", bench.DefaultRawPublishLines, "lines the raw per-message publish is measured over (its rate does not depend on it)")
	intakeLines := fs.Int("intake-lines", bench.DefaultIntakeLines, "lines the intake phase publishes and drains (one PubAck each: its rates do not depend on it)")
	if pos, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	} else if len(pos) > 0 {
		return fail(e, exitError, usageError{"bench takes flags only"})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := bench.Run(ctx, bench.Config{Events: *events, Partners: *partners, Clients: *clients, Seed: *seed,
		Queries: *queries, Dir: *dir, Log: e.stderr, Profile: *profile, RawPublishLines: *rawLines, IntakeLines: *intakeLines})
	if err != nil {
		return fail(e, exitError, err)
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	t := table(e.stdout)
	fmt.Fprintf(t, "events\t%d\t(%d partners, %d rejected)\n", r.Events, r.Partners, r.Rejected)
	fmt.Fprintf(t, "ingest\t%d events/s\t%.2f× raw JetStream async publish, fsync per message (%d/s)\n", r.Ingest.EventsPerSec, r.Ingest.Ratio, r.Ingest.RawEventsPerSec)
	fmt.Fprintf(t, "\t\t%.2f× raw atomic batch publish, 1,000 a batch (%d/s)\n", r.Ingest.BatchRatio, r.Ingest.RawBatchEventsPerSec)
	fmt.Fprintf(t, "intake publish\t%d events/s\tone event a message, every PubAck awaited (%d events sampled)\n", r.Intake.PublishEventsPerSec, r.Intake.Events)
	fmt.Fprintf(t, "intake drain\t%d events/s\t%.2f× raw atomic batch publish (%d/s); %d/s while publishing at %d/s\n", r.Intake.DrainEventsPerSec, r.Intake.DrainRatio,
		r.Intake.RawBatchEventsPerSec, r.Intake.DrainWhilePublishingEventsPerSec, r.Intake.PublishWhileDrainingEventsPerSec)
	fmt.Fprintf(t, "projection\t%d events/s\t%.2f× raw ordered consumer → bbolt (%d/s)\n", r.Projection.EventsPerSec, r.Projection.Ratio, r.Projection.RawEventsPerSec)
	fmt.Fprintf(t, "\t\t%.2f× ordered read + decode (%d/s)\n", r.Projection.ReadDecodeRatio, r.Projection.ReadDecodeEventsPerSec)
	fmt.Fprintf(t, "rebuild\t%d events/s\t%.2f× raw ordered consumer → bbolt, %.2f× read + decode\n", r.Rebuild.EventsPerSec, r.Rebuild.Ratio, r.Rebuild.ReadDecodeRatio)
	fmt.Fprintf(t, "restore\t%d events/s\t%.1f× the rebuild: the backup (%d MB, written in %.2f s) restored into a new file in %.2f s\n",
		r.Restore.EventsPerSec, r.Restore.RebuildRatio, r.Restore.Bytes>>20, r.Restore.BackupSeconds, r.Restore.RestoreSeconds)
	fmt.Fprintf(t, "CPU per event\t%.1f µs ingest\t%.1f µs projection, %.1f µs rebuild (the whole process: server and bench clients included)\n",
		r.Ingest.CPUMicrosPerEvent, r.Projection.CPUMicrosPerEvent, r.Rebuild.CPUMicrosPerEvent)
	fmt.Fprintf(t, "read models\t%d MB\t%.1f bytes per event\n", r.ReadModelBytes>>20, r.ReadModelBytesPerEvent)
	fmt.Fprintf(t, "queries\t%d/s\tp50 %.2f ms, p99 %.2f ms (%d clients, %d errors)\n", r.Query.QPS, r.Query.P50ms, r.Query.P99ms, r.Query.Clients, r.Query.Errors)
	fmt.Fprintf(t, "  raw request/reply\t%d/s\tp50 %.2f ms, p99 %.2f ms (a service that does nothing, same clients): %.2f× qps, %.2f× p99\n",
		r.Query.Raw.QPS, r.Query.Raw.P50ms, r.Query.Raw.P99ms, r.Query.Ratio, r.Query.P99Ratio)
	fmt.Fprintf(t, "  … through a role's import\t%d/s\tp50 %.2f ms, p99 %.2f ms (the path queries take): %.2f× qps, %.2f× p99\n",
		r.Query.RawImport.QPS, r.Query.RawImport.P50ms, r.Query.RawImport.P99ms, r.Query.ImportRatio, r.Query.ImportP99Ratio)
	fmt.Fprintf(t, "peak RSS\t%d MB\t%d MB anonymous (heap, stacks; by phase: %s), %d MB mapped file pages (the binary, the read models)\n",
		r.PeakRSSMB, r.PeakAnonMB, phasePeaks(r.PeakAnonByPhaseMB), r.PeakFileMB)
	fmt.Fprintf(t, "machine\t%s\t\n", r.Machine)
	t.Flush()
	return exitOK
}

// phasePeaks lists the phases' peaks in the order they run.
func phasePeaks(m map[string]int64) string {
	var out []string
	for _, p := range []string{"ingest", "raw_fold", "read_decode", "projection", "rebuild", "restore", "query"} {
		if v, ok := m[p]; ok {
			out = append(out, fmt.Sprintf("%s %d", p, v))
		}
	}
	return strings.Join(out, ", ")
}
