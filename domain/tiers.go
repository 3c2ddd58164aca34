package domain

import (
	"cmp"
	"slices"
	"time"
)

// Causes of a held-tier change.
const (
	CauseEvent       = "event"       // a sale or metric report entered the tracks
	CauseAnniversary = "anniversary" // a new benefit period began
	CauseEra         = "era"         // a policy era came into force
	CauseTrackEnd    = "track-end"   // a track stopped counting (the 2021 seats cut-off)
)

// Cause explains a held-tier change: the event behind it, or the calendar.
type Cause struct {
	Kind string `json:"kind"`
	Seq  uint64 `json:"seq,omitempty"`
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Tracks are a partner's track values at an instant, in each track's unit.
type Tracks struct {
	MBS     int64 `json:"mbs_usd_cents"`
	Seats   int64 `json:"seats"`
	MAU     int64 `json:"teams_mau"`
	BizApps int64 `json:"bizapps_value_usd_cents"`
}

func (v Tracks) get(id string) int64 {
	switch id {
	case TrackMBS:
		return v.MBS
	case TrackSeats:
		return v.Seats
	case TrackMAU:
		return v.MAU
	case TrackBizApps:
		return v.BizApps
	}
	return 0
}

// recount selects which excluded sales to count again: DOMAIN.md §5 asks
// whether a revoked benefit would come back if fraud or cancellations were
// counted, to name the reasons.
type recount struct{ fraud, cancelled bool }

// tierModel is the tier side of a View for one way of counting sales: the
// track series, the first receipt and the held tier as a step function.
type tierModel struct {
	pol               *Policy
	mbs, seats, biz   series
	mau               maxSeries
	fraudEx, cancelEx series // amounts excluded as fraud / as cancelled
	first             time.Time
	hasFirst          bool
	segs              []heldSegment // changes of the held tier, in time order
}

type heldSegment struct {
	from  time.Time
	rank  int
	cause Cause
}

// candidate kinds: instants where the held tier may change.
const (
	candEntry = 1 << iota
	candEra
	candTrackEnd
	candAnniversary
)

func newTierModel(pol *Policy, p *Partner, n uint64, rc recount) *tierModel {
	p.complete()
	m := &tierModel{pol: pol}
	var mbs, seats, biz, mau, fraudEx, cancelEx []point
	cands := make([]candidate, 0, len(p.Sales)+len(p.Metrics)+8)
	for _, s := range p.Sales {
		if !s.known(n) {
			continue
		}
		at := s.Time.UnixNano()
		fraud, cancelled := s.flags(n)
		switch {
		case fraud:
			fraudEx = append(fraudEx, point{at, s.Amount, s.Seq})
		case cancelled:
			cancelEx = append(cancelEx, point{at, s.Amount, s.Seq})
		}
		// A sale both confirmed-fraud and cancelled is excluded as fraud only:
		// counting the fraud again counts it, counting cancellations does not.
		if (fraud && !rc.fraud) || (!fraud && cancelled && !rc.cancelled) {
			continue
		}
		mbs = append(mbs, point{at, s.Amount, s.Seq})
		if s.M365 && s.Seats > 0 {
			seats = append(seats, point{at, s.Seats, s.Seq})
		}
		cands = append(cands, candidate{at, candEntry, Cause{Kind: CauseEvent, Seq: s.Seq, Type: TypeSaleBilled, ID: s.Event}})
	}
	for _, r := range effectiveMetrics(p.Metrics, n) {
		pt := point{r.Time.UnixNano(), r.Value, r.Seq}
		if r.Metric == MetricTeamsMAU {
			mau = append(mau, pt)
		} else {
			biz = append(biz, pt)
		}
		cands = append(cands, candidate{pt.at, candEntry, Cause{Kind: CauseEvent, Seq: r.Seq, Type: TypeMetricReported, ID: r.Event}})
	}
	m.mbs, m.seats, m.biz, m.mau = newSeries(mbs), newSeries(seats), newSeries(biz), newMaxSeries(mau)
	m.fraudEx, m.cancelEx = newSeries(fraudEx), newSeries(cancelEx)
	m.compile(cands)
	return m
}

// candidate is an instant where the held tier may change, with its kinds and,
// for entries, the latest recorded event entering then.
type candidate struct {
	at    int64
	kind  int
	cause Cause
}

// mergeCandidates sorts candidates by instant and merges those at the same
// instant: kinds combine, and the entry cause is the latest recorded one.
func mergeCandidates(cs []candidate) []candidate {
	byTime := func(a, b candidate) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.cause.Seq, b.cause.Seq)
	}
	// Sales mostly arrive in time order: check before sorting.
	if !slices.IsSortedFunc(cs, byTime) {
		slices.SortFunc(cs, byTime)
	}
	out := cs[:0]
	for _, c := range cs {
		if n := len(out); n > 0 && out[n-1].at == c.at {
			out[n-1].kind |= c.kind
			if c.kind&candEntry != 0 {
				out[n-1].cause = c.cause
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// insertCandidates merges a few extra candidates (era starts, track ends,
// anniversaries) into sorted, merged candidates.
func insertCandidates(cs, extra []candidate) []candidate {
	slices.SortFunc(extra, func(a, b candidate) int { return cmp.Compare(a.at, b.at) })
	out := make([]candidate, 0, len(cs)+len(extra))
	i := 0
	for _, e := range extra {
		for i < len(cs) && cs[i].at < e.at {
			out = append(out, cs[i])
			i++
		}
		switch n := len(out); {
		case i < len(cs) && cs[i].at == e.at:
			cs[i].kind |= e.kind
		case n > 0 && out[n-1].at == e.at:
			out[n-1].kind |= e.kind
		default:
			out = append(out, e)
		}
	}
	return append(out, cs[i:]...)
}

// effectiveMetrics keeps, for each metric and period, the last report known at
// n: a replaced report counts nowhere, at no instant.
func effectiveMetrics(all []*MetricReport, n uint64) []*MetricReport {
	last := map[[2]string]*MetricReport{}
	for _, r := range all {
		k := [2]string{r.Metric, r.Period}
		if r.known(n) && (last[k] == nil || r.Seq > last[k].Seq) {
			last[k] = r
		}
	}
	out := make([]*MetricReport, 0, len(last))
	for _, r := range all {
		if last[[2]string{r.Metric, r.Period}] == r {
			out = append(out, r)
		}
	}
	return out
}

// tracks returns the track values at t on the basis of the era in force (the
// cumulative basis before the first era).
func (m *tierModel) tracks(t time.Time, era *Era) Tracks {
	ttm := era != nil && era.Basis == BasisTTM
	return Tracks{MBS: m.mbs.over(t, ttm), Seats: m.seats.over(t, ttm), MAU: m.mau.over(t, ttm), BizApps: m.biz.over(t, ttm)}
}

// excluded returns the amounts excluded as fraud and as cancelled at t, on the
// same basis as the tracks.
func (m *tierModel) excluded(t time.Time, era *Era) (fraud, cancelled int64) {
	ttm := era != nil && era.Basis == BasisTTM
	return m.fraudEx.over(t, ttm), m.cancelEx.over(t, ttm)
}

// rank is the tier rank the tracks reach at t under the era in force then:
// cumulative in the 2020-07 era, TTM later, nothing before the first era.
func (m *tierModel) rank(t time.Time) int {
	era := m.pol.EraAt(t)
	if era == nil {
		return 0
	}
	return era.rankAt(t, m.tracks(t, era))
}

// sweep evaluates ranks at increasing instants with cursors on the series.
type sweep struct {
	m               *tierModel
	mbs, seats, biz cursor
}

func (m *tierModel) newSweep() *sweep {
	return &sweep{m: m, mbs: cursor{s: &m.mbs}, seats: cursor{s: &m.seats}, biz: cursor{s: &m.biz}}
}

// rank is tierModel.rank for instants visited in increasing order.
func (w *sweep) rank(t time.Time) int {
	era := w.m.pol.EraAt(t)
	if era == nil {
		return 0
	}
	ttm := era.Basis == BasisTTM
	at, lo := t.UnixNano(), int64(0)
	if ttm {
		lo = ttmStart(t).UnixNano()
	}
	v := Tracks{MBS: w.mbs.over(at, lo, ttm), Seats: w.seats.over(at, lo, ttm), BizApps: w.biz.over(at, lo, ttm)}
	if len(w.m.mau.v) > 0 {
		v.MAU = w.m.mau.over(t, ttm)
	}
	return era.rankAt(t, v)
}

// compile finds the first receipt and sweeps the instants where the held tier
// may change: entries, era starts, track ends and anniversaries. Between them
// the held tier is constant: TTM values only rise at entries, and a fall takes
// effect only at the next anniversary (DOMAIN.md §4).
func (m *tierModel) compile(cands []candidate) {
	hasTTM := false
	var extra []candidate
	for _, e := range m.pol.Eras {
		extra = append(extra, candidate{at: e.From.UnixNano(), kind: candEra})
		hasTTM = hasTTM || e.Basis == BasisTTM
		for _, et := range e.trackList {
			if et.Until != nil {
				extra = append(extra, candidate{at: et.Until.UnixNano() + 1, kind: candTrackEnd})
			}
		}
	}
	cands = insertCandidates(mergeCandidates(cands), extra)
	firstEra := m.pol.Eras[0].From.UnixNano()
	first := m.newSweep()
	for _, c := range cands {
		if c.at >= firstEra && first.rank(time.Unix(0, c.at).UTC()) >= 1 {
			m.first, m.hasFirst = time.Unix(0, c.at).UTC(), true
			break
		}
	}
	if m.hasFirst && hasTTM {
		// Anniversaries until every entry has left the TTM window and one more
		// period has begun; after that the held tier no longer changes.
		horizon := time.Unix(0, max(cands[len(cands)-1].at, m.first.UnixNano())).UTC().AddDate(2, 0, 0)
		var years []candidate
		for k := 0; ; k++ {
			s := m.first.AddDate(k, 0, 0)
			if s.After(horizon) {
				break
			}
			years = append(years, candidate{at: s.UnixNano(), kind: candAnniversary})
		}
		cands = insertCandidates(cands, years)
	}

	held, running, inTTM := 0, 0, false
	var period Period
	sw := m.newSweep()
	for _, c := range cands {
		t := time.Unix(0, c.at).UTC()
		era := m.pol.EraAt(t)
		r := 0
		switch {
		case era == nil:
		case era.Basis == BasisCumulative:
			r, inTTM = sw.rank(t), false
		case !m.hasFirst || t.Before(m.first):
		default:
			if !inTTM || !t.Before(period.End) {
				p := anniversary(m.first, t)
				inTTM, period, running = true, p, 0
				if p.Start.Before(era.regimeStart) {
					// The period straddles the switch to TTM: no partner loses
					// benefits already unlocked under the cumulative rules.
					running = m.rank(era.regimeStart.Add(-time.Second))
				}
			}
			running = max(running, sw.rank(t))
			r = running
		}
		if r != held {
			m.segs = append(m.segs, heldSegment{from: t, rank: r, cause: causeOf(c.kind, c.cause, r > held)})
			held = r
		}
	}
}

// causeOf names why the held tier changed at an instant of the given kinds.
// A new benefit period never raises the held tier (values rise only at entries
// and era starts), so a rise at an instant that is also an anniversary — the
// first receipt itself — is named by its entry or its era.
func causeOf(kind int, entry Cause, up bool) Cause {
	switch {
	case kind&candEntry != 0 && up:
		return entry
	case kind&candEra != 0 && up:
		return Cause{Kind: CauseEra}
	case kind&candAnniversary != 0:
		return Cause{Kind: CauseAnniversary}
	case kind&candEra != 0:
		return Cause{Kind: CauseEra}
	case kind&candTrackEnd != 0:
		return Cause{Kind: CauseTrackEnd}
	}
	return entry
}

// held is the tier the partner holds at t.
func (m *tierModel) held(t time.Time) int {
	i, _ := slices.BinarySearchFunc(m.segs, t, func(s heldSegment, t time.Time) int {
		if !s.from.After(t) {
			return -1
		}
		return 1
	})
	if i == 0 {
		return 0
	}
	return m.segs[i-1].rank
}

// firstReceiptBy returns the first receipt if it happened at or before t.
func (m *tierModel) firstReceiptBy(t time.Time) (time.Time, bool) {
	if m.hasFirst && !m.first.After(t) {
		return m.first, true
	}
	return time.Time{}, false
}

// benefitPeriod is the benefit period containing t: the fiscal year in a
// cumulative era, the anniversary period in a TTM era (none before the first
// receipt), nothing before the first era.
func (m *tierModel) benefitPeriod(t time.Time) (Period, string, bool) {
	era := m.pol.EraAt(t)
	switch {
	case era == nil:
		return Period{}, "", false
	case era.Basis == BasisCumulative:
		return fiscalYear(t, m.pol.FiscalYearStartMonth), PeriodFiscalYear, true
	}
	if first, ok := m.firstReceiptBy(t); ok {
		return anniversary(first, t), PeriodAnniversary, true
	}
	return Period{}, "", false
}

// Period kinds of the tier document.
const (
	PeriodFiscalYear  = "fiscal-year"
	PeriodAnniversary = "anniversary"
)
