package projections

import bolt "go.etcd.io/bbolt"

// BucketSize is what one top-level bucket of the read models costs.
type BucketSize struct {
	// InUse is the bytes its pages hold (elements, keys, values and page
	// headers; nested buckets included).
	InUse int64 `json:"in_use"`
	// Pages is the bytes of the pages it occupies (an inline bucket's, its
	// bytes inside its parent's page): InUse over Pages is how full its
	// pages are.
	Pages int64 `json:"pages"`
}

// BucketBytes returns what each top-level bucket of the read models costs:
// what each kind of fact takes on disk. The file is larger by its free
// pages and bbolt's meta pages. It reads every page: statistics, not a
// query.
func (s *Store) BucketBytes() (map[string]BucketSize, error) {
	out := map[string]BucketSize{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			out[string(name)] = BucketSize{InUse: int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse),
				Pages: int64(st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse)}
			return nil
		})
	})
	return out, err
}
