package eventstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go/jetstream"
)

// roomEnv starts a server with the given storage limits on dir and opens
// the store on it, with the server's room check unless noCheck.
func roomEnv(t *testing.T, dir string, maxStore, minFree int64, noCheck bool) *testEnv {
	t.Helper()
	e := &testEnv{dir: dir}
	e.start(t, natsserver.Config{StoreDir: dir, Port: -1, SyncAlways: true, Open: true, MaxStore: maxStore, MinFreeDisk: minFree})
	t.Cleanup(e.stop)
	opts := []Option{WithLogger(testLogger())}
	if !noCheck {
		opts = append(opts, WithRoomCheck(e.srv.RoomFor))
	}
	store, err := Open(context.Background(), e.js, opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	e.store = store
	return e
}

// padded is a batch of n messages of about size bytes each.
func padded(partner string, n, offset, size int) []Message {
	msgs := bulk(partner, n, offset)
	for i := range msgs {
		msgs[i].Data = fmt.Appendf(nil, `{"i":%d,"pad":%q}`, offset+i, strings.Repeat("x", size))
	}
	return msgs
}

// batchDirs lists the atomic batches the server is staging on disk.
func batchDirs(t *testing.T, dir string) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "*", "batches", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func lastSeq(t *testing.T, s *Store) uint64 {
	t.Helper()
	last, err := s.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// TestAppendStorageFullMaxStore fills a store up to its max_store limit:
// the append that does not fit is refused whole, as ErrStorageFull, and
// stores nothing and leaves no staging behind; appends that fit still go.
func TestAppendStorageFullMaxStore(t *testing.T) {
	const maxStore = 1 << 20
	e := roomEnv(t, t.TempDir(), maxStore, -1, false)
	ctx := context.Background()
	var full error
	for i := 0; full == nil; i++ {
		if i > 100 {
			t.Fatal("max_store never reached")
		}
		before := lastSeq(t, e.store)
		_, err := e.store.Append(ctx, padded("P-1", 100, i*100, 1000), nil)
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrStorageFull) {
			t.Fatalf("append %d: %v, want ErrStorageFull", i, err)
		}
		if after := lastSeq(t, e.store); after != before {
			t.Fatalf("a refused append stored %d messages", after-before)
		}
		full = err
	}
	t.Logf("refused: %v", full)
	if dirs := batchDirs(t, e.dir); len(dirs) > 0 {
		t.Errorf("staging left behind: %v", dirs)
	}
	// Writes are not stuck: one message still fits.
	if _, err := e.store.Append(ctx, padded("P-2", 1, 0, 10), nil); err != nil {
		t.Fatalf("small append after a refused one: %v", err)
	}
}

// TestSettleFindsPartialCommit shows why the room check exists and what
// Settle is for: without the check, a single-replica atomic batch that runs
// past max_store is stored in part and its commit never answered. Settle
// reads back exactly which messages were stored.
func TestSettleFindsPartialCommit(t *testing.T) {
	const maxStore = 1 << 20
	e := roomEnv(t, t.TempDir(), maxStore, -1, true)
	ctx := context.Background()
	// Just under the limit, then a batch that crosses it.
	mustAppend(t, e.store, padded("P-1", 600, 0, 1000), nil)
	before := lastSeq(t, e.store)
	batch := padded("P-1", 500, 600, 1000)
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := e.store.Append(actx, batch, nil)
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("append across max_store: %v, want ErrUnknownOutcome (the server's partial commit)", err)
	}
	first, n, err := e.store.Settle(ctx, before, batch)
	if err != nil {
		t.Fatal(err)
	}
	stored := lastSeq(t, e.store) - before
	t.Logf("stored %d of %d; Settle: first %d, n %d", stored, len(batch), first, n)
	if n == 0 || n == len(batch) || uint64(n) != stored || first != before+1 {
		t.Fatalf("Settle = (%d, %d), stream holds %d new messages after %d", first, n, stored, before)
	}
	for i, r := range readAll(t, e.store, first, "") {
		if !sameMessage(r, batch[i]) {
			t.Fatalf("seq %d is not batch message %d", r.Seq, i)
		}
	}
	// None of an append's messages stored: Settle says so.
	if _, n, err := e.store.Settle(ctx, lastSeq(t, e.store), padded("P-9", 3, 0, 10)); err != nil || n != 0 {
		t.Fatalf("Settle of nothing stored = %d, %v", n, err)
	}
}

// TestAppendStorageFullDisk fills the disk itself (a 32 MiB tmpfs) up to
// the free-space reserve: the append is refused as ErrStorageFull, stores
// nothing, leaks no staging, and once space is freed the same append
// succeeds, without a restart.
func TestAppendStorageFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=32m"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v; TestAppendStorageFullMaxStore covers the max_store limit", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	store := filepath.Join(dir, "store")
	e := roomEnv(t, store, 0, 8<<20, false)
	ctx := context.Background()
	mustAppend(t, e.store, padded("P-1", 100, 0, 1000), nil)

	// Fill the disk to 4 MiB of free space, below the 8 MiB reserve.
	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if int64(st.Bavail)*int64(st.Bsize) <= 4<<20 {
			break
		}
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	before := lastSeq(t, e.store)
	batch := padded("P-1", 1000, 100, 1000)
	_, err = e.store.Append(ctx, batch, nil)
	if !errors.Is(err, ErrStorageFull) {
		t.Fatalf("append on a full disk: %v, want ErrStorageFull", err)
	}
	t.Logf("refused: %v", err)
	if after := lastSeq(t, e.store); after != before {
		t.Fatalf("a refused append stored %d messages", after-before)
	}
	if dirs := batchDirs(t, store); len(dirs) > 0 {
		t.Errorf("staging left behind: %v", dirs)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	first, err := e.store.Append(ctx, batch, nil)
	if err != nil {
		t.Fatalf("append once space is freed: %v", err)
	}
	if first != before+1 || lastSeq(t, e.store) != before+uint64(len(batch)) {
		t.Fatalf("stored at %d, stream ends at %d", first, lastSeq(t, e.store))
	}
}

// TestRefusedForRoom: the server's own refusals for lack of room are
// ErrStorageFull too (an account or stream storage limit, a store that
// cannot write), whatever check the caller configured.
func TestRefusedForRoom(t *testing.T) {
	s := &Store{}
	tests := []struct {
		name string
		err  jetstream.APIError
		full bool
	}{
		{"insufficient resources", jetstream.APIError{ErrorCode: jsErrInsufficientResources, Description: "insufficient resources"}, true},
		{"no space", jetstream.APIError{ErrorCode: jsErrStoreFailed, Description: "write /x: no space left on device"}, true},
		{"other store failure", jetstream.APIError{ErrorCode: jsErrStoreFailed, Description: "store closed"}, false},
		{"incomplete without a check", jetstream.APIError{ErrorCode: jsErrBatchIncomplete, Description: "atomic publish batch is incomplete"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.refused(&tt.err, 100)
			if got := errors.Is(err, ErrStorageFull); got != tt.full {
				t.Errorf("refused(%v) = %v: storage full %v, want %v", tt.err.Description, err, got, tt.full)
			}
		})
	}
	s.room = func(int64) error { return errors.New("disk full") }
	if err := s.refused(&jetstream.APIError{ErrorCode: jsErrBatchIncomplete}, 100); !errors.Is(err, ErrStorageFull) {
		t.Errorf("incomplete batch with no room: %v, want ErrStorageFull", err)
	}
}
