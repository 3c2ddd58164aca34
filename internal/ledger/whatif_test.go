package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// TestWhatIfOneAtATime: while a what-if page is being computed, another is
// answered busy at once, not queued behind a full scan.
func TestWhatIfOneAtATime(t *testing.T) {
	q := &Queries{pol: domain.DefaultPolicy(), whatIf: make(chan struct{}, whatIfConcurrency)}
	for range whatIfConcurrency {
		q.whatIf <- struct{}{} // the pages in progress
	}
	_, err := q.WhatIf(context.Background(), WhatIfRequest{PolicyFile: string(domain.DefaultPolicyJSON())})
	if domain.CodeOf(err) != domain.CodeBusy {
		t.Fatalf("got %v, want %s", err, domain.CodeBusy)
	}
}

// TestFirstDifference: the first instant two held-tier step functions differ.
func TestFirstDifference(t *testing.T) {
	ch := func(day, from, to int) domain.TierChange {
		return domain.TierChange{At: day0.AddDate(0, 0, day), From: domain.TierRank{Rank: from}, To: domain.TierRank{Rank: to}}
	}
	cases := []struct {
		name string
		a, b []domain.TierChange
		want int // day; -1: none
	}{
		{"equal", []domain.TierChange{ch(1, 0, 1), ch(5, 1, 0)}, []domain.TierChange{ch(1, 0, 1), ch(5, 1, 0)}, -1},
		{"both empty", nil, nil, -1},
		{"earlier rise", []domain.TierChange{ch(3, 0, 1)}, []domain.TierChange{ch(1, 0, 1)}, 1},
		{"other rank same day", []domain.TierChange{ch(2, 0, 1)}, []domain.TierChange{ch(2, 0, 2)}, 2},
		{"one never rises", []domain.TierChange{ch(4, 0, 1)}, nil, 4},
		{"later fall", []domain.TierChange{ch(1, 0, 1), ch(9, 1, 0)}, []domain.TierChange{ch(1, 0, 1)}, 9},
		{"cause-only change ignored", []domain.TierChange{ch(1, 0, 1), ch(3, 1, 1)}, []domain.TierChange{ch(1, 0, 1)}, -1},
	}
	for _, c := range cases {
		got, ok := firstDifference(c.a, c.b)
		switch {
		case c.want < 0 && ok:
			t.Errorf("%s: differ at %v", c.name, got)
		case c.want >= 0 && (!ok || !got.Equal(day0.AddDate(0, 0, c.want))):
			t.Errorf("%s: %v %v, want day %d", c.name, got, ok, c.want)
		}
	}
}

var day0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
