// Package projections keeps the ledger's read models in bbolt: the facts the
// domain folds from the log, keyed so that one partner's facts are a range
// scan, and the global index (envelope ids, offer and sale owners) the writer
// consults. Each fold of a batch of events is one transaction that also stores
// the stream sequence it reached, so after any crash the fold resumes with
// every event applied exactly once.
package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Partner-scoped buckets key by partner id, a 0 byte, then the
// fact's own key, so a partner's facts are contiguous.
var (
	bucketMeta        = []byte("meta")
	bucketPartners    = []byte("partners")    // partner → core facts
	bucketOffers      = []byte("offers")      // partner\0offer → offer
	bucketSales       = []byte("sales")       // partner\0chunk (uint32) → up to saleChunk sales (sales.go)
	bucketMetrics     = []byte("metrics")     // partner\0seq → metric report
	bucketActivations = []byte("activations") // partner\0seq → activation
	bucketOfferOwner  = []byte("offer_owner") // offer → partner
	bucketSaleOwner   = []byte("sale_owner")  // sale id group → chunk (uvarint), partner per id (groups.go)
	bucketEnvelopes   = []byte("envelopes")   // envelope id group → seq (uvarint), fingerprint per id (groups.go)
	bucketTiers       = []byte("tiers")       // partner → held-tier history under the file's policy (replay files)

	allBuckets = [][]byte{bucketMeta, bucketPartners, bucketOffers, bucketSales, bucketMetrics,
		bucketActivations, bucketOfferOwner, bucketSaleOwner, bucketEnvelopes}
	// bucketTiers is created only by WriteTiers.
	partnerBuckets = [][]byte{bucketOffers, bucketSales, bucketMetrics, bucketActivations}
)

// Meta keys.
var (
	keyCheckpoint  = []byte("checkpoint")   // last stream sequence folded
	keySchema      = []byte("schema")       // read model layout version
	keyEvents      = []byte("events")       // events folded
	keyPartners    = []byte("partners")     // partners created
	keyPolicy      = []byte("policy")       // version@digest of the policy the tiers bucket was computed under
	keyForeign     = []byte("foreign")      // records skipped as not the ledger's (absent until there is one)
	keyLastForeign = []byte("last_foreign") // the last one's sequence
)

// schemaVersion changes when the layout or codec changes: a file with another
// version is rebuilt from the log.
const schemaVersion = 5

// SchemaVersion is the read models' layout version: a fold's digest is a
// digest of this layout (tests pin digests per version).
const SchemaVersion = schemaVersion

// ErrSchema reports a read model file of another layout version.
var ErrSchema = errors.New("projections: read model schema differs")

// Store is an open read model file.
type Store struct {
	db       *bolt.DB
	path     string
	released *releaser // nil when ReleaseEvery(0)
	// writes counts the write transactions that have finished (see
	// Writes); it is bumped after each one returns, committed or not.
	writes atomic.Uint64
}

// Writes returns how many write transactions on the read models have
// finished since Open. A reader that reads it before reading something from
// the store, and later reads the same count again, knows that no write
// finished in between: what it read is still what the store holds, but for
// a write finishing at that moment, which the projector publishes (its
// checkpoint) only after this count moves. The query cache uses it to
// answer a repeated question without opening a read transaction.
func (s *Store) Writes() uint64 { return s.writes.Load() }

// ReadTransactions returns how many read transactions have been opened on
// the read models since Open (bbolt's count): how often the queries, the
// writer's snapshots and the page release read the file.
func (s *Store) ReadTransactions() int { return s.db.Stats().TxN }

// update runs fn in a write transaction and then counts it in Writes.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	defer s.writes.Add(1)
	return s.db.Update(fn)
}

// Option configures Open.
type Option func(*options)

type options struct {
	bolt    bolt.Options
	release time.Duration
}

// NoSync skips fsync on commit: for rebuilding into a fresh file, which is
// synced once at the end and discarded if the rebuild fails.
func NoSync() Option { return func(o *options) { o.bolt.NoSync = true } }

