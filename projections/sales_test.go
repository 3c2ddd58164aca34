package projections

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// chunkSales are sales of one partner in log order, with what a chunk must
// carry: ids sharing prefixes and not, times before the base's, marks, a
// cancellation, nanoseconds, seats and m365.
func chunkSales(n int) []*domain.Sale {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]*domain.Sale, n)
	for i := range out {
		s := &domain.Sale{ID: fmt.Sprintf("S-%06d", 100+i*7), Partner: "P-1", OfferID: fmt.Sprintf("O-%d", i%3),
			CustomerID: fmt.Sprintf("cust-%d", i*i), Amount: int64(1000 + i*37), Seats: int64(i % 4), M365: i%5 == 0,
			Stamp: domain.Stamp{Seq: uint64(50 + i*300), Time: base.Add(time.Duration(i*7-30) * time.Hour).Add(time.Duration(i)), Event: fmt.Sprintf("billing-%d", 9000+i)}}
		if i == 1 {
			s.ID, s.OfferID, s.CustomerID, s.Event = "x", "", "", "" // nothing shared with the base
		}
		if i%4 == 2 {
			s.Marks = []domain.FraudMark{{Stamp: domain.Stamp{Seq: s.Seq + 9, Time: s.Time.Add(time.Hour), Event: "f"}, Confidence: "confirmed"},
				{Stamp: domain.Stamp{Seq: s.Seq + 10, Time: s.Time.Add(2 * time.Hour), Event: "c"}, Cleared: true}}
		}
		if i%6 == 3 {
			s.Cancel = &domain.Cancel{Stamp: domain.Stamp{Seq: s.Seq + 11, Time: s.Time.Add(3 * time.Hour), Event: "k"}, Reason: "refund"}
		}
		out[i] = s
	}
	return out
}

// TestSaleChunkRoundTrip: a chunk decodes to the sales encoded, and one
// grown by appends is byte for byte the chunk encoded whole — the digest
// of live read models must not depend on how folds were batched.
func TestSaleChunkRoundTrip(t *testing.T) {
	sales := chunkSales(saleChunk)
	whole := encodeSaleChunk(sales)
	got, err := decodeSaleChunk("P-1", whole, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sales) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got[1], sales[1])
	}
	for _, split := range []int{1, 2, 5, saleChunk - 1} {
		v := encodeSaleChunk(sales[:split])
		for i := split; i < saleChunk; i += 3 {
			if v, err = appendSaleChunk("P-1", v, sales[i:min(i+3, saleChunk)]); err != nil {
				t.Fatal(err)
			}
		}
		if string(v) != string(whole) {
			t.Errorf("first %d then appends: %d bytes differ from the whole chunk's %d", split, len(v), len(whole))
		}
	}
	if _, err := appendSaleChunk("P-1", whole, sales[:1]); !errors.Is(err, errCorrupt) {
		t.Errorf("append to a full chunk: %v", err)
	}
}

