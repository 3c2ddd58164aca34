package projections

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// buckets hands out a transaction's top-level buckets: a *bolt.Tx itself,
// or a bucketCache over a read-only one. The lookups the writer and the
// fold share (envelopeIn, saleIn, loadFacts…) take it.
type buckets interface {
	Bucket(name []byte) *bolt.Bucket
}

// bucketCache opens each top-level bucket of a read-only transaction once.
// bbolt caches the buckets of a writable transaction, but in a read-only one
// every Tx.Bucket seeks the root page and allocates a Bucket: the writer's
// snapshot asks for one on each of its lookups, four or more per event, and
// that was 1.7% of ingest's CPU. Not safe for concurrent use, like the
// Snapshot that holds it.
type bucketCache struct {
	tx   *bolt.Tx
	open []openBucket // one per bucket asked for: the store has ten
}

type openBucket struct {
	name []byte
	b    *bolt.Bucket
}

// Bucket returns the bucket called name, nil when there is none.
func (c *bucketCache) Bucket(name []byte) *bolt.Bucket {
	for _, o := range c.open {
		if bytes.Equal(o.name, name) {
			return o.b
		}
	}
	b := c.tx.Bucket(name)
	c.open = append(c.open, openBucket{name, b})
	return b
}
