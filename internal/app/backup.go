package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/projections"
	"github.com/nats-io/nats.go/jetstream"
)

// The read models' backup: a copy of the bbolt file and the checkpoint it
// holds, kept in a JetStream object store beside the log (same account,
// same replicas; no role can reach it). A ledger whose read-model file is
// missing or unusable — a new replica, a lost or damaged disk — restores
// the backup and folds only the log after its checkpoint, instead of the
// whole log. The backup is derived data: it is trusted only when its schema
// is this build's, the object store's SHA-256 of it checks, the file passes
// projections.Check, and the log still holds, at the backup's checkpoint,
// the very record the backup was taken after (its SHA-256 is in the
// backup's metadata: a log that was replaced or reset does not match).
// Anything else falls back to the full fold. `ledger verify` and `replay`
// always fold the whole log.
const (
	backupBucket = "LEDGER_MODELS"
	backupObject = "readmodels"

	metaCheckpoint = "checkpoint"
	metaSchema     = "schema"
	metaLastSHA256 = "last_sha256" // of the data of the record at the checkpoint
	metaParts      = "parts"       // the file is in this many objects, partName(generation, i)
	metaGeneration = "generation"  // the parts' names: the checkpoint and the backup's start

	// defaultBackupInterval is how often, at most, the ledger replaces the
	// backup: each one writes the whole file (a few hundred bytes per
	// event) to JetStream, so it is not done per batch; what a restore
	// then folds is at most this interval's events on top of the backup.
	defaultBackupInterval = 10 * time.Minute
	// backupMinEvents is how far the read models must have moved since the
	// last backup for a new one to be worth writing.
	backupMinEvents = 10_000
	// backupPart is the most of the file one object holds. The object
	// store publishes an object's chunks asynchronously, up to 4,000 at a
	// time, and JetStream refuses a stream whose ingest queue holds more
	// than 128 MB (429 too many requests): one Put waits for all of its
	// chunks, so parts of 32 MiB bound the bytes in flight, and the
	// server's memory for them, whatever the file's size.
	backupPart = 32 << 20
	// backupChunk is the size of the object store's messages: half a MiB
	// stays under any server's default 1 MB max_payload (the embedded one
	// takes 8 MiB), and a part is 64 of them.
	backupChunk = 512 << 10
)

// errNoBackup reports that no backup was ever written.
var errNoBackup = errors.New("no read-model backup")

// restoreTemp is where a restore writes the backup before it is checked and
// renamed into place (removed at start if a restore was interrupted).
func restoreTemp(data string) string { return filepath.Join(data, "readmodels.db.restore") }

// openBackups creates (or updates) the backup's object store.
func openBackups(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.ObjectStore, error) {
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      backupBucket,
		Description: "benefits ledger: the latest copy of the read models, restored instead of folding the whole log",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("read-model backup store: %w", err)
	}
	return obs, nil
}

// Backup replaces the read models' backup with a copy of the live read
// models now. It takes the admin slot (one rebuild, verify or backup at a
// time: busy otherwise). Errors: the store's or JetStream's, a log that
// does not hold the checkpoint, or storage without room for the copy
// (natsserver.RoomFor): the backup is then skipped and the previous one
// stays.
func (l *Ledger) Backup(ctx context.Context) (ledger.BackupReport, error) {
	if err := l.adminBusy("backup"); err != nil {
		return ledger.BackupReport{}, err
	}
	defer l.adminMu.Unlock()
	return l.backup(ctx)
}

