package projections

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fillBucket writes keys into a fresh bucket in transactions of batch, each
// at the fill fillFor picks, and returns the share of its leaf pages' bytes
// in use and the fills picked.
func fillBucket(t *testing.T, keys [][]byte, batch int) (float64, []float64) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "fill.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fills []float64
	for i := 0; i < len(keys); i += batch {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			var ws []write
			for _, k := range keys[i:min(i+batch, len(keys))] {
				ws = append(ws, write{k, make([]byte, 19)})
			}
			slices.SortFunc(ws, func(a, b write) int { return bytes.Compare(a.k, b.k) })
			b.FillPercent = fillFor(b, ws)
			fills = append(fills, b.FillPercent)
			for _, w := range ws {
				if err := b.Put(w.k, w.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var st bolt.BucketStats
	db.View(func(tx *bolt.Tx) error { st = tx.Bucket([]byte("b")).Stats(); return nil })
	return float64(st.LeafInuse) / float64(st.LeafAlloc), fills
}

// TestFillForRuns: ids counting up — zero-padded, or not, so that a shorter
// id falls between every ten of a run — are written as runs and their pages
// end up nearly full; random ids keep bbolt's half-full split after the
// first batch, which is all appends.
func TestFillForRuns(t *testing.T) {
	const n, batch = 60_000, 4096
	ids := map[string]func(i int) []byte{
		"padded":   func(i int) []byte { return fmt.Appendf(nil, "S-%09d", i) },
		"unpadded": func(i int) []byte { return fmt.Appendf(nil, "gen-7-%d", i) },
	}
	for name, id := range ids {
		keys := make([][]byte, n)
		for i := range keys {
			keys[i] = id(i + 1)
		}
		fill, fills := fillBucket(t, keys, batch)
		if fill < 0.85 {
			t.Errorf("%s ids: pages %.2f full (fills %v)", name, fill, fills)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%016x-%016x", rng.Uint64(), rng.Uint64())
	}
	_, fills := fillBucket(t, keys, batch)
	if fills[0] != runFill {
		t.Errorf("random ids into an empty bucket: fill %v, want %v", fills[0], runFill)
	}
	for i, f := range fills[1:] {
		if f != bolt.DefaultFillPercent {
			t.Errorf("random ids, batch %d: fill %v, want bbolt's default", i+1, f)
		}
	}
}
