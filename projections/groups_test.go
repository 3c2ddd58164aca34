package projections

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestIndexGroups: ids written to a grouped index in any batching read
// back with their last value, ids never written read as absent, and the
// bucket's bytes are the same whatever the batches (the digest depends on
// the log, not on where the fold cut it).
func TestIndexGroups(t *testing.T) {
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("S-%d", i)) // "S-1" < "S-10" < "S-2": a group's ids do not sort together
	}
	ids = append(ids, "x", "y", "~", "id-with-a-long-shared-prefix-0123456789abcdef-zz")
	slices.Sort(ids) // in key order a group's ids are apart, with other groups' between them
	value := func(id string, round int) []byte { return fmt.Appendf(nil, "%s@%d", id, round) }
	var want []byte
	for _, batch := range []int{1, 7, 64, len(ids)} {
		t.Run(fmt.Sprintf("batches of %d", batch), func(t *testing.T) {
			s := openTemp(t, "rm.db")
			for round := range 2 { // the second round rewrites every id
				for i := 0; i < len(ids); i += batch {
					err := s.db.Update(func(tx *bolt.Tx) error {
						var ws []write
						for _, id := range ids[i:min(i+batch, len(ids))] {
							ws = append(ws, write{[]byte(id), value(id, round)})
						}
						return putGrouped(tx, ws)
					})
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			var got bytes.Buffer
			err := s.db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketSaleOwner)
				for _, id := range ids {
					v, err := groupGet(cached(tx), bucketSaleOwner, id)
					if err != nil || !bytes.Equal(v, value(id, 1)) {
						t.Errorf("%s: %q, %v; want %q", id, v, err, value(id, 1))
					}
				}
				for _, id := range []string{"S-300", "S-", "S", "z", "id-with-a-long-shared-prefix-0123456789abcdef-z"} {
					if v, err := groupGet(cached(tx), bucketSaleOwner, id); v != nil || err != nil {
						t.Errorf("%s was never written: %q, %v", id, v, err)
					}
				}
				return b.ForEach(func(k, v []byte) error { got.Write(k); got.Write(v); return nil })
			})
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got.Bytes()
			} else if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("the bucket's bytes depend on the batching")
			}
		})
	}
}

// TestDamagedGroups: a group value that does not decode is an error that
// wraps errCorrupt for a lookup and for a batch that merges into it; never
// a value.
func TestDamagedGroups(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    []byte
		// lookupFails: a lookup for S-2 reaches the damage (a lookup stops
		// at the first entry that answers it, so misordered entries
		// before it go unseen; a merge decodes the whole group).
		lookupFails bool
	}{
		{"a length past the end", []byte{'1', 5, 'a'}, true},
		{"a length that does not decode", []byte{'1', 0x80}, true},
		{"entries out of order", []byte{'2', 1, 'a', '1', 1, 'b'}, false},
		{"an entry twice", []byte{'1', 1, 'a', '1', 1, 'b'}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, "rm.db")
			err := s.db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(bucketSaleOwner)
				if err := b.Put(groupKey([]byte("S-1")), tc.v); err != nil {
					return err
				}
				if err := tx.Bucket(bucketEnvelopes).Put(groupKey([]byte("S-1")), tc.v); err != nil {
					return err
				}
				if _, err := groupWrites(cached(tx), bucketSaleOwner, []write{{[]byte("S-3"), []byte("v")}}); !errors.Is(err, errCorrupt) {
					t.Errorf("merging into a damaged group: %v, want errCorrupt", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.lookupFails {
				return
			}
			s.db.View(func(tx *bolt.Tx) error {
				if v, err := groupGet(cached(tx), bucketSaleOwner, "S-2"); !errors.Is(err, errCorrupt) {
					t.Errorf("a lookup in a damaged group: %q, %v; want errCorrupt", v, err)
				}
				if _, _, ok := envelopeIn(cached(tx), "S-2"); ok {
					t.Errorf("an envelope found in a damaged group")
				}
				return nil
			})
		})
	}
}

// TestGroupWritesLaterWins: when one batch writes an id more than once,
// among other ids of its group and others', the group holds the last
// write's value (the sort's tiebreak on the write's place keeps a stable
// sort's order without its merge).
func TestGroupWritesLaterWins(t *testing.T) {
	s := openTemp(t, "rm.db")
	var ws []write
	for round := range 40 { // enough writes that the sort is not an insertion sort of a few
		for _, id := range []string{"S-3", "S-1", "S-12", "T-1", "S-1"} {
			ws = append(ws, write{[]byte(id), fmt.Appendf(nil, "%s@%d", id, round)})
		}
	}
	ws = append(ws, write{[]byte("S-1"), []byte("last")})
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putGrouped(tx, ws); err != nil {
			return err
		}
		for id, want := range map[string]string{"S-1": "last", "S-3": "S-3@39", "S-12": "S-12@39", "T-1": "T-1@39"} {
			if v, err := groupGet(cached(tx), bucketSaleOwner, id); err != nil || string(v) != want {
				t.Errorf("%s: %q, %v; want %q", id, v, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// putGrouped writes ws into tx's sale_owner index as the fold does: grouped,
// then each group Put.
func putGrouped(tx *bolt.Tx, ws []write) error {
	gs, err := groupWrites(cached(tx), bucketSaleOwner, ws)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketSaleOwner)
	for _, g := range gs {
		if err := b.Put(g.k, g.v); err != nil {
			return err
		}
	}
	return nil
}
