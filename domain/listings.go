package domain

import (
	"slices"
	"time"
)

// span is one publication as known at the View's cut-off: live from start
// until its delisting (if the delisting is known), whatever the query's
// instant — a delisting dated after the instant simply does not cover it.
type span struct {
	offer       *Offer
	listingType string
	start, end  time.Time // end is far in the future while not delisted
}

// forever stands for "not (yet) ended".
var forever = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func (s span) liveAt(t time.Time) bool { return !t.Before(s.start) && t.Before(s.end) }

// offerSpans lists the publications known at n, in order of publication.
func offerSpans(p *Partner, n uint64) []span {
	var out []span
	for _, o := range p.Offers {
		for _, pub := range o.Pubs {
			if !pub.known(n) {
				continue
			}
			s := span{offer: o, listingType: pub.ListingType, start: pub.Time, end: forever}
			if d := pub.Delisted; d != nil && d.known(n) {
				s.end = d.Time
			}
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	return out
}

// offerGrant is a per-offer engagement-manager grant: the first publication
// of a trial or consulting offer, for the months of the era at publication,
// ended early by that publication's delisting.
type offerGrant struct {
	offerID string
	window  Period    // nominal window: the activation's period
	ended   time.Time // delisting instant if earlier than window.End, else window.End
}

func offerGrants(pol *Policy, p *Partner, n uint64) []offerGrant {
	var out []offerGrant
	for _, o := range p.Offers {
		first := o.Pubs[0]
		if !first.known(n) || !slices.Contains(pol.OfferGrant.ListingTypes, first.ListingType) {
			continue
		}
		era := pol.EraAt(first.Time)
		if era == nil || era.OfferGrantMonths == 0 {
			continue
		}
		g := offerGrant{offerID: o.ID, window: Period{Start: first.Time, End: first.Time.AddDate(0, era.OfferGrantMonths, 0)}}
		g.ended = g.window.End
		if d := first.Delisted; d != nil && d.known(n) && d.Time.Before(g.ended) {
			g.ended = d.Time
		}
		out = append(out, g)
	}
	return out
}

func (g offerGrant) liveAt(t time.Time) bool { return !t.Before(g.window.Start) && t.Before(g.ended) }

// listingPeriod returns the listing-package period containing t, if any.
func listingPeriod(pol *Policy, spans []span, t time.Time) (Period, bool) {
	ps := listingPeriods(pol, spans, t)
	if n := len(ps); n > 0 && ps[n-1].Contains(t) {
		return ps[n-1], true
	}
	return Period{}, false
}

// listingCalendar is the listing-package periods up to an instant, computed
// once for a question that looks at many instants before it: computing them
// afresh per instant made the attention report's cost grow with the square
// of the span between the first listing and the query's instant.
type listingCalendar struct {
	pol     *Policy
	spans   []span
	until   time.Time
	periods []Period // listingPeriods(until)
}

func newListingCalendar(pol *Policy, spans []span, until time.Time) *listingCalendar {
	return &listingCalendar{pol: pol, spans: spans, until: until, periods: listingPeriods(pol, spans, until)}
}

// at is listingPeriod for t. Periods starting at or before t are a prefix
// of the calendar's when t is at or before its instant, as listingPeriods(t)
// would list them; past it they are computed afresh.
func (c *listingCalendar) at(t time.Time) (Period, bool) {
	if t.After(c.until) {
		return listingPeriod(c.pol, c.spans, t)
	}
	i, _ := slices.BinarySearchFunc(c.periods, t, func(p Period, t time.Time) int {
		if !p.Start.After(t) {
			return -1
		}
		return 1
	})
	if i > 0 && c.periods[i-1].Contains(t) {
		return c.periods[i-1], true
	}
	return Period{}, false
}

// listingPeriods lists the listing-package periods starting at or before
// until. The first starts when a list, trial or consulting offer is first live
// in an era with the package (at the era's start for one already live); each
// later one starts 12 months on if such an offer is live then, else when one
// next goes live. A started period runs its length even if every offer is
// delisted meanwhile.
func listingPeriods(pol *Policy, spans []span, until time.Time) []Period {
	var ltc []span
	for _, s := range spans {
		if slices.Contains(pol.ListingPackage.ListingTypes, s.listingType) {
			ltc = append(ltc, s)
		}
	}
	var out []Period
	from, ok := nextListingEra(pol, time.Time{})
	for ok && !from.After(until) {
		start, live := firstLive(ltc, from)
		if !live || start.After(until) {
			break
		}
		if era := pol.EraAt(start); era == nil || !era.ListingPackage {
			from, ok = nextListingEra(pol, start)
			continue
		}
		p := Period{Start: start, End: start.AddDate(0, pol.ListingPackage.Months, 0)}
		out = append(out, p)
		from = p.End
	}
	return out
}

// nextListingEra is the start of the first era after `after` that grants the
// listing package.
func nextListingEra(pol *Policy, after time.Time) (time.Time, bool) {
	for _, e := range pol.Eras {
		if e.ListingPackage && e.From.After(after) {
			return e.From, true
		}
	}
	return time.Time{}, false
}

// firstLive is the first instant at or after t when one of the spans is live.
func firstLive(spans []span, t time.Time) (time.Time, bool) {
	best, found := forever, false
	for _, s := range spans {
		switch {
		case s.liveAt(t):
			return t, true
		case s.start.After(t) && s.start.Before(best):
			best, found = s.start, true
		}
	}
	return best, found
}
