package projections

import (
	"bytes"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// buckets hands out a transaction's top-level buckets: a *bolt.Tx itself,
// or a bucketCache over one (which get then looks up through kept cursors). The lookups the writer and the
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
	key  []byte       // scratch for the key of a lookup (groupKeyOf)
}

type openBucket struct {
	name []byte
	b    *bolt.Bucket
	c    *bolt.Cursor // for get: made on its first lookup
}

// Bucket returns the bucket called name, nil when there is none.
func (c *bucketCache) Bucket(name []byte) *bolt.Bucket {
	for _, o := range c.open {
		if bytes.Equal(o.name, name) {
			return o.b
		}
	}
	b := c.tx.Bucket(name)
	c.open = append(c.open, openBucket{name: name, b: b})
	return b
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
	i := slices.IndexFunc(c.open, func(o openBucket) bool { return bytes.Equal(o.name, name) })
	if i < 0 {
		c.Bucket(name)
		i = len(c.open) - 1
	}
	o := &c.open[i]
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

// get looks key up in the bucket called name of tx: through a
// bucketCache's kept cursor when tx is one, else with Bucket.Get.
func get(tx buckets, name, key []byte) []byte {
	if c, ok := tx.(*bucketCache); ok {
		return c.get(name, key)
	}
	if b := tx.Bucket(name); b != nil {
		return b.Get(key)
	}
	return nil
}
