package projections

import (
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
		c := &bucketCache{tx: tx}
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
