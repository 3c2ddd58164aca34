package projections

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// ErrDisagree reports a fold the log and the read models disagree on: a gap
// in the sequences, events lost from the log. It is not an availability
// problem — folding again gives the same answer — and neither is a
// read-model record that does not decode (ErrDamaged); any other error is
// the store's (bbolt, the disk: no space, an I/O error, a closed file),
// which Fold returns as is and the same fold may succeed when retried.
var ErrDisagree = errors.New("projections: the log and the read models disagree")

// Batch is a stretch of consecutive log sequences: the ledger's events in
// it, and the sequences in it holding records the ledger did not write
// (foreign records, in ascending order), which the fold skips and counts.
type Batch struct {
	Events  []domain.Event
	Foreign []uint64
	// Refused, when set, hears of each event the facts cannot take
	// (domain.Apply fails: an event Decide would not have accepted, so not
	// one the ledger wrote). The fold skips and counts it as foreign.
	Refused func(seq uint64, err error)
}

// Last is the batch's last sequence (0 for an empty batch).
func (b Batch) Last() uint64 {
	var last uint64
	if n := len(b.Events); n > 0 {
		last = b.Events[n-1].Seq
	}
	if n := len(b.Foreign); n > 0 {
		last = max(last, b.Foreign[n-1])
	}
	return last
}

// Fold applies a batch of consecutive recorded events (FoldBatch without
// foreign records).
func (s *Store) Fold(events []domain.Event) error {
	return s.FoldBatch(Batch{Events: events})
}

// FoldBatch applies a batch in one transaction and moves the checkpoint to
// its last sequence, passing over its foreign records (counted under
// "foreign" with the last one's sequence, stored only once there is one, so
// that the read models of a log without any keep their digest), and events
// the facts cannot take (Batch.Refused), which it counts likewise. Sequences
// at or before the checkpoint are skipped (a redelivery after a crash); a
// gap wraps ErrDisagree, because folding past a missing event would
// silently lose it.
func (s *Store) FoldBatch(b Batch) error {
	if len(b.Events) == 0 && len(b.Foreign) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		cp := getU64(meta, keyCheckpoint)
		f := newTxFacts(tx)
		f.envelopeWrites = make([]write, 0, len(b.Events)) // one per event
		ri := loadRecordedIndex(meta)
		var foreign, lastForeign uint64
		events, skip := b.Events, b.Foreign
		for len(events) > 0 || len(skip) > 0 {
			var seq uint64
			var e *domain.Event
			if len(skip) == 0 || (len(events) > 0 && events[0].Seq < skip[0]) {
				e, seq, events = &events[0], events[0].Seq, events[1:]
			} else {
				seq, skip = skip[0], skip[1:]
			}
			if seq <= cp {
				continue
			}
			if seq != cp+1 {
				return fmt.Errorf("%w: gap in the log: sequence %d after checkpoint %d", ErrDisagree, seq, cp)
			}
			if e != nil {
				if err := domain.Apply(f, *e); err != nil {
					// Apply changed nothing: skipped like a foreign record,
					// as every fold of this log does.
					if b.Refused != nil {
						b.Refused(seq, err)
					}
					e = nil
				}
			}
			if e == nil {
				foreign++
				lastForeign = seq
			} else {
				ri.add(*e)
			}
			cp = seq
		}
		if err := f.flush(); err != nil {
			return err
		}
		if err := ri.flush(tx); err != nil {
			return err
		}
		if err := meta.Put(keyEvents, u64(getU64(meta, keyEvents)+uint64(f.applied))); err != nil {
			return err
		}
		if err := meta.Put(keyPartners, u64(getU64(meta, keyPartners)+uint64(f.created))); err != nil {
			return err
		}
		if foreign > 0 {
			if err := meta.Put(keyForeign, u64(getU64(meta, keyForeign)+foreign)); err != nil {
				return err
			}
			if err := meta.Put(keyLastForeign, u64(lastForeign)); err != nil {
				return err
			}
		}
		return meta.Put(keyCheckpoint, u64(cp))
	})
}

// decodeErr marks a read-model record that does not decode as damage.
func decodeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrDamaged, err)
}

