package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
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
	// Each tamper changes the manifest's metadata or a part of the file.
	manifest := func(key, value string) func(ctx context.Context, t *testing.T, obs jetstream.ObjectStore, meta jetstream.ObjectMeta) {
		return func(ctx context.Context, t *testing.T, obs jetstream.ObjectStore, meta jetstream.ObjectMeta) {
			meta.Metadata[key] = value
			if _, err := obs.Put(ctx, meta, strings.NewReader("")); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		tamper func(ctx context.Context, t *testing.T, obs jetstream.ObjectStore, meta jetstream.ObjectMeta)
	}{
		{"another log", manifest(metaLastSHA256, strings.Repeat("0", 64))},
		{"another schema", manifest(metaSchema, strconv.Itoa(projections.SchemaVersion-1))},
		{"past the log's end", manifest(metaCheckpoint, "1000000")},
		{"a part missing", manifest(metaParts, "2")},
		{"garbled file", func(ctx context.Context, t *testing.T, obs jetstream.ObjectStore, meta jetstream.ObjectMeta) {
			name := partName(meta.Metadata[metaGeneration], 0)
			file, err := obs.GetBytes(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			for i := 4096 * 2; i < len(file); i += 97 {
				file[i] ^= 0x5a
			}
			if _, err := obs.PutBytes(ctx, name, file); err != nil { // a SHA-256 of its own: only the file's structure can tell
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, want, _ := backedUpLedger(t)
			// Tamper through a ledger on the same directory (which
			// restores the good backup first).
			l := start(t, Config{DataDir: dir, BackupInterval: -1})
			ctx := ctxT(t)
			info, err := l.backups.GetInfo(ctx, backupObject)
			if err != nil {
				t.Fatal(err)
			}
			tt.tamper(ctx, t, l.backups, info.ObjectMeta)
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

// TestBackupReplacesParts: a new backup's parts replace the old one's, so
// the object store holds one backup, however often it is taken.
func TestBackupReplacesParts(t *testing.T) {
	l := start(t, Config{BackupInterval: -1})
	ctx := ctxT(t)
	for i := range 3 {
		mustAccept(t, submit(t, l.Writer(), offerLine(fmt.Sprintf("P-%d", i), fmt.Sprintf("O-%d", i))))
		if err := l.Projector().WaitFor(ctx, l.Writer().LastSeq()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Backup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := l.backups.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.backups.GetInfo(ctx, backupObject)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	wantNames := []string{backupObject, partName(info.Metadata[metaGeneration], 0)}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("objects after three backups: %q, want %q", names, wantNames)
	}
}

// TestBackupOfAnotherLayoutIsReplacedFirst: the next periodic backup is
// due from the checkpoint of a backup this build would restore, and at once
// after a backup of another read-model schema — which no restore uses — so
// an upgraded ledger does not run without a usable backup for another
// backupMinEvents events.
func TestBackupOfAnotherLayoutIsReplacedFirst(t *testing.T) {
	this, other := strconv.Itoa(projections.SchemaVersion), strconv.Itoa(projections.SchemaVersion-1)
	for _, c := range []struct {
		meta map[string]string
		want uint64
	}{
		{map[string]string{metaSchema: this, metaCheckpoint: "52000"}, 52000},
		{map[string]string{metaSchema: other, metaCheckpoint: "52000"}, 0},
		{map[string]string{metaCheckpoint: "52000"}, 0},
		{map[string]string{metaSchema: this, metaCheckpoint: "garbled"}, 0},
		{nil, 0},
	} {
		if got := backedUpTo(c.meta); got != c.want {
			t.Errorf("%v: due from %d, want %d", c.meta, got, c.want)
		}
	}
}
