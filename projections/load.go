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
		p, err = loadPartner(tx, id)
		return err
	})
	return p, cp, err
}

func loadPartner(tx *bolt.Tx, id string) (*domain.Partner, error) {
	return loadFacts(tx, id, nil)
}

// loadFacts loads a partner's facts; with a SaleSource, all but its sales,
// which the source supplies on demand (domain.RestorePartial).
func loadFacts(tx *bolt.Tx, id string, src domain.SaleSource) (*domain.Partner, error) {
	v := tx.Bucket(bucketPartners).Get([]byte(id))
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
	sales, err := scanPartner(tx, bucketSales, id, decodeSale)
	if err != nil {
		return nil, err
	}
	return domain.RestorePartner(core, offers, sales, metrics, acts), nil
}

// scanPartner decodes every value of one partner's key range in a bucket.
func scanPartner[T any](tx *bolt.Tx, bucket []byte, id string, decode func(k, v []byte) (*T, error)) ([]*T, error) {
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

// Directory answers the global index from the read models: domain.Directory.
// Lookups that fail on I/O report "not found"; Err says whether one did.
type Directory struct{ s *Store }

// Directory returns the store's global index.
func (s *Store) Directory() Directory { return Directory{s} }

func (d Directory) Envelope(id string) (seq uint64, fp domain.Fingerprint, ok bool) {
	d.s.db.View(func(tx *bolt.Tx) error {
		seq, fp, ok = decodeEnvelope(tx.Bucket(bucketEnvelopes).Get([]byte(id)))
		return nil
	})
	return seq, fp, ok
}

func (d Directory) OfferOwner(id string) (string, bool) { return d.owner(bucketOfferOwner, id) }
func (d Directory) SaleOwner(id string) (string, bool)  { return d.owner(bucketSaleOwner, id) }

func (d Directory) owner(bucket []byte, id string) (partner string, ok bool) {
	d.s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(id)); v != nil {
			partner, ok = string(v), true
		}
		return nil
	})
	return partner, ok
}

// Snapshot is a consistent read-only view of the read models at one
// checkpoint: the writer decides a whole group of lines against one, instead
// of opening a transaction per lookup. Close it promptly: an open snapshot
// keeps bbolt from reusing the pages it sees.
type Snapshot struct {
	tx         *bolt.Tx
	checkpoint uint64
}

// Snapshot opens a snapshot.
func (s *Store) Snapshot() (*Snapshot, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return &Snapshot{tx: tx, checkpoint: getU64(tx.Bucket(bucketMeta), keyCheckpoint)}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Checkpoint is the sequence the snapshot holds everything up to.
func (sn *Snapshot) Checkpoint() uint64 { return sn.checkpoint }

// Partner loads a partner's facts (nil when it does not exist).
func (sn *Snapshot) Partner(id string) (*domain.Partner, error) { return loadPartner(sn.tx, id) }

// PartialPartner loads a partner's facts without its sales, which src
// supplies as decisions need them.
func (sn *Snapshot) PartialPartner(id string, src domain.SaleSource) (*domain.Partner, error) {
	return loadFacts(sn.tx, id, src)
}

// Sale loads one sale of a partner (nil when it does not exist).
func (sn *Snapshot) Sale(partner, id string) (*domain.Sale, error) {
	k := pkey(partner, []byte(id))
	v := sn.tx.Bucket(bucketSales).Get(k)
	if v == nil {
		return nil, nil
	}
	return decodeSale(k, v)
}

// Sales loads every sale of a partner.
func (sn *Snapshot) Sales(partner string) ([]*domain.Sale, error) {
	return scanPartner(sn.tx, bucketSales, partner, decodeSale)
}

func (sn *Snapshot) Envelope(id string) (seq uint64, fp domain.Fingerprint, ok bool) {
	return decodeEnvelope(sn.tx.Bucket(bucketEnvelopes).Get([]byte(id)))
}

func (sn *Snapshot) OfferOwner(id string) (string, bool) { return sn.owner(bucketOfferOwner, id) }
func (sn *Snapshot) SaleOwner(id string) (string, bool)  { return sn.owner(bucketSaleOwner, id) }

func (sn *Snapshot) owner(bucket []byte, id string) (string, bool) {
	if v := sn.tx.Bucket(bucket).Get([]byte(id)); v != nil {
		return string(v), true
	}
	return "", false
}
