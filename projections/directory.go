package projections

import (
	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// Directory answers the global index from the read models: domain.Directory,
// one read transaction per lookup (the writer decides a group against a
// Snapshot instead). A lookup that fails on I/O reports "not found": the
// decision it serves is then refused, and the file's damage shows in the
// next fold or check.
type Directory struct{ s *Store }

// Directory returns the store's global index, valid while the store is open.
func (s *Store) Directory() Directory { return Directory{s} }

// Envelope returns the sequence and fingerprint of the envelope recorded
// under id, ok false when there is none.
func (d Directory) Envelope(id string) (seq uint64, fp domain.Fingerprint, ok bool) {
	d.s.db.View(func(tx *bolt.Tx) error {
		seq, fp, ok = envelopeIn(cached(tx), id)
		return nil
	})
	return seq, fp, ok
}

// OfferOwner returns the partner that published offer id, ok false when
// the offer is unknown.
func (d Directory) OfferOwner(id string) (partner string, ok bool) {
	d.s.db.View(func(tx *bolt.Tx) error {
		partner, ok = offerOwnerIn(cached(tx), id)
		return nil
	})
	return partner, ok
}

// SaleOwner returns the partner a sale id was billed to, ok false when the
// sale is unknown.
func (d Directory) SaleOwner(id string) (partner string, ok bool) {
	d.s.db.View(func(tx *bolt.Tx) error {
		partner, _, ok, _ = saleOwnerIn(cached(tx), id)
		return nil
	})
	return partner, ok
}

// envelopeIn looks an envelope id up in tx; a group that does not decode
// reads as "not found", as in Directory.
func envelopeIn(tx *bucketCache, id string) (uint64, domain.Fingerprint, bool) {
	v, err := groupGet(tx, bucketEnvelopes, id)
	if err != nil {
		return 0, domain.Fingerprint{}, false
	}
	return decodeEnvelope(v)
}

// offerOwnerIn looks an offer's partner up in tx.
func offerOwnerIn(tx *bucketCache, id string) (string, bool) {
	if v := tx.get(bucketOfferOwner, []byte(id)); v != nil {
		return string(v), true
	}
	return "", false
}
