package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/benefits-ledger/ledger/internal/scenario"
	"github.com/benefits-ledger/ledger/projections"
	"github.com/nats-io/nats.go/jetstream"
)

// messages records the messages a ledger logs.
type messages struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newMessages() messages { return messages{mu: &sync.Mutex{}, msgs: new([]string)} }

func (m messages) Enabled(context.Context, slog.Level) bool { return true }
func (m messages) WithAttrs([]slog.Attr) slog.Handler       { return m }
func (m messages) WithGroup(string) slog.Handler            { return m }
func (m messages) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	*m.msgs = append(*m.msgs, r.Message)
	return nil
}

// logged reports whether a message starting with prefix was logged.
func (m messages) logged(prefix string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range *m.msgs {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

const (
	logRestored = "read models restored from their backup"
	logNotUsed  = "read-model backup not used"
)

// backedUpLedger runs the scenarios through a ledger with a backup taken
// half-way, stops it and deletes its read models: what a new replica or a
// lost disk starts from. It returns the data directory, the digest of the
// read models at the end and the backup's checkpoint.
func backedUpLedger(t *testing.T) (dir string, want projections.Digest, backupAt uint64) {
	t.Helper()
	dir = t.TempDir()
	l := start(t, Config{DataDir: dir, BackupInterval: -1})
	scs := scenario.Lines(t)
	half := len(scs) / 2
	for _, sc := range scs[:half] {
		submit(t, l.Writer(), sc...)
	}
	ctx := ctxT(t)
	if err := l.Projector().WaitFor(ctx, l.Writer().LastSeq()); err != nil {
		t.Fatal(err)
	}
	r, err := l.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scs[half:] {
		submit(t, l.Writer(), sc...)
	}
	if r.Checkpoint == 0 || r.Checkpoint >= l.Writer().LastSeq() {
		t.Fatalf("backup at %d of a log of %d: no tail to fold after it", r.Checkpoint, l.Writer().LastSeq())
	}
	if err := l.Projector().WaitFor(ctx, l.Writer().LastSeq()); err != nil {
		t.Fatal(err)
	}
	if want, err = l.Models().Digest(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(modelsPath(dir)); err != nil {
		t.Fatal(err)
	}
	return dir, want, r.Checkpoint
}

// TestRestoreFromBackup: a ledger without its read-model file restores the
// backup and folds only the log after it, to exactly the read models a
// full fold gives.
func TestRestoreFromBackup(t *testing.T) {
	dir, want, _ := backedUpLedger(t)
	startWithoutModels(t, dir, want, true)
}

// startWithoutModels starts a ledger on dir, which has no read-model file,
// and checks that it restored the backup or not, as restored says, and
// ends with the read models want.
func startWithoutModels(t *testing.T, dir string, want projections.Digest, restored bool) {
	t.Helper()
	m := newMessages()
	l := start(t, Config{DataDir: dir, BackupInterval: -1, Logger: slog.New(m)})
	if m.logged(logRestored) != restored || m.logged(logNotUsed) == restored {
		t.Fatalf("the start restored the backup: %v, want %v: %q", m.logged(logRestored), restored, *m.msgs)
	}
	got, err := l.Models().Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Checkpoint != want.Checkpoint || got.Sum != want.Sum {
		t.Fatalf("caught up: %d %s; the live read models were %d %s", got.Checkpoint, got.Sum, want.Checkpoint, want.Sum)
	}
}

// TestUntrustedBackupFallsBackToFullFold: a backup that does not belong to
// this log, another schema's, a damaged one, or one past the log's end is
// not restored; the ledger folds the whole log and gets the same read
// models.
func TestUntrustedBackupFallsBackToFullFold(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(meta jetstream.ObjectMeta, file []byte) (jetstream.ObjectMeta, []byte)
	}{
		{"another log", func(meta jetstream.ObjectMeta, file []byte) (jetstream.ObjectMeta, []byte) {
			meta.Metadata[metaLastSHA256] = strings.Repeat("0", 64)
			return meta, file
		}},
		{"another schema", func(meta jetstream.ObjectMeta, file []byte) (jetstream.ObjectMeta, []byte) {
			meta.Metadata[metaSchema] = strconv.Itoa(projections.SchemaVersion - 1)
			return meta, file
		}},
		{"past the log's end", func(meta jetstream.ObjectMeta, file []byte) (jetstream.ObjectMeta, []byte) {
			meta.Metadata[metaCheckpoint] = "1000000"
			return meta, file
		}},
		{"garbled file", func(meta jetstream.ObjectMeta, file []byte) (jetstream.ObjectMeta, []byte) {
			garbled := bytes.Clone(file)
			for i := 4096 * 2; i < len(garbled); i += 97 {
				garbled[i] ^= 0x5a
			}
			return meta, garbled
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, want, _ := backedUpLedger(t)
			// Replace the backup with the tampered one through a ledger on
			// the same directory that does not touch it (a fresh file).
			l := start(t, Config{DataDir: dir, BackupInterval: -1})
			ctx := ctxT(t)
			res, err := l.backups.Get(ctx, backupObject)
			if err != nil {
				t.Fatal(err)
			}
			var file bytes.Buffer
			if _, err := file.ReadFrom(res); err != nil {
				t.Fatal(err)
			}
			info, err := res.Info()
			if err != nil {
				t.Fatal(err)
			}
			res.Close()
			meta, body := tt.tamper(info.ObjectMeta, file.Bytes())
			if _, err := l.backups.Put(ctx, meta, bytes.NewReader(body)); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(modelsPath(dir)); err != nil {
				t.Fatal(err)
			}

			startWithoutModels(t, dir, want, false)
			if _, err := os.Stat(restoreTemp(dir)); !os.IsNotExist(err) {
				t.Errorf("the refused backup's temporary file is left: %v", err)
			}
		})
	}
}