// txFacts is domain.Facts over one write transaction. Facts changed in the
// batch are kept decoded and written once at the end, so a partner touched by
// a thousand events is encoded once.
type txFacts struct {
	tx                       *bolt.Tx
	look                     *bucketCache // tx, for the index lookups (kept cursors)
	mem                      arena        // the keys and values of the batch's Puts
	partners, offers, sales  *bolt.Bucket
	metrics, acts, envelopes *bolt.Bucket
	offerOwner, saleOwner    *bolt.Bucket
	cores                    map[string]*domain.PartnerCore
	offerCache               map[string]*domain.Offer
	saleCache                map[string]*domain.Sale
	chunks                   map[chunkRef][]*domain.Sale // sale chunks decoded in this transaction
	saleRef                  map[string]chunkRef         // the chunk of each sale in chunks
	dirtyChunks              map[chunkRef]bool
	newSales                 map[string][]*domain.Sale // by partner, in log order
	actCache                 map[actKey]*domain.Activation
	dirtyCores, dirtyOffers  map[string]bool
	dirtyActs                map[actKey]bool
	applied, created         int
	metricWrites             []write
	envelopeWrites           []write
	err                      error
}

// chunkRef names a partner's sale chunk.
type chunkRef struct {
	partner string
	n       uint32
}

type actKey struct {
	partner string
	seq     uint64
}

func newTxFacts(tx *bolt.Tx) *txFacts {
	f := &txFacts{
		tx: tx, look: cached(tx), partners: tx.Bucket(bucketPartners), offers: tx.Bucket(bucketOffers), sales: tx.Bucket(bucketSales),
		metrics: tx.Bucket(bucketMetrics), acts: tx.Bucket(bucketActivations), envelopes: tx.Bucket(bucketEnvelopes),
		offerOwner: tx.Bucket(bucketOfferOwner), saleOwner: tx.Bucket(bucketSaleOwner),
		cores: map[string]*domain.PartnerCore{}, offerCache: map[string]*domain.Offer{}, saleCache: map[string]*domain.Sale{},
		chunks: map[chunkRef][]*domain.Sale{}, saleRef: map[string]chunkRef{}, dirtyChunks: map[chunkRef]bool{}, newSales: map[string][]*domain.Sale{},
		actCache: map[actKey]*domain.Activation{}, dirtyCores: map[string]bool{}, dirtyOffers: map[string]bool{},
		dirtyActs: map[actKey]bool{},
	}
	f.sales.FillPercent = salesFill
	return f
}

// salesFill is how full bbolt leaves a page of sale chunks it splits. A
// partner's new chunks and the growing last one land under its prefix, in
// the middle of the bucket, which fillFor takes for scattered keys; but the
// chunks left behind a split are full and never written again, so splitting
// high keeps their pages full: on the bench's 200k-event log, 79% of the
// pages' bytes in use, about half at bbolt's default.
const salesFill = 0.95

func (f *txFacts) fail(err error) {
	if f.err == nil && err != nil {
		f.err = err
	}
}

func (f *txFacts) PartnerCore(id string) *domain.PartnerCore {
	if c, ok := f.cores[id]; ok {
		return c
	}
	v := f.look.get(bucketPartners, []byte(id))
	if v == nil {
		return nil
	}
	c, err := decodeCore(v)
	f.fail(decodeErr(err))
	f.cores[id] = c
	return c
}

func (f *txFacts) PutPartnerCore(c *domain.PartnerCore) {
	if _, ok := f.cores[c.ID]; !ok && f.look.get(bucketPartners, []byte(c.ID)) == nil {
		f.created++
	}
	f.cores[c.ID] = c
	f.dirtyCores[c.ID] = true
}

func (f *txFacts) Offer(id string) *domain.Offer {
	if o, ok := f.offerCache[id]; ok {
		return o
	}
	owner := f.look.get(bucketOfferOwner, []byte(id))
	if owner == nil {
		return nil
	}
	o, err := decodeOffer(f.look.get(bucketOffers, pkey(string(owner), []byte(id))))
	f.fail(decodeErr(err))
	f.offerCache[id] = o
	return o
}