func (l *Ledger) backup(ctx context.Context) (ledger.BackupReport, error) {
	start := time.Now()
	c, err := l.models.Load().Copy()
	if err != nil {
		return ledger.BackupReport{}, err
	}
	defer c.Close()
	cp, size := c.Checkpoint(), c.Size()
	if cp == 0 {
		return ledger.BackupReport{}, errors.New("backup: the read models hold no event yet")
	}
	if l.srv != nil {
		if err := l.srv.RoomFor(size); err != nil {
			return ledger.BackupReport{}, fmt.Errorf("backup skipped: %w", err)
		}
	}
	rec, err := l.es.GetMsg(ctx, cp)
	if err != nil {
		return ledger.BackupReport{}, fmt.Errorf("backup: the record at the checkpoint: %w", err)
	}
	sum := sha256.Sum256(rec.Data)
	// Each backup's parts have names of their own, so a failed one never
	// touches the parts the current manifest names.
	gen := fmt.Sprintf("%d-%d", cp, start.UnixNano())
	parts := int((size + backupPart - 1) / backupPart)
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		_, err := c.WriteTo(pw)
		pw.CloseWithError(err)
		copied <- err
	}()
	err = l.putParts(ctx, gen, parts, pr)
	pr.CloseWithError(errors.New("backup: upload ended")) // unblocks the copy if the upload stopped early
	if cerr := <-copied; err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		// The manifest last: until it is replaced, restores read the
		// previous generation, whose parts are still there.
		_, err = l.backups.Put(ctx, jetstream.ObjectMeta{
			Name:        backupObject,
			Description: "read models at checkpoint " + strconv.FormatUint(cp, 10),
			Metadata: map[string]string{
				metaCheckpoint: strconv.FormatUint(cp, 10),
				metaGeneration: gen,
				metaSchema:     strconv.Itoa(projections.SchemaVersion),
				metaLastSHA256: hex.EncodeToString(sum[:]),
				metaParts:      strconv.Itoa(parts),
			},
		}, strings.NewReader(""))
	}
	l.dropOtherParts(ctx, gen, err == nil)
	if err != nil {
		return ledger.BackupReport{}, fmt.Errorf("backup: %w", err)
	}
	took := time.Since(start)
	r := ledger.BackupReport{Checkpoint: cp, Bytes: size, Millis: took.Milliseconds()}
	l.log.Info("read models backed up", "checkpoint", cp, "bytes", size, "took", took.Round(time.Millisecond))
	return r, nil
}

// partName is the object holding part i of the backup of generation gen.
func partName(gen string, i int) string { return fmt.Sprintf("%s.%s.%04d", backupObject, gen, i) }

// putParts uploads the file from r as parts objects of backupPart bytes.
func (l *Ledger) putParts(ctx context.Context, gen string, parts int, r io.Reader) error {
	for i := range parts {
		meta := jetstream.ObjectMeta{Name: partName(gen, i), Opts: &jetstream.ObjectMetaOptions{ChunkSize: backupChunk}}
		if _, err := l.backups.Put(ctx, meta, fullReads{io.LimitReader(r, backupPart)}); err != nil {
			return err
		}
	}
	return nil
}

// dropOtherParts deletes the parts of every backup but gen's once gen's is
// complete (done), or gen's own parts when it is not.
func (l *Ledger) dropOtherParts(ctx context.Context, gen string, done bool) {
	objs, err := l.backups.List(ctx)
	if err != nil {
		return // nothing but the manifest, or the next backup cleans up
	}
	mine := backupObject + "." + gen + "."
	for _, o := range objs {
		if !strings.HasPrefix(o.Name, backupObject+".") || strings.HasPrefix(o.Name, mine) == done {
			continue
		}
		if err := l.backups.Delete(ctx, o.Name); err != nil {
			l.log.Warn("read-model backup: deleting an old part failed", "object", o.Name, "err", err)
		}
	}
}

// fullReads makes every Read fill p unless the stream ends. The object
// store sends one message per Read, and the asynchronous publishes it keeps
// in flight are bounded (4,000): bbolt copies the file in 32 KiB writes, so
// reading the pipe as it comes would send 32 KiB messages, and a 270 MB
// file stalled the upload ("too many outstanding async published
// messages").
type fullReads struct{ r io.Reader }

func (f fullReads) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the last, short chunk: the next Read says io.EOF
	}
	return n, err
}

// runBackups replaces the backup every interval once the read models have
// moved backupMinEvents past it, until ctx ends. A backup that fails is
// logged and tried again the next interval.
func (l *Ledger) runBackups(ctx context.Context, interval time.Duration) {
	var last uint64
	if info, err := l.backups.GetInfo(ctx, backupObject); err == nil {
		last = backedUpTo(info.Metadata)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l.proj.Checkpoint() < last+backupMinEvents || !l.adminMu.TryLock() {
			continue // not worth one yet, or a rebuild or verify is running
		}
		r, err := l.backup(ctx)
		l.adminMu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("read-model backup failed; the previous one stays", "err", err)
			}
			continue
		}
		last = r.Checkpoint
	}
}

