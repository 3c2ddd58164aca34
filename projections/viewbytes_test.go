package projections

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// liveHeap returns the bytes of live heap objects after two full
// collections (the second frees what pools held through the first).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestDetachedViewBytes: what domain.View.Bytes estimates for the detached
// Views of partners loaded from the read models (as the query cache keeps
// them) is within a fifth of what the heap counts for them. The query
// cache's budget is only as true as this estimate.
func TestDetachedViewBytes(t *testing.T) {
	book, err := gen.Book(gen.Config{Events: 60_000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(t.TempDir(), "views.db"), NoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := book.Events()
	for i := 0; i < len(events); i += 4096 {
		if err := s.Fold(events[i:min(i+4096, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	pol, ids := book.Policy(), book.PartnerIDs()
	book, events = nil, nil
	views := make([]*domain.View, 0, len(ids))
	before := liveHeap()
	var estimated int64
	for _, id := range ids {
		p, _, err := s.Partner(id)
		if err != nil {
			t.Fatal(err)
		}
		v := domain.Compile(pol, p, domain.AllKnown).Detach()
		views = append(views, v)
		estimated += v.Bytes()
	}
	measured := int64(liveHeap() - before)
	runtime.KeepAlive(views)
	ratio := float64(estimated) / float64(measured)
	t.Logf("%d detached Views: estimated %d bytes, heap %d (%.2f×), %.1f KB each", len(views), estimated, measured, ratio, float64(measured)/float64(len(views))/1024)
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("View.Bytes estimates %d bytes for Views the heap counts at %d (%.2f×)", estimated, measured, ratio)
	}
}
