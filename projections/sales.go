package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// Sales are most of the ledger's facts (85% of the bench's events), so they
// are stored in chunks: a partner's sales in the order they were billed,
// saleChunk to a bbolt value, under the key partner, 0, chunk number
// (4 bytes, big-endian). One sale kept under its own key cost a 16-byte
// bbolt element header plus its partner and id; in a chunk it costs neither.
// Every sale after a chunk's first is encoded against that first one (its
// base): the ids it shares a prefix with (sale, offer, customer, envelope)
// as the prefix's length and the rest, its sequence and time as differences.
// A new sale is appended to a chunk without decoding more than the base.
//
// The sale_owner index maps a sale id to its partner and chunk number, so a
// correction finds its sale by decoding one chunk.
//
// Chunk contents are a function of the log alone — a partner's sales in
// log order, saleChunk to a chunk — not of how folds batch it: the digest
// of the live read models equals a rebuild's.

// saleChunk is how many sales a chunk holds. Larger chunks save a little
// (a 16-byte element header and a key per chunk) and cost more per
// correction (it decodes and rewrites its chunk); measured on the bench's
// log, 16 to 100 gave files within 2% of each other, so 16 keeps a chunk
// near half a kilobyte. It must stay below 128: the count is a one-byte
// uvarint, bumped in place by an append.
const saleChunk = 16

// maxSaleChunks bounds a partner's chunk numbers (4 bytes of the key): 68
// billion sales a partner.
const maxSaleChunks = math.MaxUint32

// saleChunkKey is the key of a partner's chunk n.
func saleChunkKey(partner string, n uint32) []byte {
	return pkey(partner, binary.BigEndian.AppendUint32(nil, n))
}

// saleChunkNumber reads the chunk number from a sales key of partner.
func saleChunkNumber(partner string, k []byte) (uint32, error) {
	if len(k) != len(partner)+1+4 || !bytes.HasPrefix(k, prefix(partner)) {
		return 0, fmt.Errorf("%w: sales key %q", errCorrupt, k)
	}
	return binary.BigEndian.Uint32(k[len(partner)+1:]), nil
}

// encodeSaleChunk encodes sales (at most saleChunk, in log order) as one
// chunk value.
func encodeSaleChunk(sales []*domain.Sale) []byte {
	e := newEnc()
	e.u(uint64(len(sales)))
	var base domain.Sale
	for i, s := range sales {
		e.sale(s, &base)
		if i == 0 {
			base = *s
		}
	}
	return e.b
}

// appendSaleChunk returns chunk v with sales appended, the same bytes
// encodeSaleChunk gives for all of them. v must hold fewer than saleChunk
// sales, and room for len(sales) more.
func appendSaleChunk(partner string, v []byte, sales []*domain.Sale) ([]byte, error) {
	n, err := saleChunkCount(v)
	if err != nil {
		return nil, err
	}
	if n == 0 || n+len(sales) > saleChunk {
		return nil, fmt.Errorf("%w: appending %d sales to a chunk of %d", errCorrupt, len(sales), n)
	}
	d := newDec(v)
	d.u()
	base := d.sale(partner, &domain.Sale{})
	if d.err != nil {
		return nil, d.err
	}
	e := &enc{b: append(make([]byte, 0, len(v)+len(sales)*40), v...)}
	e.b[1] = byte(n + len(sales))
	for _, s := range sales {
		e.sale(s, base)
	}
	return e.b, nil
}

// saleChunkCount is how many sales chunk v holds.
func saleChunkCount(v []byte) (int, error) {
	if len(v) < 2 || v[0] != codecVersion || v[1] > saleChunk {
		return 0, fmt.Errorf("%w: sale chunk header", errCorrupt)
	}
	return int(v[1]), nil
}

// decodeSaleChunk decodes a chunk of partner's sales, appending them to out.
func decodeSaleChunk(partner string, v []byte, out []*domain.Sale) ([]*domain.Sale, error) {
	n, err := saleChunkCount(v)
	if err != nil {
		return out, err
	}
	if n == 0 {
		return out, fmt.Errorf("%w: empty sale chunk", errCorrupt)
	}
	d := newDec(v)
	d.u()
	var base *domain.Sale
	for i := 0; i < n && d.err == nil; i++ {
		if i == 0 {
			base = d.sale(partner, &domain.Sale{})
			out = append(out, base)
			continue
		}
		out = append(out, d.sale(partner, base))
	}
	return out, d.done()
}

// Sale flags.
const (
	saleM365   = 1 << iota // the offer was an m365-app when billed
	saleCancel             // a cancellation follows the marks
)

// sale encodes s against base (the chunk's first sale; zero for the first).
func (e *enc) sale(s, base *domain.Sale) {
	e.shared(base.ID, s.ID)
	e.shared(base.OfferID, s.OfferID)
	e.shared(base.CustomerID, s.CustomerID)
	e.i(int64(s.Seq - base.Seq))
	e.i(s.Time.Unix() - base.Time.Unix())
	e.u(uint64(s.Time.Nanosecond()))
	e.shared(base.Event, s.Event)
	e.i(s.Amount)
	e.i(s.Seats)
	var flags byte
	if s.M365 {
		flags |= saleM365
	}
	if s.Cancel != nil {
		flags |= saleCancel
	}
	e.b = append(e.b, flags)
	e.u(uint64(len(s.Marks)))
	for _, m := range s.Marks {
		e.stamp(m.Stamp)
		e.s(m.Confidence)
		e.flag(m.Cleared)
	}
	if s.Cancel != nil {
		e.stamp(s.Cancel.Stamp)
		e.s(s.Cancel.Reason)
	}
}

