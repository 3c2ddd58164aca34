package projections

import (
	"io"

	bolt "go.etcd.io/bbolt"
)

// Copy is a consistent copy of the read models as of one checkpoint, to be
// written out (a backup a new replica or a lost file is restored from). It
// holds one read transaction: close it promptly, since an open one keeps
// bbolt from reusing the pages it sees.
type Copy struct{ tx *bolt.Tx }

// Copy starts a copy of the file as it is now.
func (s *Store) Copy() (*Copy, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return &Copy{tx: tx}, nil
}

// Checkpoint is the last stream sequence the copy holds.
func (c *Copy) Checkpoint() uint64 { return getU64(c.tx.Bucket(bucketMeta), keyCheckpoint) }

// Size is the copy's size in bytes.
func (c *Copy) Size() int64 { return c.tx.Size() }

// WriteTo writes the whole file, as of the copy, to w: a bbolt file that
// Open and Check accept. It reads the file with read(2), not through the
// mapping, so it adds nothing to the process's resident memory.
func (c *Copy) WriteTo(w io.Writer) (int64, error) { return c.tx.WriteTo(w) }

// Close ends the copy's transaction.
func (c *Copy) Close() error { return c.tx.Rollback() }