// ReadOnly opens the file for reading only (auditing a copy).
func ReadOnly() Option { return func(o *options) { o.bolt.ReadOnly = true } }

// ReleaseEvery sets how often the store hands the file's mapped pages back
// to the kernel (see releaser; default releaseInterval). Zero never does:
// every page a fold or a query touched then stays in the process's
// resident set until the file is closed.
func ReleaseEvery(d time.Duration) Option { return func(o *options) { o.release = max(d, 0) } }

// Open opens (creating if needed) a read model file. It refuses a file of
// another schema version with ErrSchema, and reports a damaged file as an
// error, so the caller can rebuild from the log.
func Open(path string, opts ...Option) (*Store, error) {
	o := &options{
		bolt: bolt.Options{
			Timeout:         5 * time.Second,
			FreelistType:    bolt.FreelistMapType,
			NoFreelistSync:  true,
			InitialMmapSize: 64 << 20,
		},
		release: releaseInterval,
	}
	for _, opt := range opts {
		opt(o)
	}
	db, err := bolt.Open(path, 0o600, &o.bolt)
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(o.bolt.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	if o.release > 0 {
		s.released = startReleaser(s, o.release)
	}
	return s, nil
}

func (s *Store) init(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("%w: no meta bucket", ErrSchema)
		}
		if v := meta.Get(keySchema); len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("%w: file has %x, this build reads %d", ErrSchema, v, schemaVersion)
		}
		return nil
	}
	if readOnly {
		return s.db.View(check)
	}
	return s.update(func(tx *bolt.Tx) error {
		fresh := tx.Bucket(bucketMeta) == nil
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if fresh {
			return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion))
		}
		return check(tx)
	})
}

// Close closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	s.released.stop()
	return s.db.Close()
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Sync flushes the file to disk (after a NoSync rebuild).
func (s *Store) Sync() error { return s.db.Sync() }

// Checkpoint is the last stream sequence folded into the read models.
func (s *Store) Checkpoint() (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		seq = getU64(tx.Bucket(bucketMeta), keyCheckpoint)
		return nil
	})
	return seq, err
}

// Stats are the read models' counters.
type Stats struct {
	Checkpoint uint64 `json:"checkpoint"`
	Events     uint64 `json:"events"`
	Partners   uint64 `json:"partners"`
	FileBytes  int64  `json:"file_bytes"`
	// FreeBytes is the part of FileBytes in pages no fact holds: freed by
	// earlier transactions (some kept until the reads that see them end),
	// reused by later ones before the file grows.
	FreeBytes int64 `json:"free_bytes"`
	// Foreign counts the records of the log the fold skipped as not written
	// by the ledger (FoldBatch); LastForeign is the last one's sequence.
	Foreign     uint64 `json:"foreign_events"`
	LastForeign uint64 `json:"last_foreign_seq"`
}

// Stats reads the counters.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		dbst := s.db.Stats()
		st = Stats{FreeBytes: int64(dbst.FreePageN+dbst.PendingPageN) * int64(s.db.Info().PageSize), Checkpoint: getU64(meta, keyCheckpoint), Events: getU64(meta, keyEvents), Partners: getU64(meta, keyPartners), FileBytes: tx.Size(),
			Foreign: getU64(meta, keyForeign), LastForeign: getU64(meta, keyLastForeign)}
		return nil
	})
	return st, err
}

// Remove deletes a read model file and its lock, if any.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, key []byte) uint64 {
	if v := b.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// pkey builds a partner-scoped key: partner, 0, rest.
func pkey(partner string, rest []byte) []byte {
	k := make([]byte, 0, len(partner)+1+len(rest))
	k = append(k, partner...)
	k = append(k, 0)
	return append(k, rest...)
}

// prefix is the key prefix of a partner's facts.
func prefix(partner string) []byte { return pkey(partner, nil) }
