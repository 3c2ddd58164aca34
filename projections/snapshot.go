package projections

import (
	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent read-only view of the read models at one
// checkpoint: the writer decides a whole group of lines against one, instead
// of opening a transaction per lookup. Close it promptly: an open snapshot
// keeps bbolt from reusing the pages it sees.
type Snapshot struct {
	tx         *bolt.Tx
	b          *bucketCache // tx's buckets, for the lookups
	checkpoint uint64
}

// Snapshot opens a snapshot.
func (s *Store) Snapshot() (*Snapshot, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	b := cached(tx)
	return &Snapshot{tx: tx, b: b, checkpoint: getU64(b.Bucket(bucketMeta), keyCheckpoint)}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Checkpoint is the sequence the snapshot holds everything up to.
func (sn *Snapshot) Checkpoint() uint64 { return sn.checkpoint }

// Partner loads a partner's facts (nil when it does not exist).
func (sn *Snapshot) Partner(id string) (*domain.Partner, error) { return loadPartner(sn.b, id) }

// PartialPartner loads a partner's facts without its sales, which src
// supplies as decisions need them.
func (sn *Snapshot) PartialPartner(id string, src domain.SaleSource) (*domain.Partner, error) {
	return loadFacts(sn.b, id, src)
}

// Sale loads one sale of a partner (nil when it does not exist).
func (sn *Snapshot) Sale(partner, id string) (*domain.Sale, error) {
	s, err := saleIn(sn.b, partner, id)
	return s, decodeErr(err)
}

// Sales loads every sale of a partner.
func (sn *Snapshot) Sales(partner string) ([]*domain.Sale, error) {
	sales, err := salesIn(sn.b, partner)
	return sales, decodeErr(err)
}

// Envelope returns the sequence and fingerprint of the envelope recorded
// under id, ok false when there is none (domain.Directory).
func (sn *Snapshot) Envelope(id string) (seq uint64, fp domain.Fingerprint, ok bool) {
	return envelopeIn(sn.b, id)
}

// OfferOwner returns the partner that published offer id, ok false when
// the offer is unknown (domain.Directory).
func (sn *Snapshot) OfferOwner(id string) (string, bool) { return offerOwnerIn(sn.b, id) }

// SaleOwner returns the partner a sale id was billed to, ok false when the
// sale is unknown (domain.Directory).
func (sn *Snapshot) SaleOwner(id string) (string, bool) {
	partner, _, ok, _ := saleOwnerIn(sn.b, id) // a damaged entry: see Directory
	return partner, ok
}
