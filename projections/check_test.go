package projections

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// checkFixture writes a bbolt file as the read models are written (free list
// not synced) with a bucket deep enough for branch pages, a nested bucket
// and an inline one, and returns its path, page size and the root page of
// the big bucket.
func checkFixture(t *testing.T) (path string, pageSize int, root uint64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "models.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	for batch := range 4 { // several commits: some pages freed and reused
		err = db.Update(func(tx *bolt.Tx) error {
			big, err := tx.CreateBucketIfNotExists([]byte("big"))
			if err != nil {
				return err
			}
			for i := range 5000 {
				k := fmt.Appendf(nil, "P-%03d\x00%08d", i%97, batch*5000+i)
				if err := big.Put(k, fmt.Appendf(nil, "value %d of batch %d, padded to take some room", i, batch)); err != nil {
					return err
				}
			}
			nested, err := big.CreateBucketIfNotExists([]byte("nested"))
			if err != nil {
				return err
			}
			for i := range 300 {
				if err := nested.Put(fmt.Appendf(nil, "n-%05d-%d", i, batch), make([]byte, 100)); err != nil {
					return err
				}
			}
			small, err := tx.CreateBucketIfNotExists([]byte("small")) // inline
			if err != nil {
				return err
			}
			return small.Put([]byte("checkpoint"), fmt.Appendf(nil, "%d", batch))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket([]byte("big")).Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pageSize = db.Info().PageSize
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path, pageSize, root
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b ^ byte(i*31)
	}
	return out
}

// TestCheckFindsDamage: Check passes sound files (and missing or empty
// ones), and reports each kind of damage as ErrDamaged without crashing —
// bbolt itself faults or panics, at open, on every one of them.
func TestCheckFindsDamage(t *testing.T) {
	sound, _, _ := checkFixture(t)
	if err := Check(sound); err != nil {
		t.Fatalf("sound file: %v", err)
	}
	if err := Check(filepath.Join(t.TempDir(), "missing.db")); err != nil {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if err := Check(empty); err != nil {
		t.Errorf("empty file: %v", err)
	}

	damages := map[string]func(t *testing.T, path string, ps int, root uint64){
		"truncated": func(t *testing.T, path string, ps int, root uint64) {
			st, _ := os.Stat(path)
			os.Truncate(path, st.Size()/2)
		},
		"both meta pages garbled": func(t *testing.T, path string, ps int, root uint64) {
			writeAt(t, path, 0, fill(2*ps, 0x5A))
		},
		"branch page garbled": func(t *testing.T, path string, ps int, root uint64) {
			writeAt(t, path, int64(root)*int64(ps), fill(ps, 0xC3))
		},
		"branch page zeroed": func(t *testing.T, path string, ps int, root uint64) {
			writeAt(t, path, int64(root)*int64(ps), make([]byte, ps))
		},
		"element table garbled": func(t *testing.T, path string, ps int, root uint64) {
			writeAt(t, path, int64(root)*int64(ps)+pageHeaderSize, fill(64, 0x77))
		},
		"branch key out of order": func(t *testing.T, path string, ps int, root uint64) {
			p := make([]byte, ps)
			f, _ := os.Open(path)
			f.ReadAt(p, int64(root)*int64(ps))
			f.Close()
			if le.Uint16(p[8:]) != branchPageFlag || le.Uint16(p[10:]) < 2 {
				t.Fatalf("root page of big is not a branch with two keys")
			}
			pos := le.Uint32(p[pageHeaderSize+elementSize:])
			writeAt(t, path, int64(root)*int64(ps)+pageHeaderSize+elementSize+int64(pos), []byte{0xFF})
		},
		"child page pointer out of range": func(t *testing.T, path string, ps int, root uint64) {
			b := make([]byte, 8)
			le.PutUint64(b, 1<<40)
			writeAt(t, path, int64(root)*int64(ps)+pageHeaderSize+8, b)
		},
		"two branches share a child": func(t *testing.T, path string, ps int, root uint64) {
			p := make([]byte, ps)
			f, _ := os.Open(path)
			f.ReadAt(p, int64(root)*int64(ps))
			f.Close()
			writeAt(t, path, int64(root)*int64(ps)+pageHeaderSize+elementSize+8, p[pageHeaderSize+8:pageHeaderSize+16])
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			path, ps, root := checkFixture(t)
			damage(t, path, ps, root)
			err := Check(path)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Check: %v, want ErrDamaged", err)
			}
			t.Log(err)
		})
	}
}

// TestCheckedFilesOpenSafely garbles random bytes of a sound file, many
// times: Check either reports ErrDamaged or the file opens (writable, as
// the ledger opens it) and reads through without a fault or a panic, which
// would take the test binary down.
func TestCheckedFilesOpenSafely(t *testing.T) {
	path, _, _ := checkFixture(t)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	damaged, passed := 0, 0
	for range 300 {
		b := bytes.Clone(orig)
		for range 1 + rng.IntN(3) {
			off := rng.IntN(len(b))
			for i := off; i < min(len(b), off+1+rng.IntN(64)); i++ {
				b[i] = byte(rng.Uint32())
			}
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Check(path); err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Check: %v", err)
			}
			damaged++
			continue
		}
		passed++
		db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
		if err != nil {
			t.Fatalf("Check passed a file bbolt cannot open: %v", err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			var walk func(b *bolt.Bucket) error
			walk = func(b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					if v == nil {
						return walk(b.Bucket(k))
					}
					return nil
				})
			}
			return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
		})
		db.Close()
		if err != nil {
			t.Fatalf("Check passed a file that does not read through: %v", err)
		}
	}
	t.Logf("300 garbled copies: %d reported damaged, %d sound enough to open and read", damaged, passed)
}
