package ledger

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// VerifyReport compares the live read models with a rebuild from the log.
type VerifyReport struct {
	Checkpoint     uint64   `json:"checkpoint"`
	LiveDigest     string   `json:"live_digest"`
	RebuiltDigest  string   `json:"rebuilt_digest"`
	Equal          bool     `json:"equal"`
	PartnersDiffer []string `json:"partners_differ"` // partners whose facts differ, or exist on one side only
	IndexDiffers   bool     `json:"index_differs"`   // the global index or counters differ
	RebuildMillis  int64    `json:"rebuild_ms"`
	EventsPerSec   int64    `json:"events_per_s"`
}

// Verify rebuilds the read models from the log, up to the checkpoint of a
// consistent snapshot of the live ones, in a temporary file under dir, and
// compares digests partner by partner.
func Verify(ctx context.Context, es *eventstore.Store, live *projections.Store, dir string) (VerifyReport, error) {
	ld, err := live.Digest()
	if err != nil {
		return VerifyReport{}, err
	}
	tmp, err := os.MkdirTemp(dir, "verify-")
	if err != nil {
		return VerifyReport{}, err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	var rd projections.Digest
	if ld.Checkpoint == 0 {
		rd, err = emptyDigest(filepath.Join(tmp, "rebuilt.db"))
	} else {
		rd, err = Rebuild(ctx, es, filepath.Join(tmp, "rebuilt.db"), RebuildOptions{ToSeq: ld.Checkpoint})
	}
	if err != nil {
		return VerifyReport{}, err
	}
	took := time.Since(start)
	r := VerifyReport{Checkpoint: ld.Checkpoint, LiveDigest: ld.Sum, RebuiltDigest: rd.Sum, Equal: ld.Sum == rd.Sum,
		PartnersDiffer: []string{}, RebuildMillis: took.Milliseconds()}
	if took > 0 {
		r.EventsPerSec = int64(float64(ld.Checkpoint) / took.Seconds())
	}
	r.PartnersDiffer = differing(ld.Partners, rd.Partners)
	r.IndexDiffers = !r.Equal && len(r.PartnersDiffer) == 0
	return r, nil
}

// differing lists the keys whose values differ between two digest maps.
func differing(a, b map[string]string) []string {
	out := []string{}
	for id, h := range a {
		if b[id] != h {
			out = append(out, id)
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// emptyDigest is the digest of read models that folded nothing.
func emptyDigest(path string) (projections.Digest, error) {
	s, err := projections.Open(path)
	if err != nil {
		return projections.Digest{}, err
	}
	defer s.Close()
	return s.Digest()
}
