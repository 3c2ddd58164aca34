package projections

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// benchEvents generates a realistic log and decides it with the pure Book.
func benchEvents(b testing.TB, n int) []domain.Event {
	b.Helper()
	book, err := gen.Book(gen.Config{Events: n, Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	return book.Events()
}

// BenchmarkFold folds a generated log into fresh read models, 4096 events a
// transaction as the projector does, without fsync (as a rebuild does).
func BenchmarkFold(b *testing.B) {
	events := benchEvents(b, 50_000)
	for _, batch := range []int{1024, 4096, 16384} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) { benchFold(b, events, batch) })
	}
}

func benchFold(b *testing.B, events []domain.Event, batch int) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, err := Open(filepath.Join(b.TempDir(), "fold.db"), NoSync())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for j := 0; j < len(events); j += batch {
			if err := s.Fold(events[j:min(j+batch, len(events))]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))/time.Since(start).Seconds(), "events/s")
		s.Close()
	}
}
