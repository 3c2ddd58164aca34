package app

// The data directory's resources: one process per directory (the lock),
// one rebuild or verify at a time, and their temporary files gone on every
// exit path, a crash included.

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/projections"
)

// storeHashes hashes every file of the data directory the running ledger
// does not rewrite by itself: the JetStream store's meta.inf and meta.sum
// files and the credentials.
func storeHashes(t *testing.T, data string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		if name := d.Name(); name == "meta.inf" || name == "meta.sum" || strings.HasPrefix(rel, "credentials") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = sha256.Sum256(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSecondLedgerOnDataDirRefused: a second ledger on a data directory in
// use fails at once, naming the lock, before it touches the store: the
// store's meta files and the credentials stay byte-identical, and the
// first ledger keeps serving.
func TestSecondLedgerOnDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	before := storeHashes(t, dir)
	if !hasMeta(before) {
		t.Fatalf("no meta.inf/meta.sum under %s: %v", dir, before)
	}

	second, err := Start(ctxT(t), Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		second.Close()
		t.Fatal("a second ledger started on a data directory in use")
	}
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), lockFile(dir)) {
		t.Fatalf("second ledger: %v, want %v naming %s", err, ErrDataDirInUse, lockFile(dir))
	}
	after := storeHashes(t, dir)
	if len(after) != len(before) {
		t.Fatalf("files changed: %d before, %d after", len(before), len(after))
	}
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed", p)
		}
	}
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-2")))

	// Once the first is closed, the directory is free again.
	l.Close()
	start(t, Config{DataDir: dir})
}

func hasMeta(h map[string][32]byte) bool {
	for p := range h {
		if filepath.Base(p) == "meta.inf" {
			return true
		}
	}
	return false
}

// TestLeftoverTempFilesRemovedAtStart: what a SIGKILL during a rebuild or a
// verify leaves (readmodels.db.next, a verify-* directory) is removed when
// the ledger starts next.
func TestLeftoverTempFilesRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	l.Close()

	next, err := projections.Open(nextModelsPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	next.Close()
	tmp, err := os.MkdirTemp(dir, "verify-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "rebuilt.db"), []byte("half a rebuild"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(restoreTemp(dir), []byte("half a restore"), 0o600); err != nil {
		t.Fatal(err)
	}

	l = start(t, Config{DataDir: dir})
	noTemps(t, dir)
	if _, err := l.Verify(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// noTemps fails if a rebuild's, verify's or restore's temporary file is in dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, verifyTempPattern))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{nextModelsPath(dir), restoreTemp(dir)} {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestVerifyTempFilesRemoved: verify's temporary rebuild is removed when it
// succeeds, fails, or is cancelled; so is a failed rebuild's.
func TestVerifyTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir})
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1"), offerLine("P-1", "O-2")))
	if err := l.Projector().WaitFor(ctxT(t), l.Writer().LastSeq()); err != nil {
		t.Fatal(err)
	}
	empty := start(t, Config{}) // a log shorter than l's read models: the rebuild fails
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		run     func() error
		wantErr bool
	}{
		{"success", func() error {
			r, err := l.Verify(ctxT(t))
			if err == nil && !r.Equal {
				t.Errorf("verify: %+v, want equal", r)
			}
			return err
		}, false},
		{"failure", func() error {
			_, err := ledger.Verify(ctxT(t), empty.EventStore(), l.Models(), dir)
			return err
		}, true},
		{"cancelled", func() error {
			_, err := l.Verify(cancelled)
			return err
		}, true},
		{"failed rebuild", func() error {
			_, err := l.Rebuild(cancelled)
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			t.Logf("err: %v", err)
			noTemps(t, dir)
		})
	}
}

// TestAdminOneAtATime: while a rebuild, verify or backup runs, another one
// is answered busy at once (six verifies at once grew the data
// directory from 191 to 689 MB), on the wire too; afterwards they run.
func TestAdminOneAtATime(t *testing.T) {
	l := start(t, Config{})
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	c := rpc.NewClient(connectAs(t, l, "admin").Conn)

	if err := l.adminBusy("a test's verify"); err != nil { // the one slot: as a running verify holds it
		t.Fatal(err)
	}
	for _, ep := range []string{rpc.EndpointVerify, rpc.EndpointRebuild, rpc.EndpointBackup} {
		ctx, cancel := context.WithTimeout(ctxT(t), time.Minute)
		_, err := c.Call(ctx, ep, nil)
		cancel()
		if domain.CodeOf(err) != domain.CodeBusy {
			t.Fatalf("%s while another runs: %v, want %s", ep, err, domain.CodeBusy)
		}
		t.Logf("%s: %v", ep, err)
	}
	l.adminMu.Unlock()
	for _, ep := range []string{rpc.EndpointVerify, rpc.EndpointRebuild, rpc.EndpointBackup} {
		if _, err := c.Call(ctxT(t), ep, nil); err != nil {
			t.Fatalf("%s alone: %v", ep, err)
		}
	}
}
