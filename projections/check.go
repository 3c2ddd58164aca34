package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged reports a read model file that is not a sound bbolt file: it
// must be rebuilt from the log.
var ErrDamaged = errors.New("projections: read model file is damaged")

// ErrInUse reports a read model file locked by another process.
var ErrInUse = errors.New("projections: read model file is in use by another process")

// Check reads a read model file through, trusting nothing in it, and reports
// damage as an error wrapping ErrDamaged — where bbolt would crash the whole
// process. bbolt maps the file and follows its page pointers unchecked: a
// truncated file faults (SIGBUS) on the first page past its end, a garbled
// page fails an assertion or indexes out of range, and a page whose keys are
// out of order makes the walk that rebuilds the free list panic while its
// own goroutine still reads through a transaction just rolled back. That
// walk runs in every writable Open (the free list is not synced), so a
// damaged file would crash every start.
//
// Check walks the file's pages itself, with plain reads and every offset
// checked, and verifies what that walk verifies: meta pages, every page
// reachable from the buckets (nested and inline ones included) within the
// file and its high-water mark, referenced once, of the right type and
// identifying itself, with its elements inside it, and the keys in order
// within and across pages. A file that passes opens and reads without a
// fault. It does not see values garbled within sound pages: only comparing
// with a rebuild does (`ledger verify`).
//
// A missing or empty file passes (Open creates it). Check reads the whole
// file: run it at start, not on every Open (0.25 s for the 250 MB read models
// of 600,000 events, 0.55 s from a cold cache; bbolt's own walk at Open takes
// 0.15 s).
func Check(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("projections: check %s: %w", path, err)
	}
	if st.Size() == 0 {
		return nil
	}
	// bbolt's read-only open takes the file's lock and validates the meta
	// pages (checksums); it reads nothing else.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s", ErrInUse, path)
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	defer db.Close()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("projections: check %s: %w", path, err)
	}
	defer f.Close()
	if err := checkPages(f, st.Size()); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	return nil
}

// The bbolt file format (go.etcd.io/bbolt/internal/common), as Check needs it.
const (
	pageHeaderSize  = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize     = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	inBucketSize    = 16 // root pgid uint64, sequence uint64
	metaSize        = 64 // magic, version, pageSize, flags uint32; root InBucket; freelist, pgid, txid, checksum uint64
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	metaPageFlag    = 0x04
	freelistFlag    = 0x10
	bucketLeafFlag  = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pgidNoFreelist  = ^uint64(0)
	maxCheckedDepth = 64
)

var le = binary.LittleEndian

type meta struct {
	pageSize           uint64
	root, freelist, hw uint64 // root bucket's page, freelist page, high-water mark
	txid               uint64
}

