package projections

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// bucketCache is how the lookups the writer, the fold and the queries share
// (envelopeIn, saleIn, loadFacts…) read a transaction: each top-level bucket
// opened once, and looked up through one cursor kept per bucket (get).
// bbolt caches the buckets of a writable transaction, but in a read-only one
// every Tx.Bucket seeks the root page and allocates a Bucket: the writer's
// snapshot asks for one on each of its lookups, four or more per event, and
// that was 1.7% of ingest's CPU. Not safe for concurrent use, like the
// transaction under it.
type bucketCache struct {
	tx   *bolt.Tx
	open []openBucket // one per bucket asked for: the store has ten
	key  []byte       // scratch for the key of a lookup (groupKeyOf)
}

// cached returns a bucketCache over tx, for the transaction's life.
func cached(tx *bolt.Tx) *bucketCache { return &bucketCache{tx: tx} }

type openBucket struct {
	name []byte
	b    *bolt.Bucket
	c    *bolt.Cursor // for get: made on its first lookup
}

// Bucket returns the bucket called name, nil when there is none.
func (c *bucketCache) Bucket(name []byte) *bolt.Bucket { return c.find(name).b }

// find returns the entry of the bucket called name, opening it on first
// use; the pointer is valid until the next find.
func (c *bucketCache) find(name []byte) *openBucket {
	for i := range c.open {
		if bytes.Equal(c.open[i].name, name) {
			return &c.open[i]
		}
	}
	c.open = append(c.open, openBucket{name: name, b: c.tx.Bucket(name)})
	return &c.open[len(c.open)-1]
}

// get returns the value of key in the bucket called name, as Bucket.Get
// does (nil when the key is absent, is a nested bucket, or the bucket
// does not exist), through one cursor per bucket kept for the
// transaction. Bucket.Get makes a cursor on every call and grows its
// stack from nothing, three allocations a lookup: the sale-owner and
// envelope lookups of an ingest had made a twentieth of all it allocated.
// A kept cursor's Seek starts from the root again and reuses the stack,
// so Puts between lookups (a write transaction's) do not mislead it.
func (c *bucketCache) get(name, key []byte) []byte {
	o := c.find(name)
	if o.b == nil {
		return nil
	}
	if o.c == nil {
		o.c = o.b.Cursor()
	}
	k, v := o.c.Seek(key)
	if v == nil || !bytes.Equal(k, key) {
		return nil
	}
	return v
}
