package projections

import (
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// releaseInterval is how long a page of the read-model file that a fold or
// a query touched stays counted in the process's resident memory. bbolt
// reads the file through a read-only shared mapping, so every page ever
// touched stays resident (and in the process's RSS) until the file is
// closed: the read models themselves, a few hundred bytes per event, grow
// the process with the log. Handing the mapped pages back every interval
// bounds that part of the RSS by the pages touched in one interval (a few
// fold transactions' worth) instead of by the log. The pages stay in the
// kernel's page cache, where the embedded JetStream's block files are too
// (it reads them with read(2), never counted in its RSS), so the next touch
// is a minor fault, not a disk read: measured on the bench it costs no
// throughput. Half a second keeps the faults rare against ~10 fold commits
// a second.
const releaseInterval = 500 * time.Millisecond

// releaser hands the store's mapped pages back to the kernel on a ticker
// until stopped.
type releaser struct {
	once sync.Once
	quit chan struct{}
	done chan struct{}
}

func startReleaser(s *Store, every time.Duration) *releaser {
	r := &releaser{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-t.C:
				// A failure leaves the pages resident, nothing worse: the
				// next tick tries again.
				_ = s.releaseMapped()
			}
		}
	}()
	return r
}

// stop ends the ticker and waits for a release in progress (nil-safe, idempotent).
func (r *releaser) stop() {
	if r == nil {
		return
	}
	r.once.Do(func() { close(r.quit) })
	<-r.done
}

// releaseMapped drops the file's pages from the process's page tables. It
// runs inside a read transaction, which holds bbolt's mapping lock, so the
// file cannot be remapped (on growth) while the range is advised; the range
// is the file's size as of that transaction, within the mapping. Readers
// that touch a page afterwards fault it back in from the page cache: the
// mapping is read-only and shared, so its contents are the file's, never a
// private copy that could be lost.
func (s *Store) releaseMapped() error {
	return s.db.View(func(tx *bolt.Tx) error {
		return dropResident(s.db.Info().Data, tx.Size())
	})
}
