package bench

import (
	"context"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/gen"
)

// TestRunSmall runs every phase of the bench on a small log: the document
// is complete and consistent (every event ingested, none rejected, every
// rate paired with its raw limit). It checks no timing: this machine is
// shared and noisy.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two JetStream servers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Events: 3000, Clients: 4, Queries: 300 * time.Millisecond, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Events < 2900 || r.Rejected != 0 {
		t.Fatalf("events %d, rejected %d: want about 3000 generated, none rejected", r.Events, r.Rejected)
	}
	if want := (gen.Config{Events: 3000}).WithDefaults().Partners; r.Partners != want {
		t.Errorf("partners %d, want the generator's %d", r.Partners, want)
	}
	for name, rate := range map[string]Rate{"ingest": r.Ingest, "projection": r.Projection, "rebuild": r.Rebuild} {
		if rate.EventsPerSec <= 0 || rate.RawEventsPerSec <= 0 || rate.Ratio <= 0 || rate.Seconds <= 0 {
			t.Errorf("%s: %+v, want every figure positive", name, rate)
		}
	}
	if r.Ingest.RawBatchEventsPerSec <= 0 || r.Ingest.BatchRatio <= 0 {
		t.Errorf("ingest: no raw batch ceiling: %+v", r.Ingest)
	}
	for name, rate := range map[string]Rate{"projection": r.Projection, "rebuild": r.Rebuild} {
		if rate.ReadDecodeEventsPerSec <= 0 || rate.ReadDecodeRatio <= 0 {
			t.Errorf("%s: no read + decode ceiling: %+v", name, rate)
		}
	}
	if r.ReadModelBytes <= 0 || r.ReadModelBytesPerEvent <= 0 || len(r.ReadModelBuckets) == 0 {
		t.Errorf("read models: %d bytes, %.1f per event, buckets %v", r.ReadModelBytes, r.ReadModelBytesPerEvent, r.ReadModelBuckets)
	}
	var inUse, pages int64
	for name, b := range r.ReadModelBuckets {
		inUse += b
		pages += r.ReadModelBucketPages[name]
		if b > r.ReadModelBucketPages[name] {
			t.Errorf("bucket %s holds %d bytes in %d bytes of pages", name, b, r.ReadModelBucketPages[name])
		}
	}
	if inUse <= 0 || pages+r.ReadModelFreeBytes > r.ReadModelBytes {
		t.Errorf("buckets hold %d bytes in %d bytes of pages, %d free, of a %d-byte file", inUse, pages, r.ReadModelFreeBytes, r.ReadModelBytes)
	}
	if r.RawPublishLines != r.Events {
		t.Errorf("raw publish over %d lines, want the whole small log (%d)", r.RawPublishLines, r.Events)
	}
	in := r.Intake
	if in.Events != r.Events || in.PublishEventsPerSec <= 0 || in.DrainEventsPerSec <= 0 || in.PublishWhileDrainingEventsPerSec <= 0 ||
		in.DrainWhilePublishingEventsPerSec <= 0 || in.RawBatchEventsPerSec != r.Ingest.RawBatchEventsPerSec || in.DrainRatio <= 0 {
		t.Errorf("intake: %+v, want the whole small log and every figure positive", in)
	}
	for name, rt := range map[string]Rate{"ingest": r.Ingest, "projection": r.Projection, "rebuild": r.Rebuild} {
		if rt.CPUMicrosPerEvent <= 0 {
			t.Errorf("%s: no CPU time per event: %+v", name, rt)
		}
	}
	q := r.Query
	if q.Clients != 4 || q.Count == 0 || q.Errors != 0 || q.Partners != r.Partners {
		t.Errorf("query: %+v, want 4 clients, some queries, no errors, every partner warmed", q)
	}
	if q.P50ms <= 0 || q.P99ms < q.P50ms || q.Raw.QPS <= 0 || q.Raw.P99ms < q.Raw.P50ms {
		t.Errorf("query latencies: %+v", q)
	}
	if q.RawImport.QPS <= 0 || q.RawImport.P99ms < q.RawImport.P50ms || q.Ratio <= 0 || q.ImportRatio <= 0 || q.P99Ratio <= 0 || q.ImportP99Ratio <= 0 {
		t.Errorf("query ceilings through the import and ratios: %+v", q)
	}
	if r.PeakRSSMB <= 0 || r.PeakAnonMB <= 0 || r.PeakAnonMB > r.PeakRSSMB || r.PeakFileMB <= 0 {
		t.Errorf("peak RSS %d MB, anonymous %d MB, file %d MB", r.PeakRSSMB, r.PeakAnonMB, r.PeakFileMB)
	}
	if rs := r.Restore; rs.Bytes != r.ReadModelBytes || rs.BackupSeconds <= 0 || rs.RestoreSeconds <= 0 || rs.EventsPerSec <= 0 || rs.RebuildRatio <= 0 {
		t.Errorf("restore: %+v, want the read models' %d bytes backed up and restored", rs, r.ReadModelBytes)
	}
	for _, phase := range []string{"ingest", "raw_fold", "read_decode", "projection", "rebuild", "restore", "query"} {
		if v := r.PeakAnonByPhaseMB[phase]; v <= 0 || v > r.PeakAnonMB {
			t.Errorf("phase %s: peak anonymous %d MB of %d overall", phase, v, r.PeakAnonMB)
		}
	}
}
