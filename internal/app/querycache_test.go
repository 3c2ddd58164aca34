package app

import (
	"context"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// TestCachedAnswersFollowEveryFold: a partner asked about again and again is
// answered from the query cache without a read transaction while nothing
// is folded (Store.Writes unchanged; Store.ReadTransactions counts them),
// and the first question after each fold that changes the partner sees the
// change — a sale, a fraud flag, a sale of another partner between —
// exactly as a View compiled afresh from the read models (a known_seq
// query, which the cache never answers) gives it.
func TestCachedAnswersFollowEveryFold(t *testing.T) {
	l := start(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at := t0.Add(48 * time.Hour).Format(time.RFC3339)
	var mbs []int64
	check := func(step string, last uint64) {
		t.Helper()
		ask := func() domain.TierDoc {
			t.Helper()
			doc, err := l.Queries().Tier(ctx, ledger.Query{PartnerID: "P-1", At: at})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			return doc
		}
		cached := ask() // may load the partner, or validate its View
		// The hits read nothing: a read transaction each would be 100 (the
		// store's page release opens one every half second).
		reads := l.Models().ReadTransactions()
		for range 100 {
			if doc := ask(); doc.Tracks != cached.Tracks {
				t.Fatalf("%s: a hit answered %+v after %+v", step, doc.Tracks, cached.Tracks)
			}
		}
		if grew := l.Models().ReadTransactions() - reads; grew >= 50 {
			t.Fatalf("%s: 100 cached questions opened %d read transactions", step, grew)
		}
		fresh, err := l.Queries().Tier(ctx, ledger.Query{PartnerID: "P-1", At: at, KnownSeq: last})
		if err != nil {
			t.Fatalf("%s, compiled afresh: %v", step, err)
		}
		if cached.Tracks != fresh.Tracks || cached.Tier != fresh.Tier {
			t.Fatalf("%s: cached %+v %+v, compiled afresh %+v %+v", step, cached.Tier, cached.Tracks, fresh.Tier, fresh.Tracks)
		}
		mbs = append(mbs, cached.Tracks.MBS)
	}
	last := func(rs []ledger.LineResult) uint64 { mustAccept(t, rs); return rs[len(rs)-1].Seq }

	check("an offer and a sale", last(submit(t, l.Writer(), offerLine("P-1", "O-1"), saleLine("S-1", "O-1", 3_000_000, t0.Add(time.Hour)))))
	before := l.Models().Writes()
	check("asked again", last(submit(t, l.Writer(), offerLine("P-2", "O-2"))))
	if l.Models().Writes() == before {
		t.Fatal("a fold did not count in Store.Writes")
	}
	check("a larger sale", last(submit(t, l.Writer(), saleLine("S-2", "O-1", 8_000_000, t0.Add(2*time.Hour)))))
	check("another partner's sale", last(submit(t, l.Writer(), saleLine("S-3", "O-2", 5_000_000, t0.Add(3*time.Hour)))))
	check("the larger sale flagged", last(submit(t, l.Writer(), line("fraud-S-2", domain.TypeSaleFlaggedFraud, t0.Add(4*time.Hour),
		map[string]any{"sale_id": "S-2", "confidence": "confirmed"}))))
	want := []int64{3_000_000, 3_000_000, 11_000_000, 11_000_000, 3_000_000}
	for i := range want {
		if mbs[i] != want[i] {
			t.Fatalf("MBS after each step %v, want %v", mbs, want)
		}
	}
}