// readMeta parses and validates the meta page at page index i.
func readMeta(f io.ReaderAt, i int64, pageSize int64) (meta, error) {
	b := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(b, i*pageSize); err != nil {
		return meta{}, err
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	switch {
	case le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion:
		return meta{}, errors.New("not a meta page")
	case le.Uint64(m[56:]) != h.Sum64():
		return meta{}, errors.New("meta page checksum")
	case le.Uint16(b[8:]) != metaPageFlag:
		return meta{}, errors.New("meta page flags")
	}
	return meta{pageSize: uint64(le.Uint32(m[8:])), root: le.Uint64(m[16:]), freelist: le.Uint64(m[32:]),
		hw: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, nil
}

// checker walks a file's pages.
type checker struct {
	f    io.ReaderAt
	ps   uint64   // page size
	hw   uint64   // high-water mark: pages in use are below it
	seen []uint64 // bitmap of the pages reached
}

func checkPages(f io.ReaderAt, size int64) error {
	// The meta bbolt uses: the valid one with the higher transaction id.
	// Its page size is read from the first valid one, as bbolt does.
	m0, err0 := readMeta(f, 0, 0)
	ps := int64(m0.pageSize)
	if err0 != nil {
		// meta 1 sits one page in: try the page sizes bbolt allows.
		for try := int64(1024); try <= 1<<16; try *= 2 {
			if m1, err := readMeta(f, 1, try); err == nil && int64(m1.pageSize) == try {
				ps = try
				break
			}
		}
	}
	if ps < 1024 || ps > 1<<16 {
		return fmt.Errorf("page size %d", ps)
	}
	m1, err1 := readMeta(f, 1, ps)
	var m meta
	switch {
	case err0 != nil && err1 != nil:
		return fmt.Errorf("both meta pages invalid: %v; %v", err0, err1)
	case err1 != nil || (err0 == nil && m0.txid >= m1.txid):
		m = m0
	default:
		m = m1
	}
	if m.pageSize != uint64(ps) {
		return fmt.Errorf("meta pages disagree on the page size (%d, %d)", ps, m.pageSize)
	}
	if m.hw < 3 || m.hw > uint64(size)/m.pageSize {
		return fmt.Errorf("the file is %d bytes but its pages reach %d: truncated", size, m.hw*m.pageSize)
	}
	c := &checker{f: f, ps: m.pageSize, hw: m.hw, seen: make([]uint64, (m.hw+63)/64)}
	c.mark(0, 0)
	c.mark(1, 0)
	if m.freelist != pgidNoFreelist {
		p, err := c.page(m.freelist, freelistFlag)
		if err != nil {
			return fmt.Errorf("free list: %v", err)
		}
		n := uint64(le.Uint16(p[10:]))
		if n == 0xFFFF { // the count is the first element
			if len(p) < pageHeaderSize+8 {
				return errors.New("free list: short page")
			}
			n = le.Uint64(p[pageHeaderSize:]) + 1
		}
		if n > uint64(len(p)-pageHeaderSize)/8 {
			return fmt.Errorf("free list: %d entries overrun the page", n)
		}
	}
	_, err := c.tree(m.root, nil, nil, 0)
	return err
}

// mark records pages id..id+overflow as reached; false if one already was.
func (c *checker) mark(id, overflow uint64) bool {
	for p := id; p <= id+overflow; p++ {
		if c.seen[p/64]&(1<<(p%64)) != 0 {
			return false
		}
		c.seen[p/64] |= 1 << (p % 64)
	}
	return true
}

// page reads page id (with its overflow pages), checking it lies below the
// high-water mark, identifies itself, has the expected type (0: branch or
// leaf) and is reached for the first time.
func (c *checker) page(id uint64, want uint16) ([]byte, error) {
	if id < 2 || id >= c.hw {
		return nil, fmt.Errorf("page %d beyond the high-water mark %d", id, c.hw)
	}
	p := make([]byte, c.ps)
	if _, err := c.f.ReadAt(p, int64(id*c.ps)); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	self, flags, overflow := le.Uint64(p), le.Uint16(p[8:]), uint64(le.Uint32(p[12:]))
	switch {
	case self != id:
		return nil, fmt.Errorf("page %d identifies as %d", id, self)
	case want == 0 && flags != branchPageFlag && flags != leafPageFlag, want != 0 && flags != want:
		return nil, fmt.Errorf("page %d: unexpected type %#x", id, flags)
	case id+overflow >= c.hw:
		return nil, fmt.Errorf("page %d: %d overflow pages run past the high-water mark %d", id, overflow, c.hw)
	case !c.mark(id, overflow):
		return nil, fmt.Errorf("page %d referenced twice", id)
	}
	if overflow > 0 {
		p = append(p, make([]byte, overflow*c.ps)...)
		if _, err := c.f.ReadAt(p[c.ps:], int64((id+1)*c.ps)); err != nil {
			return nil, fmt.Errorf("page %d: %v", id, err)
		}
	}
	return p, nil
}

// tree checks the subtree rooted at page id: every key in [min, max) (nil:
// unbounded) and in order, as bbolt's own check has it, and the buckets its
// leaves hold. It returns the subtree's last key.
func (c *checker) tree(id uint64, min, max []byte, depth int) ([]byte, error) {
	if depth > maxCheckedDepth {
		return nil, fmt.Errorf("page %d: tree deeper than %d", id, maxCheckedDepth)
	}
	p, err := c.page(id, 0)
	if err != nil {
		return nil, err
	}
	if le.Uint16(p[8:]) == leafPageFlag {
		return c.leaf(p, id, min, max, depth)
	}
	n := int(le.Uint16(p[10:]))
	if pageHeaderSize+n*elementSize > len(p) {
		return nil, fmt.Errorf("branch page %d: %d elements overrun it", id, n)
	}
	key := func(i int) ([]byte, uint64, error) {
		e := pageHeaderSize + i*elementSize
		k, err := span(p, uint64(e)+uint64(le.Uint32(p[e:])), le.Uint32(p[e+4:]))
		if err != nil {
			return nil, 0, fmt.Errorf("branch page %d element %d: %v", id, i, err)
		}
		return k, le.Uint64(p[e+8:]), nil
	}
	running, last := min, []byte(nil)
	for i := range n {
		k, child, err := key(i)
		if err != nil {
			return nil, err
		}
		if err := inOrder(i, k, running, max); err != nil {
			return nil, fmt.Errorf("branch page %d: %v", id, err)
		}
		next := max
		if i < n-1 {
			if next, _, err = key(i + 1); err != nil {
				return nil, err
			}
		}
		if last, err = c.tree(child, k, next, depth+1); err != nil {
			return nil, err
		}
		running = last
	}
	return last, nil
}

// leaf checks a leaf page (or an inline bucket's page, id 0) and the
// buckets it holds.
func (c *checker) leaf(p []byte, id uint64, min, max []byte, depth int) ([]byte, error) {
	if len(p) < pageHeaderSize {
		return nil, fmt.Errorf("inline page in a %d-byte bucket value", len(p))
	}
	n := int(le.Uint16(p[10:]))
	if pageHeaderSize+n*elementSize > len(p) {
		return nil, fmt.Errorf("leaf page %d: %d elements overrun it", id, n)
	}
	running := min
	for i := range n {
		e := pageHeaderSize + i*elementSize
		flags, pos, ksize, vsize := le.Uint32(p[e:]), le.Uint32(p[e+4:]), le.Uint32(p[e+8:]), le.Uint32(p[e+12:])
		off := uint64(e) + uint64(pos)
		k, err := span(p, off, ksize)
		var v []byte
		if err == nil {
			v, err = span(p, off+uint64(ksize), vsize)
		}
		if err != nil {
			return nil, fmt.Errorf("leaf page %d element %d: %v", id, i, err)
		}
		if err := inOrder(i, k, running, max); err != nil {
			return nil, fmt.Errorf("leaf page %d: %v", id, err)
		}
		running = k
		if flags&bucketLeafFlag != 0 {
			if err := c.bucket(v, k, depth); err != nil {
				return nil, err
			}
		}
	}
	if n == 0 {
		return nil, nil
	}
	return running, nil
}

// bucket checks a bucket from its value in the parent: a tree of pages, or
// an inline page within the value.
func (c *checker) bucket(v, name []byte, depth int) error {
	if len(v) < inBucketSize {
		return fmt.Errorf("bucket %q: %d-byte header", name, len(v))
	}
	if root := le.Uint64(v); root != 0 {
		_, err := c.tree(root, nil, nil, depth+1)
		return err
	}
	inline := v[inBucketSize:]
	if len(inline) < pageHeaderSize || le.Uint16(inline[8:]) != leafPageFlag {
		return fmt.Errorf("bucket %q: inline page is not a leaf", name)
	}
	_, err := c.leaf(inline, 0, nil, nil, depth+1)
	return err
}

// span returns the n bytes of page p at offset start.
func span(p []byte, start uint64, n uint32) ([]byte, error) {
	end := start + uint64(n)
	if end > uint64(len(p)) {
		return nil, fmt.Errorf("bytes %d..%d past the page's %d", start, end, len(p))
	}
	return p[start:end], nil
}

// inOrder is bbolt's key order rule (tx_check.go verifyKeyOrder): the first
// key not below the subtree's lower bound, each key above the previous one,
// all below the upper bound.
func inOrder(i int, key, prev, max []byte) error {
	switch {
	case i == 0 && prev != nil && bytes.Compare(prev, key) > 0:
		return fmt.Errorf("key %x below its parent's %x", key, prev)
	case i > 0 && bytes.Compare(prev, key) >= 0:
		return fmt.Errorf("key %x not above the previous %x", key, prev)
	case max != nil && bytes.Compare(key, max) >= 0:
		return fmt.Errorf("key %x not below the next parent key %x", key, max)
	}
	return nil
}
