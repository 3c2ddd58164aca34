package projections

import (
	"bytes"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// Partner loads a partner's facts (nil when the partner does not exist) and
// the checkpoint they are consistent with, from one read transaction.
func (s *Store) Partner(id string) (*domain.Partner, uint64, error) {
	var p *domain.Partner
	var cp uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		cp = getU64(tx.Bucket(bucketMeta), keyCheckpoint)
		var err error
		p, err = loadPartner(cached(tx), id)
		return err
	})
	return p, cp, err
}

func loadPartner(tx *bucketCache, id string) (*domain.Partner, error) {
	return loadFacts(tx, id, nil)
}

// loadFacts loads a partner's facts; with a SaleSource, all but its sales,
// which the source supplies on demand (domain.RestorePartial).
func loadFacts(tx *bucketCache, id string, src domain.SaleSource) (*domain.Partner, error) {
	v := tx.get(bucketPartners, []byte(id))
	if v == nil {
		return nil, nil
	}
	core, err := decodeCore(v)
	if err != nil {
		return nil, fmt.Errorf("partner %s: %w", id, err)
	}
	offers, err := scanPartner(tx, bucketOffers, id, valueOnly(decodeOffer))
	if err != nil {
		return nil, err
	}
	metrics, err := scanPartner(tx, bucketMetrics, id, valueOnly(decodeMetric))
	if err != nil {
		return nil, err
	}
	acts, err := scanPartner(tx, bucketActivations, id, valueOnly(decodeActivation))
	if err != nil {
		return nil, err
	}
	if src != nil {
		return domain.RestorePartial(core, offers, metrics, acts, src), nil
	}
	sales, err := salesIn(tx, id)
	if err != nil {
		return nil, err
	}
	return domain.RestorePartner(core, offers, sales, metrics, acts), nil
}

// scanPartner decodes every value of one partner's key range in a bucket.
func scanPartner[T any](tx *bucketCache, bucket []byte, id string, decode func(k, v []byte) (*T, error)) ([]*T, error) {
	var out []*T
	pre := prefix(id)
	c := tx.Bucket(bucket).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		x, err := decode(k, v)
		if err != nil {
			return nil, fmt.Errorf("partner %s: %s: %w", id, bucket, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// valueOnly adapts a decoder of values to scanPartner, for facts whose key
// repeats what the value holds.
func valueOnly[T any](decode func([]byte) (*T, error)) func(k, v []byte) (*T, error) {
	return func(_, v []byte) (*T, error) { return decode(v) }
}

// PartnerLastSeq returns the sequence of a partner's latest folded event (0
// when unknown), without loading its facts.
func (s *Store) PartnerLastSeq(id string) (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPartners).Get([]byte(id))
		if v == nil {
			return nil
		}
		var err error
		seq, err = peekLastSeq(v)
		return err
	})
	return seq, err
}

// PartnerIDs calls fn for every partner, in id order.
func (s *Store) PartnerIDs(fn func(id string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPartners).ForEach(func(k, _ []byte) error { return fn(string(k)) })
	})
}
