package projections

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

// withForeign renumbers a log's events so that every third sequence holds a
// record the ledger did not write, and adds one event the facts cannot take
// (a sale of a partner nobody enrolled): the log a stream holding foreign
// records gives the fold.
func withForeign(events []domain.Event) (log []domain.Event, foreign []uint64, refused uint64) {
	seq := uint64(0)
	for i, e := range events {
		seq++
		if i%3 == 1 {
			foreign = append(foreign, seq)
			seq++
		}
		e.Seq = seq
		log = append(log, e)
	}
	seq++
	bad := log[len(log)-1]
	bad.Seq, bad.Partner, bad.Data = seq, "P-NOBODY", domain.SaleBilled{SaleID: "S-X", OfferID: "O-X", CustomerID: "C", AmountUSDCents: 1}
	bad.Type = domain.TypeSaleBilled
	return append(log, bad), foreign, seq
}

// batchOf cuts the stretch of sequences [from, to] out of a log.
func batchOf(log []domain.Event, foreign []uint64, from, to uint64, refused func(uint64, error)) Batch {
	b := Batch{Refused: refused}
	for _, e := range log {
		if e.Seq >= from && e.Seq <= to {
			b.Events = append(b.Events, e)
		}
	}
	for _, s := range foreign {
		if s >= from && s <= to {
			b.Foreign = append(b.Foreign, s)
		}
	}
	return b
}

// TestFoldSkipsForeignRecords: the fold passes over foreign records and
// over events the facts cannot take, counting both, with the checkpoint at
// the log's end; whatever the batch sizes (and a redelivery), the read
// models are the same, and the events around the skipped records are all
// folded.
func TestFoldSkipsForeignRecords(t *testing.T) {
	log, foreign, refusedSeq := withForeign(scenarioBook(t).Events())
	last := refusedSeq
	var want string
	for _, size := range []uint64{1, 4, last} {
		s := openTemp(t, "rm.db")
		var refused []uint64
		note := func(seq uint64, err error) {
			if err == nil {
				t.Errorf("seq %d refused without an error", seq)
			}
			refused = append(refused, seq)
		}
		for from := uint64(1); from <= last; from += size {
			if err := s.FoldBatch(batchOf(log, foreign, from, min(from+size-1, last), note)); err != nil {
				t.Fatal(err)
			}
		}
		// A redelivery of what is folded changes nothing.
		if err := s.FoldBatch(batchOf(log, foreign, 1, last, note)); err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Checkpoint != last || st.Events != uint64(len(log)-1) || st.Foreign != uint64(len(foreign))+1 || st.LastForeign != refusedSeq {
			t.Errorf("batches of %d: stats %+v (want checkpoint %d, %d events, %d foreign, the last at %d)",
				size, st, last, len(log)-1, len(foreign)+1, refusedSeq)
		}
		if !slices.Equal(refused, []uint64{refusedSeq}) {
			t.Errorf("batches of %d: refused %v, want [%d]", size, refused, refusedSeq)
		}
		sameDigest(t, s, &want, "batches of %d", size)
	}
}

// TestFoldForeignStillRefusesGap: a sequence neither an event nor a foreign
// record is a gap (events lost from the log), refused as ErrDisagree.
func TestFoldForeignStillRefusesGap(t *testing.T) {
	log, foreign, _ := withForeign(scenarioBook(t).Events())
	s := openTemp(t, "rm.db")
	b := batchOf(log, foreign, 1, 10, nil)
	b.Foreign = b.Foreign[1:] // lose one
	if err := s.FoldBatch(b); !errors.Is(err, ErrDisagree) {
		t.Fatalf("fold past a lost record: %v, want ErrDisagree", err)
	}
	if cp, _ := s.Checkpoint(); cp != 0 {
		t.Fatalf("checkpoint moved to %d", cp)
	}
}

// TestFoldRefusesRebilledSale: a SaleBilled of a sale id its partner has
// already recorded — one Decide answers as a duplicate or a conflict, so
// not one the ledger wrote — is refused by the fold, in the batch that
// billed the sale or a later one, and the sale stays as first billed (its
// chunk is not given a second copy). The same id billed by another partner
// (two writers contending, each deciding without the other's sale) is
// folded as the pure fold does: both partners hold a sale of that id.
func TestFoldRefusesRebilledSale(t *testing.T) {
	book := scenarioBook(t)
	events := book.Events()
	var first, other domain.Event
	for _, e := range events {
		switch {
		case e.Type != domain.TypeSaleBilled:
		case first.ID == "":
			first = e
		case other.ID == "" && e.Partner != first.Partner:
			other = e
		}
	}
	if other.ID == "" {
		t.Fatal("the scenarios bill no two partners")
	}
	again := events[len(events)-1]
	again.Seq++
	again.ID, again.Type, again.Partner = "rebilled", domain.TypeSaleBilled, first.Partner
	d := first.Data.(domain.SaleBilled)
	d.AmountUSDCents++
	again.Data = d
	elsewhere := other
	elsewhere.Seq, elsewhere.ID = again.Seq+1, "rebilled-elsewhere"
	od := other.Data.(domain.SaleBilled)
	od.SaleID = d.SaleID
	elsewhere.Data = od
	log := append(slices.Clone(events), again, elsewhere)
	if err := book.Record(again); err == nil {
		t.Error("the pure fold took a second SaleBilled of a recorded sale")
	}
	if err := book.Record(elsewhere); err != nil {
		t.Fatalf("the pure fold refused another partner's sale of the same id: %v", err)
	}
	// A batch writes its partners' new sales in map order, so the one batch
	// holding both partners' sale is folded many times over: an index that
	// named whichever partner was written last fails in one of them.
	for round := range 40 {
		size := len(log)
		if round == 0 {
			size = 1
		}
		s := openTemp(t, "rm.db")
		var refused []uint64
		for i := 0; i < len(log); i += size {
			b := Batch{Events: log[i:min(i+size, len(log))], Refused: func(seq uint64, _ error) { refused = append(refused, seq) }}
			if err := s.FoldBatch(b); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(refused, []uint64{again.Seq}) {
			t.Errorf("batches of %d: refused %v, want [%d]", size, refused, again.Seq)
		}
		for _, id := range []string{first.Partner, other.Partner} {
			p, _, err := s.Partner(id)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(p.Sales)
			want, _ := json.Marshal(book.Partner(id).Sales)
			if string(got) != string(want) {
				t.Errorf("batches of %d, partner %s: sales\n%s\nwant\n%s", size, id, got, want)
			}
		}
		if owner, ok := s.Directory().SaleOwner(d.SaleID); !ok || owner != other.Partner {
			t.Errorf("batches of %d: sale %s indexed to %q, want the later partner %s", size, d.SaleID, owner, other.Partner)
		}
	}
}
