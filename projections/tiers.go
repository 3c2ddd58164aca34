package projections

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// WriteTiers computes every partner's held-tier history under pol, as known
// at the file's checkpoint, and stores it in the tiers bucket with the
// policy's identity. Replay files carry it so that an auditor can diff the
// tiers two policies give (a what-if) from the files alone. The facts do not
// depend on the policy; these documents do.
func (s *Store) WriteTiers(pol *domain.Policy) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketTiers); err != nil && !errors.Is(err, bberrors.ErrBucketNotFound) {
			return err
		}
		b, err := tx.CreateBucket(bucketTiers)
		if err != nil {
			return err
		}
		c := cached(tx)
		err = tx.Bucket(bucketPartners).ForEach(func(k, _ []byte) error {
			p, err := loadPartner(c, string(k))
			if err != nil {
				return err
			}
			v, err := json.Marshal(domain.TierChanges(pol, p, domain.AllKnown))
			if err != nil {
				return err
			}
			return b.Put(k, v)
		})
		if err != nil {
			return fmt.Errorf("projections: tiers: %w", err)
		}
		return tx.Bucket(bucketMeta).Put(keyPolicy, []byte(pol.ID()))
	})
}

// Tiers returns the stored held-tier history of a partner (nil when the file
// has no tiers bucket or no such partner) and the policy it was computed under.
func (s *Store) Tiers(partner string) ([]domain.TierChange, string, error) {
	var out []domain.TierChange
	var policy string
	err := s.db.View(func(tx *bolt.Tx) error {
		policy = string(tx.Bucket(bucketMeta).Get(keyPolicy))
		b := tx.Bucket(bucketTiers)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(partner))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &out)
	})
	return out, policy, err
}
