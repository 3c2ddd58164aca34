package projections

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Digest identifies the read models' content: the same log folded gives the
// same digest on any machine, whatever the batch sizes, crashes and resumes
// along the way, because the content is a deterministic function of the log
// (no wall clock, a deterministic codec) and bbolt iterates in key order.
type Digest struct {
	Checkpoint uint64            `json:"checkpoint"`
	Sum        string            `json:"digest"`           // the facts: the fold of the log, policy-independent
	Tiers      string            `json:"tiers,omitempty"`  // the held-tier histories of a replay file, with their policy
	Policy     string            `json:"policy,omitempty"` // the policy those tiers were computed under
	Partners   map[string]string `json:"-"`                // per-partner digests, to name what differs
}

// Digest hashes every bucket: the global index and counters as a whole, and
// each partner's facts apart so that a difference can be traced to partners.
func (s *Store) Digest() (Digest, error) {
	var d Digest
	err := s.db.View(func(tx *bolt.Tx) error {
		d.Checkpoint = getU64(tx.Bucket(bucketMeta), keyCheckpoint)
		per := map[string]hash.Hash{}
		partnerHash := func(id string) hash.Hash {
			h, ok := per[id]
			if !ok {
				h = sha256.New()
				per[id] = h
			}
			return h
		}
		all := sha256.New()
		for _, name := range allBuckets {
			if bytes.Equal(name, bucketTiers) {
				continue
			}
			scoped := bytes.Equal(name, bucketPartners) || slices.ContainsFunc(partnerBuckets, func(b []byte) bool { return bytes.Equal(b, name) })
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				if bytes.Equal(name, bucketMeta) && bytes.Equal(k, keyPolicy) {
					return nil
				}
				writeKV(all, name, k, v)
				if scoped {
					id := k
					if i := bytes.IndexByte(k, 0); i >= 0 {
						id = k[:i]
					}
					writeKV(partnerHash(string(id)), name, k, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		d.Sum = hex.EncodeToString(all.Sum(nil))
		if b := tx.Bucket(bucketTiers); b != nil {
			d.Policy = string(tx.Bucket(bucketMeta).Get(keyPolicy))
			h := sha256.New()
			writeKV(h, bucketMeta, keyPolicy, []byte(d.Policy))
			if err := b.ForEach(func(k, v []byte) error {
				writeKV(h, bucketTiers, k, v)
				writeKV(partnerHash(string(k)), bucketTiers, k, v)
				return nil
			}); err != nil {
				return err
			}
			d.Tiers = hex.EncodeToString(h.Sum(nil))
		}
		d.Partners = make(map[string]string, len(per))
		for id, h := range per {
			d.Partners[id] = hex.EncodeToString(h.Sum(nil))
		}
		return nil
	})
	return d, err
}

// writeKV hashes one entry unambiguously (lengths before contents).
func writeKV(h hash.Hash, bucket, k, v []byte) {
	var n [8]byte
	for _, b := range [][]byte{bucket, k, v} {
		l := len(b)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
}
