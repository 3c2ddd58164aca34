package projections

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// PartnerIDsAfter returns up to limit partner ids that sort after after (all
// from the first with after ""), in id order, and whether more follow: one
// page of a scan over every partner, each page a short read transaction.
func (s *Store) PartnerIDsAfter(after string, limit int) (ids []string, more bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPartners).Cursor()
		k, _ := c.First()
		if after != "" {
			k, _ = c.Seek([]byte(after))
			if k != nil && bytes.Equal(k, []byte(after)) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if len(ids) == limit {
				more = true
				return nil
			}
			ids = append(ids, string(k))
		}
		return nil
	})
	return ids, more, err
}
