package projections

import (
	"bytes"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestBucketCache: in a read-only transaction the cache hands out, for
// every bucket of the store and for one it does not have, what Tx.Bucket
// does, and the same *Bucket each time it is asked again.
func TestBucketCache(t *testing.T) {
	s := openTemp(t, "rm.db")
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPartners).Put([]byte("P-1"), []byte("x")) })
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := cached(tx)
		for round := range 2 {
			for _, name := range append(allBuckets, []byte("no-such-bucket")) {
				got, want := c.Bucket(name), tx.Bucket(name)
				if (got == nil) != (want == nil) {
					t.Fatalf("round %d, %s: cache has %v, the transaction %v", round, name, got != nil, want != nil)
				}
				if got != nil && string(got.Get([]byte("P-1"))) != string(want.Get([]byte("P-1"))) {
					t.Fatalf("round %d, %s: the cached bucket reads otherwise", round, name)
				}
				if again := c.Bucket(name); again != got {
					t.Fatalf("round %d, %s: asked again, another *Bucket", round, name)
				}
			}
		}
		if len(c.open) != len(allBuckets)+1 {
			t.Fatalf("the cache opened %d buckets for %d names", len(c.open), len(allBuckets)+1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBucketCacheGet: a lookup through the cache's kept cursor answers what
// Bucket.Get does, for keys present, absent before, between and after the
// bucket's keys, a nested bucket's key and a bucket that does not exist,
// in a read-only transaction and in a writable one between its Puts.
func TestBucketCacheGet(t *testing.T) {
	s := openTemp(t, "rm.db")
	var keys [][]byte
	for i := range 2000 { // several leaves: lookups that fall past a leaf's last key
		keys = append(keys, fmt.Appendf(nil, "K-%05d", 2*i))
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPartners)
		for _, k := range keys {
			if err := b.Put(k, append([]byte("v-"), k...)); err != nil {
				return err
			}
		}
		_, err := b.CreateBucket([]byte("K-00001")) // between two keys
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	probes := [][]byte{[]byte("A"), []byte("K-00001"), []byte("K-00003"), []byte("K-03999"), []byte("K-04000"), []byte("Z"), {}}
	probes = append(probes, keys...)
	check := func(t *testing.T, tx *bolt.Tx, c *bucketCache) {
		for _, name := range [][]byte{bucketPartners, []byte("no-such-bucket")} {
			for _, k := range probes {
				var want []byte
				if b := tx.Bucket(name); b != nil {
					want = b.Get(k)
				}
				if got := c.get(name, k); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("%s %q: the cache finds %q, Bucket.Get %q", name, k, got, want)
				}
			}
		}
	}
	t.Run("read-only", func(t *testing.T) {
		s.db.View(func(tx *bolt.Tx) error { check(t, tx, cached(tx)); return nil })
	})
	t.Run("writable, between Puts", func(t *testing.T) {
		s.db.Update(func(tx *bolt.Tx) error {
			c := cached(tx)
			check(t, tx, c)
			b := tx.Bucket(bucketPartners)
			for i := range 500 { // new keys in every leaf, and splits
				k := fmt.Appendf(nil, "K-%05d", 8*i+1)
				if i%50 == 0 {
					k = fmt.Appendf(nil, "K-%05d", 8*i+3) // not the nested bucket's key
				}
				if err := b.Put(k, []byte("new")); err != nil {
					t.Fatal(err)
				}
				probes = append(probes, k)
			}
			if err := b.Delete(keys[7]); err != nil {
				t.Fatal(err)
			}
			check(t, tx, c)
			return nil
		})
	})
}