// sale decodes a sale of partner encoded against base.
func (d *dec) sale(partner string, base *domain.Sale) *domain.Sale {
	s := &domain.Sale{Partner: partner, ID: d.shared(base.ID), OfferID: d.shared(base.OfferID), CustomerID: d.shared(base.CustomerID)}
	s.Seq = base.Seq + uint64(d.i())
	sec := base.Time.Unix() + d.i()
	nsec := d.u()
	if nsec >= 1e9 {
		d.err = errCorrupt
	}
	s.Time = time.Unix(sec, int64(nsec)).UTC()
	s.Event = d.shared(base.Event)
	s.Amount, s.Seats = d.i(), d.i()
	var flags byte
	if d.err == nil && len(d.b) > 0 {
		flags, d.b = d.b[0], d.b[1:]
	} else {
		d.err = errCorrupt
	}
	if flags&^(saleM365|saleCancel) != 0 {
		d.err = errCorrupt
	}
	s.M365 = flags&saleM365 != 0
	for n := d.count(); n > 0 && d.err == nil; n-- {
		s.Marks = append(s.Marks, domain.FraudMark{Stamp: d.stamp(), Confidence: d.s(), Cleared: d.flag()})
	}
	if flags&saleCancel != 0 {
		s.Cancel = &domain.Cancel{Stamp: d.stamp(), Reason: d.s()}
	}
	return s
}

// shared encodes v as the length of the prefix it shares with base, then
// the rest.
func (e *enc) shared(base, v string) {
	n := 0
	for n < len(base) && n < len(v) && base[n] == v[n] {
		n++
	}
	e.u(uint64(n))
	e.s(v[n:])
}

// shared decodes a string encoded against base.
func (d *dec) shared(base string) string {
	n := d.u()
	if n > uint64(len(base)) {
		d.err = errCorrupt
		return ""
	}
	rest := d.s()
	if d.err != nil {
		return ""
	}
	return base[:n] + rest
}

// encodeSaleOwner is the sale_owner value: the chunk number, then the
// partner.
func encodeSaleOwner(partner string, chunk uint32) []byte {
	return append(binary.AppendUvarint(nil, uint64(chunk)), partner...)
}

// decodeSaleOwner decodes a sale_owner value.
func decodeSaleOwner(v []byte) (partner string, chunk uint32, ok bool) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > maxSaleChunks || w == len(v) {
		return "", 0, false
	}
	return string(v[w:]), uint32(n), true
}

// saleOwnerIn looks a sale's partner and chunk up in tx: ok false when
// the sale is unknown, an error wrapping errCorrupt when its entry does not
// decode.
func saleOwnerIn(tx *bucketCache, id string) (partner string, chunk uint32, ok bool, err error) {
	v, err := groupGet(tx, bucketSaleOwner, id)
	if err != nil || v == nil {
		return "", 0, false, err
	}
	if partner, chunk, ok = decodeSaleOwner(v); !ok {
		return "", 0, false, fmt.Errorf("%w: sale_owner entry of %s", errCorrupt, id)
	}
	return partner, chunk, true, nil
}

// saleIn loads one sale of partner from tx (nil when it has none by that
// id). A sale id billed again by another partner (two writers contending,
// each deciding without the other's sale) is indexed to the later one, and
// found by id only there; the earlier partner's loads still hold it.
func saleIn(tx *bucketCache, partner, id string) (*domain.Sale, error) {
	owner, n, ok, err := saleOwnerIn(tx, id)
	if err != nil || !ok || owner != partner {
		return nil, err
	}
	chunk, err := saleChunkIn(tx, partner, n)
	if err != nil {
		return nil, err
	}
	for _, s := range chunk {
		if s.ID == id {
			return s, nil
		}
	}
	return nil, fmt.Errorf("partner %s: sale %s is not in its chunk %d: %w", partner, id, n, errCorrupt)
}

// saleChunkIn decodes partner's chunk n from tx.
func saleChunkIn(tx *bucketCache, partner string, n uint32) ([]*domain.Sale, error) {
	v := tx.get(bucketSales, saleChunkKey(partner, n))
	if v == nil {
		return nil, fmt.Errorf("partner %s: sale chunk %d is missing: %w", partner, n, errCorrupt)
	}
	out, err := decodeSaleChunk(partner, v, nil)
	if err != nil {
		return nil, fmt.Errorf("partner %s: sale chunk %d: %w", partner, n, err)
	}
	return out, nil
}

// salesIn decodes every sale of partner from tx, in log order.
func salesIn(tx *bucketCache, partner string) ([]*domain.Sale, error) {
	var out []*domain.Sale
	pre := prefix(partner)
	c := tx.Bucket(bucketSales).Cursor()
	for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
		var err error
		if out, err = decodeSaleChunk(partner, v, out); err != nil {
			return nil, fmt.Errorf("partner %s: %s: %w", partner, bucketSales, err)
		}
	}
	return out, nil
}

// lastSaleChunk returns partner's last chunk number and value (nil when it
// has no sales).
func lastSaleChunk(b *bolt.Bucket, partner string) (uint32, []byte, error) {
	pre := prefix(partner)
	c := b.Cursor()
	var v []byte
	k, _ := c.Seek(append([]byte(partner), 1)) // just past partner's keys
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, pre) {
		return 0, nil, nil
	}
	n, err := saleChunkNumber(partner, k)
	return n, v, err
}