func (f *txFacts) PutOffer(o *domain.Offer) {
	f.offerCache[o.ID] = o
	f.dirtyOffers[o.ID] = true
}

// Sale returns a sale by id: one billed in this batch, or one of the chunk
// the sale_owner index names, decoded once per transaction.
func (f *txFacts) Sale(id string) *domain.Sale {
	if s, ok := f.saleCache[id]; ok {
		return s
	}
	partner, n, ok, err := saleOwnerIn(f.look, id)
	if err != nil || !ok {
		f.fail(decodeErr(err))
		return nil
	}
	ref := chunkRef{partner, n}
	if _, ok := f.chunks[ref]; !ok {
		chunk, err := saleChunkIn(f.look, partner, n)
		if err != nil {
			f.fail(decodeErr(err))
			return nil
		}
		f.chunks[ref] = chunk
		for _, s := range chunk {
			f.saleCache[s.ID] = s
			f.saleRef[s.ID] = ref
		}
	}
	s := f.saleCache[id]
	if s == nil {
		f.fail(decodeErr(fmt.Errorf("partner %s: sale %s is not in its chunk %d: %w", partner, id, n, errCorrupt)))
		return nil
	}
	return s
}

// PutSale stores a sale Sale returned, changed, or one billed in this
// batch. A sale of another partner under the same id (two writers
// contending, each deciding without the other's sale) is billed anew, as
// the pure fold does: the later partner gets it and the sale index, the
// earlier keeps its own.
func (f *txFacts) PutSale(s *domain.Sale) {
	if ref, ok := f.saleRef[s.ID]; ok && ref.partner == s.Partner {
		chunk := f.chunks[ref]
		for i := range chunk {
			if chunk[i].ID == s.ID {
				chunk[i] = s
			}
		}
		f.saleCache[s.ID] = s
		f.dirtyChunks[ref] = true
		return
	}
	if cur, ok := f.saleCache[s.ID]; ok && cur.Partner == s.Partner {
		add := f.newSales[s.Partner] // billed in this batch, changed since
		for i := range add {
			if add[i].ID == s.ID {
				add[i] = s
			}
		}
		f.saleCache[s.ID] = s
		return
	}
	delete(f.saleRef, s.ID)
	f.saleCache[s.ID] = s
	f.newSales[s.Partner] = append(f.newSales[s.Partner], s)
}

func (f *txFacts) PutMetric(partner string, m *domain.MetricReport) {
	f.metricWrites = append(f.metricWrites, write{pkey(partner, u64(m.Seq)), encodeMetric(m)})
}

func (f *txFacts) Activation(partner string, seq uint64) *domain.Activation {
	k := actKey{partner, seq}
	if a, ok := f.actCache[k]; ok {
		return a
	}
	v := f.look.get(bucketActivations, pkey(partner, u64(seq)))
	if v == nil {
		return nil
	}
	a, err := decodeActivation(v)
	f.fail(decodeErr(err))
	f.actCache[k] = a
	return a
}

func (f *txFacts) PutActivation(a *domain.Activation) {
	k := actKey{a.Partner, a.Seq}
	f.actCache[k] = a
	f.dirtyActs[k] = true
}

func (f *txFacts) PutEnvelope(id string, seq uint64, fp domain.Fingerprint) {
	f.applied++
	f.envelopeWrites = append(f.envelopeWrites, write{f.mem.bytes(id), appendEnvelope(f.mem.room(envelopeMaxLen), seq, fp)})
}