// backedUpTo is the checkpoint a backup's manifest metadata holds, for
// deciding when the next one is due: 0 for a backup a restore would not use
// for its schema (one a build of another read-model layout wrote), so that
// an upgraded ledger replaces it at the first interval instead of after
// backupMinEvents more events.
func backedUpTo(meta map[string]string) uint64 {
	if meta[metaSchema] != strconv.Itoa(projections.SchemaVersion) {
		return 0
	}
	cp, _ := strconv.ParseUint(meta[metaCheckpoint], 10, 64)
	return cp
}

// restoreModels writes the backup to path, which must not exist, when one
// can be trusted for this log (see the package comment above), and returns
// the checkpoint it holds. ok is false, with the reason logged, when there
// is no usable backup: the caller then folds the whole log.
func (l *Ledger) restoreModels(ctx context.Context, path string) (checkpoint uint64, ok bool) {
	start := time.Now()
	cp, err := l.RestoreBackup(ctx, path)
	if err != nil {
		if !errors.Is(err, errNoBackup) {
			l.log.Warn("read-model backup not used; folding the whole log", "err", err)
		}
		return 0, false
	}
	l.log.Info("read models restored from their backup; folding the log after it", "checkpoint", cp,
		"took", time.Since(start).Round(time.Millisecond))
	return cp, true
}

// RestoreBackup writes the backup to path (which must not exist), checked
// as a start checks it, and returns the checkpoint it holds: what a start
// without read models does, for measuring it. Errors say why the backup
// cannot be trusted (errNoBackup when there is none).
func (l *Ledger) RestoreBackup(ctx context.Context, path string) (uint64, error) {
	cp, err := l.fetchBackup(ctx, path)
	if err != nil {
		os.Remove(restoreTemp(l.cfg.DataDir))
	}
	return cp, err
}

func (l *Ledger) fetchBackup(ctx context.Context, path string) (uint64, error) {
	info, err := l.backups.GetInfo(ctx, backupObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0, fmt.Errorf("%w: %w", errNoBackup, err)
	}
	if err != nil {
		return 0, err
	}
	if v := info.Metadata[metaSchema]; v != strconv.Itoa(projections.SchemaVersion) {
		return 0, fmt.Errorf("the backup has read-model schema %q, this build reads %d", v, projections.SchemaVersion)
	}
	cp, err := strconv.ParseUint(info.Metadata[metaCheckpoint], 10, 64)
	if err != nil || cp == 0 {
		return 0, fmt.Errorf("the backup's checkpoint %q", info.Metadata[metaCheckpoint])
	}
	gen := info.Metadata[metaGeneration]
	parts, err := strconv.Atoi(info.Metadata[metaParts])
	if err != nil || parts < 1 {
		return 0, fmt.Errorf("the backup's part count %q", info.Metadata[metaParts])
	}
	rec, err := l.es.GetMsg(ctx, cp)
	if err != nil {
		return 0, fmt.Errorf("the log does not hold the backup's checkpoint %d: %w", cp, err)
	}
	if sum := sha256.Sum256(rec.Data); hex.EncodeToString(sum[:]) != info.Metadata[metaLastSHA256] {
		return 0, fmt.Errorf("the log's record at the backup's checkpoint %d is not the one the backup was taken after: another log", cp)
	}
	tmp := restoreTemp(l.cfg.DataDir)
	if err := l.writeParts(ctx, tmp, gen, parts); err != nil {
		return 0, err
	}
	if err := projections.Check(tmp); err != nil {
		return 0, err
	}
	s, err := projections.Open(tmp, projections.ReleaseEvery(0))
	if err != nil {
		return 0, err
	}
	got, err := s.Checkpoint()
	s.Close()
	if err != nil || got != cp {
		return 0, fmt.Errorf("the backup file holds checkpoint %d, its metadata says %d (%v)", got, cp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return cp, syncDir(filepath.Dir(path))
}

// writeParts writes the backup's parts, in order, into a new file at path
// and fsyncs it. The object store checks each part's SHA-256 as it is read.
func (l *Ledger) writeParts(ctx context.Context, path, gen string, parts int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for i := range parts {
		res, err := l.backups.Get(ctx, partName(gen, i))
		if err == nil {
			_, err = io.Copy(f, res)
			res.Close()
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("the backup's part %d: %w", i, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory, making a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
