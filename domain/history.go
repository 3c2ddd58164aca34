package domain

import (
	"cmp"
	"slices"
	"time"
)

// HistoryDoc tells how a partner's held tier evolved, and how late knowledge
// rewrote it: auditors ask both "what happened?" and "what did we know, when?".
type HistoryDoc struct {
	PartnerID   string       `json:"partner_id"`
	KnownSeq    uint64       `json:"known_seq"`
	KnownAt     *time.Time   `json:"known_at,omitempty"` // the knowledge instant asked for, if any
	Policy      string       `json:"policy"`
	Changes     []TierChange `json:"changes"`
	Corrections []Correction `json:"corrections"`
	// Corrections are analysed from the latest back: how many there are,
	// and how many were analysed.
	CorrectionsTotal    int `json:"corrections_total"`
	CorrectionsAnalysed int `json:"corrections_analysed"`
}

// TierChange is one change of the held tier as now known.
type TierChange struct {
	At    time.Time `json:"at"`
	From  TierRank  `json:"from"`
	To    TierRank  `json:"to"`
	Cause Cause     `json:"cause"`
}

// Correction is an event that changed the held tier in the past when it was
// recorded: a fraud flag or clearance, a cancellation, a replacing metric
// report, or a backdated sale or report.
type Correction struct {
	Seq     uint64    `json:"seq"`
	Type    string    `json:"type"`
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Effects []Effect  `json:"effects"`
}

// Effect is a span of time whose held tier a correction changed.
type Effect struct {
	From   time.Time  `json:"from"`
	Until  *time.Time `json:"until"` // nil: open-ended
	Before TierRank   `json:"before"`
	After  TierRank   `json:"after"`
}

// History builds the partner's tier history as known at known (echoed as
// knownSeq), analysing every correction.
func History(pol *Policy, p *Partner, known, knownSeq uint64) HistoryDoc {
	return RecentHistory(pol, p, known, knownSeq, 0)
}

// RecentHistory is History analysing only the latest limit corrections (0:
// all). Each correction costs two compiles of the partner, so for a partner
// with thousands of corrections the full analysis takes minutes; the
// changes themselves are always complete.
func RecentHistory(pol *Policy, p *Partner, known, knownSeq uint64, limit int) HistoryDoc {
	v := Compile(pol, p, known)
	doc := HistoryDoc{PartnerID: p.ID, KnownSeq: knownSeq, Policy: pol.Version, Changes: v.changes(), Corrections: []Correction{}}
	cs := retroactive(p, known)
	doc.CorrectionsTotal = len(cs)
	if limit > 0 && len(cs) > limit {
		cs = cs[len(cs)-limit:]
	}
	doc.CorrectionsAnalysed = len(cs)
	for _, c := range cs {
		before := newTierModel(pol, p, c.Seq-1, recount{})
		after := newTierModel(pol, p, c.Seq, recount{})
		if effects := v.diff(before.segs, after.segs); len(effects) > 0 {
			c.Effects = effects
			doc.Corrections = append(doc.Corrections, c)
		}
	}
	return doc
}

// TierChanges lists the changes of the held tier as known at known.
func TierChanges(pol *Policy, p *Partner, known uint64) []TierChange {
	return Compile(pol, p, known).changes()
}

func (v *View) changes() []TierChange {
	out := []TierChange{}
	prev := 0
	for _, s := range v.tiers.segs {
		out = append(out, TierChange{At: s.from, From: v.rankDoc(prev), To: v.rankDoc(s.rank), Cause: s.cause})
		prev = s.rank
	}
	return out
}

func (v *View) rankDoc(r int) TierRank { return TierRank{Rank: r, Name: v.pol.TierName(r)} }

// retroactive lists, in recorded order, the events known at n that may
// rewrite the held tier's past.
func retroactive(p *Partner, n uint64) []Correction {
	var out []Correction
	add := func(st Stamp, typ string) {
		if st.known(n) {
			out = append(out, Correction{Seq: st.Seq, Type: typ, ID: st.Event, Time: st.Time})
		}
	}
	type entry struct {
		Stamp
		typ string
	}
	var entries []entry
	p.complete()
	for _, s := range p.Sales {
		entries = append(entries, entry{s.Stamp, TypeSaleBilled})
		for _, m := range s.Marks {
			typ := TypeSaleFlaggedFraud
			if m.Cleared {
				typ = TypeSaleFraudCleared
			}
			add(m.Stamp, typ)
		}
		if s.Cancel != nil {
			add(s.Cancel.Stamp, TypePurchaseCancelled)
		}
	}
	seen := map[[2]string]bool{}
	for _, r := range p.Metrics {
		entries = append(entries, entry{r.Stamp, TypeMetricReported})
		k := [2]string{r.Metric, r.Period}
		if seen[k] {
			add(r.Stamp, TypeMetricReported) // replaces an earlier report
		}
		seen[k] = true
	}
	// Backdated entries: recorded after an entry with a later event time.
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.Seq, b.Seq) })
	var latest time.Time
	for _, e := range entries {
		if e.Time.Before(latest) {
			add(e.Stamp, e.typ)
		}
		if e.Time.After(latest) {
			latest = e.Time
		}
	}
	slices.SortFunc(out, func(a, b Correction) int { return cmp.Compare(a.Seq, b.Seq) })
	return slices.CompactFunc(out, func(a, b Correction) bool { return a.Seq == b.Seq })
}

// diff returns the spans where two held-tier step functions differ.
func (v *View) diff(before, after []heldSegment) []Effect {
	var instants []time.Time
	for _, s := range before {
		instants = append(instants, s.from)
	}
	for _, s := range after {
		instants = append(instants, s.from)
	}
	slices.SortFunc(instants, time.Time.Compare)
	instants = slices.CompactFunc(instants, time.Time.Equal)
	b, a := tierModel{segs: before}, tierModel{segs: after}
	var out []Effect
	for i, t := range instants {
		rb, ra := b.held(t), a.held(t)
		var until *time.Time
		if i+1 < len(instants) {
			until = &instants[i+1]
		}
		if rb == ra {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Until != nil && out[n-1].Until.Equal(t) &&
			out[n-1].Before.Rank == rb && out[n-1].After.Rank == ra {
			out[n-1].Until = until
			continue
		}
		out = append(out, Effect{From: t, Until: until, Before: v.rankDoc(rb), After: v.rankDoc(ra)})
	}
	return out
}