// TestSaleChunkRefusesDamage: every truncation, a count beyond the chunk's
// size, trailing bytes and unknown flags are corrupt, never a panic or a
// shorter list of sales.
func TestSaleChunkRefusesDamage(t *testing.T) {
	v := encodeSaleChunk(chunkSales(4))
	for n := range len(v) {
		if _, err := decodeSaleChunk("P-1", v[:n], nil); !errors.Is(err, errCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	bad := map[string][]byte{
		"count past the limit": append([]byte{codecVersion, saleChunk + 1}, v[2:]...),
		"empty":                {codecVersion, 0},
		"trailing bytes":       append(append([]byte{}, v...), 0),
		"other codec":          append([]byte{codecVersion + 1}, v[1:]...),
	}
	for name, b := range bad {
		if _, err := decodeSaleChunk("P-1", b, nil); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An unknown flag bit: the first sale's flags byte follows its fields.
	one := encodeSaleChunk(chunkSales(1)[:1])
	e := newEnc()
	e.u(1)
	s := chunkSales(1)[0]
	s.Marks, s.Cancel = nil, nil
	e.sale(s, &domain.Sale{})
	flagAt := len(e.b) - 2 // flags, then a zero mark count
	e.b[flagAt] |= 0x80
	if _, err := decodeSaleChunk("P-1", e.b, nil); !errors.Is(err, errCorrupt) {
		t.Errorf("unknown flag: %v (chunk %x)", err, one)
	}
}

// TestSaleOwnerValues round-trips the sale_owner value and refuses values
// without a partner or with a chunk number past the key's four bytes.
func TestSaleOwnerValues(t *testing.T) {
	for _, n := range []uint32{0, 127, 128, maxSaleChunks} {
		p, got, ok := decodeSaleOwner(encodeSaleOwner("P-7", n))
		if !ok || p != "P-7" || got != n {
			t.Errorf("chunk %d: decoded %q %d %v", n, p, got, ok)
		}
	}
	for name, v := range map[string][]byte{"nil": nil, "no partner": {5}, "chunk too large": append([]byte{0x80, 0x80, 0x80, 0x80, 0x10}, 'P')} {
		if _, _, ok := decodeSaleOwner(v); ok {
			t.Errorf("%s decoded", name)
		}
	}
}

// TestSaleChunksMatchBook folds a generated log — partners with hundreds of
// sales, so many chunks each, and fraud flags, clearances and cancellations
// of sales in chunks long full — in batches of several sizes: every
// partner's sales equal the pure fold's, one by one through a snapshot too,
// and the digest does not depend on the batching.
func TestSaleChunksMatchBook(t *testing.T) {
	events := benchEvents(t, 20_000)
	book := domain.NewBook(domain.DefaultPolicy())
	for _, e := range events {
		if err := book.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	corrected, inOldChunk := 0, 0
	var want string
	for _, size := range []int{97, 1000, len(events)} {
		s := openTemp(t, fmt.Sprint("rm-", size, ".db"))
		foldInBatches(t, s, events, size)
		sameDigest(t, s, &want, "batches of %d", size)
		if size != 1000 {
			continue
		}
		sn, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		for _, id := range book.PartnerIDs() {
			wantSales := book.Partner(id).Sales
			got, err := sn.Sales(id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantSales) {
				t.Fatalf("partner %s: %d sales differ from the pure fold's %d", id, len(got), len(wantSales))
			}
			for i, w := range wantSales {
				one, err := sn.Sale(id, w.ID)
				if err != nil || !reflect.DeepEqual(one, w) {
					t.Fatalf("partner %s sale %s: %+v, %v", id, w.ID, one, err)
				}
				if w.Cancel != nil || len(w.Marks) > 0 {
					corrected++
					if i/saleChunk < (len(wantSales)-1)/saleChunk {
						inOldChunk++
					}
				}
			}
		}
		if other, err := sn.Sale("P-none", wantSalesID(book)); other != nil || err != nil {
			t.Errorf("a sale asked of another partner: %+v, %v", other, err)
		}
	}
	if inOldChunk < 10 {
		t.Fatalf("only %d of %d corrected sales lie in a partner's earlier chunks: the log does not exercise rewriting them", inOldChunk, corrected)
	}
}

// wantSalesID is some sale id of the book.
func wantSalesID(b *domain.Book) string {
	for _, id := range b.PartnerIDs() {
		if s := b.Partner(id).Sales; len(s) > 0 {
			return s[0].ID
		}
	}
	return ""
}

// TestDamagedSaleIndexStopsTheFold: a sale_owner entry that does not decode
// is damage (ErrDamaged), not an unknown sale the fold would bill again or
// a correction it would refuse as of no sale.
func TestDamagedSaleIndexStopsTheFold(t *testing.T) {
	events := scenarioBook(t).Events()
	var billed domain.Event
	for _, e := range events {
		if e.Type == domain.TypeSaleBilled {
			billed = e
		}
	}
	s := openTemp(t, "rm.db")
	foldInBatches(t, s, events, len(events))
	id := billed.Data.(domain.SaleBilled).SaleID
	damage := func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSaleOwner)
		ws, err := groupWrites(cached(tx), bucketSaleOwner, []write{{[]byte(id), []byte{0x80}}})
		if err != nil {
			return err
		}
		return b.Put(ws[0].k, ws[0].v)
	}
	if err := s.db.Update(damage); err != nil {
		t.Fatal(err)
	}
	flag := billed
	flag.Seq, flag.ID, flag.Type = events[len(events)-1].Seq+1, "flag-damaged", domain.TypeSaleFlaggedFraud
	flag.Time = billed.Time.Add(time.Hour)
	flag.Data = domain.SaleFlaggedFraud{SaleID: id, Confidence: "suspected"}
	if err := s.Fold([]domain.Event{flag}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("fold over a damaged sale index: %v, want ErrDamaged", err)
	}
}

// TestLastChunkNumberIsAnError: a partner whose last chunk holds the
// largest chunk number gets an error for its next sale, never a chunk
// number wrapped to 0 over its first sales.
func TestLastChunkNumberIsAnError(t *testing.T) {
	s := openTemp(t, "rm.db")
	full := chunkSales(saleChunk)
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSales).Put(saleChunkKey("P-1", maxSaleChunks), encodeSaleChunk(full)); err != nil {
			return err
		}
		f := newTxFacts(tx)
		next := *full[0]
		next.ID, next.Seq = "S-next", full[saleChunk-1].Seq+1
		f.newSales["P-1"] = []*domain.Sale{&next}
		sales, _, err := f.saleWrites()
		if err == nil {
			t.Errorf("a sale past the last chunk number was written: %d writes, the first to %q", len(sales), sales[0].k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
