package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// testClock is a clock a test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestKnownAt: known_at counts exactly the events recorded at or before the
// instant, by the ledger's recorded clock — before the first submission
// nothing (the partner is unknown), between two submissions the first, at a
// recorded instant that submission included, after the last everything —
// and answers what known_seq answers for the same cut-off. A plain date is
// midnight UTC. The recorded clock never steps back, so the cut-offs stay
// prefixes of the log.
func TestKnownAt(t *testing.T) {
	clock := &testClock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	l := start(t, Config{Clock: clock.now})
	t1 := clock.now()
	first := submit(t, l.Writer(), offerLine("P-1", "O-1"), saleLine("S-1", "O-1", 3_000_000, t0.Add(time.Hour)))
	mustAccept(t, first)
	t2 := t1.Add(time.Hour)
	clock.set(t2)
	second := submit(t, l.Writer(), saleLine("S-2", "O-1", 8_000_000, t0.Add(2*time.Hour)))
	mustAccept(t, second)
	// The clock steps back: the next group is recorded at t2 all the same.
	clock.set(t1.Add(-24 * time.Hour))
	third := submit(t, l.Writer(), line("fraud-S-2", domain.TypeSaleFlaggedFraud, t0.Add(3*time.Hour),
		map[string]any{"sale_id": "S-2", "confidence": "confirmed"}))
	mustAccept(t, third)
	rec, err := l.EventStore().GetMsg(context.Background(), third[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Header[ledger.HdrRecorded]; got != t2.Format(time.RFC3339Nano) {
		t.Fatalf("recorded after the clock stepped back: %s, want %s", got, t2.Format(time.RFC3339Nano))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at := t0.Add(24 * time.Hour).Format(time.RFC3339)
	tier := func(q ledger.Query) (domain.TierDoc, error) {
		q.PartnerID, q.At = "P-1", at
		return l.Queries().Tier(ctx, q)
	}
	cases := []struct {
		name    string
		knownAt string
		seq     uint64 // 0: nothing known
	}{
		{"before the first", t1.Add(-time.Second).Format(time.RFC3339Nano), 0},
		{"a plain date before the first", "2025-03-10", 0},
		{"at the first", t1.Format(time.RFC3339Nano), first[1].Seq},
		{"between", t1.Add(30 * time.Minute).Format(time.RFC3339), first[1].Seq},
		{"at the second (and the third, recorded at it)", t2.Format(time.RFC3339), third[0].Seq},
		{"after the last", t2.Add(time.Hour).Format(time.RFC3339), third[0].Seq},
		{"a plain date after the last", "2025-03-11", third[0].Seq},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := tier(ledger.Query{KnownAt: tc.knownAt})
			if tc.seq == 0 {
				if domain.CodeOf(err) != domain.CodeUnknownPartner {
					t.Fatalf("known_at %s: %+v %v, want unknown_partner", tc.knownAt, doc, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := tier(ledger.Query{KnownSeq: tc.seq})
			if err != nil {
				t.Fatal(err)
			}
			wantAt, _ := ledger.ParseInstant("known_at", tc.knownAt)
			if doc.KnownSeq != tc.seq || doc.KnownAt == nil || !doc.KnownAt.Equal(wantAt) {
				t.Errorf("known_at %s: echoes known_seq %d known_at %v, want %d and %s", tc.knownAt, doc.KnownSeq, doc.KnownAt, tc.seq, wantAt)
			}
			doc.KnownAt = nil
			if doc.Tier != want.Tier || doc.Tracks != want.Tracks || doc.Excluded != want.Excluded {
				t.Errorf("known_at %s: %+v, known_seq %d: %+v", tc.knownAt, doc, tc.seq, want)
			}
		})
	}
	// With both, the earlier cut-off applies.
	doc, err := tier(ledger.Query{KnownAt: t2.Format(time.RFC3339), KnownSeq: first[1].Seq})
	if err != nil || doc.KnownSeq != first[1].Seq {
		t.Errorf("known_at and known_seq: %+v %v, want known_seq %d", doc, err, first[1].Seq)
	}
	if _, err := tier(ledger.Query{KnownAt: "yesterday"}); domain.CodeOf(err) != domain.CodeInvalidField {
		t.Errorf("known_at yesterday: %v, want invalid_field", err)
	}
	// The recorded index is part of the read models: a rebuild gives the same.
	rep, err := l.Verify(ctx)
	if err != nil || !rep.Equal {
		t.Errorf("verify: %+v %v", rep, err)
	}
}
