package projections

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

// TestWritesNeverRunAheadOfTheData: Store.Writes counts every write
// transaction (Open's, each FoldBatch, WriteTiers), and only once it has
// committed — a reader that reads the count and then the store never finds
// less than the counted writes made. The query cache relies on both: a
// write not counted would leave a stale View current, and a count moved
// before its commit would stamp a View of the old data as current at the
// new count. A reader races the folds to catch the second.
func TestWritesNeverRunAheadOfTheData(t *testing.T) {
	events := scenarioBook(t).Events()
	s, err := Open(filepath.Join(t.TempDir(), "writes.db"), NoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Writes(); got != 1 {
		t.Fatalf("after Open: %d writes, want 1 (creating the buckets)", got)
	}
	// cps[w] is the checkpoint the w-th write left (index 0 and 1: none).
	cps := []uint64{0, 0}
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			w := s.Writes()
			cp, err := s.Checkpoint()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want := cps[min(int(w), len(cps)-1)]
			mu.Unlock()
			if cp < want {
				t.Errorf("read %d writes, then checkpoint %d: the %d-th write left %d", w, cp, w, want)
				return
			}
		}
	}()
	for i := 0; i < len(events); i++ {
		// One event a write, its checkpoint recorded before the write
		// starts so the reader always knows what a count promises.
		mu.Lock()
		cps = append(cps, events[i].Seq)
		mu.Unlock()
		if err := s.Fold(events[i : i+1]); err != nil {
			t.Fatal(err)
		}
		if got, want := s.Writes(), uint64(len(cps)-1); got != want {
			t.Fatalf("after %d folds: %d writes, want %d", i+1, got, want)
		}
	}
	close(done)
	wg.Wait()
	if err := s.WriteTiers(domain.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Writes(), uint64(len(cps)); got != want {
		t.Fatalf("after WriteTiers: %d writes, want %d", got, want)
	}
}
