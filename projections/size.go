package projections

import bolt "go.etcd.io/bbolt"

// BucketBytes returns, for each top-level bucket of the read models, the
// bytes its pages hold in use (branch and leaf pages, nested buckets
// included): what each kind of fact costs on disk. The file is larger by
// its free pages and bbolt's meta pages.
func (s *Store) BucketBytes() (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			out[string(name)] = int64(st.BranchInuse + st.LeafInuse + st.InlineBucketInuse)
			return nil
		})
	})
	return out, err
}
