package projections

import bolt "go.etcd.io/bbolt"

// PartnerIDsFrom calls fn with every partner id ≥ from, in order, until fn
// returns an error (returned as is; ErrStop ends the walk with nil).
func (s *Store) PartnerIDsFrom(from string, fn func(id string) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPartners).Cursor()
		for k, _ := c.Seek([]byte(from)); k != nil; k, _ = c.Next() {
			if err := fn(string(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == ErrStop {
		return nil
	}
	return err
}

// ErrStop ends a walk early without an error.
var ErrStop = stopError{}

type stopError struct{}

func (stopError) Error() string { return "projections: walk stopped" }