// saleWrites returns the Puts of the batch's sales: each partner's new sales
// appended to its last chunk until it holds saleChunk, then in new chunks,
// with their sale_owner entries; and every chunk holding a changed sale,
// encoded again.
func (f *txFacts) saleWrites() (sales, owners []write, err error) {
	for partner, add := range f.newSales {
		last, v, err := lastSaleChunk(f.sales, partner)
		if err != nil {
			return nil, nil, decodeErr(err)
		}
		next := uint64(0) // wider than a chunk number: past the last one is an error, not chunk 0
		if v != nil {
			next = uint64(last) + 1
			ref := chunkRef{partner, last}
			chunk, loaded := f.chunks[ref]
			if !loaded {
				n, err := saleChunkCount(v)
				if err != nil {
					return nil, nil, decodeErr(err)
				}
				if room := min(saleChunk-n, len(add)); room > 0 {
					nv, err := appendSaleChunk(partner, v, add[:room])
					if err != nil {
						return nil, nil, decodeErr(err)
					}
					sales = append(sales, write{saleChunkKey(partner, last), nv})
					owners = f.appendOwners(owners, partner, last, add[:room])
					add = add[room:]
				}
			} else if room := min(saleChunk-len(chunk), len(add)); room > 0 {
				f.chunks[ref] = append(chunk, add[:room]...)
				f.dirtyChunks[ref] = true
				owners = f.appendOwners(owners, partner, last, add[:room])
				add = add[room:]
			}
		}
		for len(add) > 0 {
			if next > maxSaleChunks {
				return nil, nil, fmt.Errorf("projections: partner %s has %d chunks of sales, the most a partner can", partner, uint64(maxSaleChunks)+1)
			}
			take := add[:min(saleChunk, len(add))]
			sales = append(sales, write{saleChunkKey(partner, uint32(next)), encodeSaleChunk(take)})
			owners = f.appendOwners(owners, partner, uint32(next), take)
			add = add[len(take):]
			next++
		}
	}
	for ref := range f.dirtyChunks {
		sales = append(sales, write{saleChunkKey(ref.partner, ref.n), encodeSaleChunk(f.chunks[ref])})
	}
	return sales, owners, nil
}

// appendOwners appends the sale_owner entries of sales stored in partner's
// chunk n. A sale another partner billed again later in the batch (two
// writers contending) gets none: the index names the later partner, as the
// pure fold does, whatever order the batch's partners are written in.
func (f *txFacts) appendOwners(owners []write, partner string, n uint32, sales []*domain.Sale) []write {
	v := encodeSaleOwner(partner, n)
	for _, s := range sales {
		if f.saleCache[s.ID] == s {
			owners = append(owners, write{f.mem.bytes(s.ID), v})
		}
	}
	return owners
}

// write is one pending Put.
type write struct {
	k, v []byte
}

// flush writes every fact the batch changed, each bucket's keys in order:
// bbolt inserts into pages of sorted entries, and keys in order turn a
// batch of scattered inserts into forward moves through each page.
func (f *txFacts) flush() error {
	grouped := func(name []byte, ws []write) []write {
		gs, err := groupWrites(f.look, name, ws)
		f.fail(decodeErr(err))
		return gs
	}
	put := func(b *bolt.Bucket, ws []write) {
		slices.SortFunc(ws, func(a, b write) int { return bytes.Compare(a.k, b.k) })
		if b != f.sales {
			b.FillPercent = fillFor(b, ws)
		}
		for _, w := range ws {
			f.fail(b.Put(w.k, w.v))
		}
	}
	cores := make([]write, 0, len(f.dirtyCores))
	for id := range f.dirtyCores {
		cores = append(cores, write{[]byte(id), encodeCore(f.cores[id])})
	}
	put(f.partners, cores)
	offers, owners := make([]write, 0, len(f.dirtyOffers)), make([]write, 0, len(f.dirtyOffers))
	for id := range f.dirtyOffers {
		o := f.offerCache[id]
		offers = append(offers, write{pkey(o.Partner, []byte(id)), encodeOffer(o)})
		owners = append(owners, write{[]byte(id), []byte(o.Partner)})
	}
	put(f.offers, offers)
	put(f.offerOwner, owners)
	sales, owners, err := f.saleWrites()
	f.fail(err)
	put(f.sales, sales)
	put(f.saleOwner, grouped(bucketSaleOwner, owners))
	acts := make([]write, 0, len(f.dirtyActs))
	for k := range f.dirtyActs {
		acts = append(acts, write{pkey(k.partner, u64(k.seq)), encodeActivation(f.actCache[k])})
	}
	put(f.acts, acts)
	put(f.metrics, f.metricWrites)
	put(f.envelopes, grouped(bucketEnvelopes, f.envelopeWrites))
	return f.err
}
