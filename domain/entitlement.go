package domain

import (
	"slices"
	"time"
)

// Grant is one line entitling a benefit at an instant, with the period an
// activation through it would use.
type Grant struct {
	BenefitID string
	Category  string
	Line      string
	OfferID   string     // the offer behind an offer line, else ""
	Period    Period     // the activation period this line gives
	Until     *time.Time // when the line is known to end; nil when open-ended
}

// Grants lists every line entitling every benefit at t: nothing while
// sanctioned or before the first era. A benefit granted by several lines is
// listed once per line (per offer for per-offer grants).
func (v *View) Grants(t time.Time) []Grant { return v.grantsAt(t, nil) }

// grantsAt is Grants, reading listing-package periods from cal when it is
// not nil (see listingCalendar).
func (v *View) grantsAt(t time.Time, cal *listingCalendar) []Grant {
	if v.Sanctioned(t) || v.pol.EraAt(t) == nil {
		return nil
	}
	out := make([]Grant, 0, len(v.pol.Benefits)) // about one a benefit
	for i := range v.pol.Benefits {
		b := &v.pol.Benefits[i]
		for _, kind := range grantOrder {
			for _, l := range b.Lines {
				if l.Kind == kind {
					out = v.appendLineGrants(out, v.tiers, b, l, t, cal)
				}
			}
		}
	}
	return out
}

// grantOrder is the order Grants lists a benefit's lines in: the
// activation's preference, then the per-offer grants.
var grantOrder = append(slices.Clone(linePreference), LineOfferGrant)

// entitlement returns the grant an activation of b at t would use: with an
// offer, only that offer's per-offer grant; without, the first line in the
// order listing package, tier, transact offer, live offer (DOMAIN.md §4).
func (v *View) entitlement(m *tierModel, b *Benefit, offerID string, t time.Time) (Grant, bool) {
	if b == nil || v.Sanctioned(t) || v.pol.EraAt(t) == nil {
		return Grant{}, false
	}
	kinds := linePreference
	if offerID != "" {
		kinds = []string{LineOfferGrant}
	}
	for _, kind := range kinds {
		for _, l := range b.Lines {
			if l.Kind != kind {
				continue
			}
			var buf [4]Grant // most lines grant once: no allocation
			for _, g := range v.appendLineGrants(buf[:0], m, b, l, t, nil) {
				if offerID == "" || g.OfferID == offerID {
					return g, true
				}
			}
		}
	}
	return Grant{}, false
}

// appendLineGrants appends to dst what one line of benefit b grants at t
// under tier model m; cal, when not nil, holds the listing-package periods
// up to at least t.
func (v *View) appendLineGrants(dst []Grant, m *tierModel, b *Benefit, l Line, t time.Time, cal *listingCalendar) []Grant {
	g := Grant{BenefitID: b.ID, Category: b.Category, Line: l.Kind}
	switch l.Kind {
	case LineLiveOffer, LineTransactOffer:
		for _, s := range v.spans {
			if s.liveAt(t) && (l.Kind == LineLiveOffer || s.listingType == ListingTransact) {
				g.OfferID, g.Period = s.offer.ID, fiscalYear(t, v.pol.FiscalYearStartMonth)
				return append(dst, g)
			}
		}
	case LineTier:
		era := v.pol.EraAt(t)
		if era == nil || !l.grantsInEra(era) || m.held(t) < l.MinTier {
			return dst
		}
		period, kind, ok := m.benefitPeriod(t)
		if !ok {
			return dst
		}
		g.Period = period
		if kind == PeriodAnniversary {
			g.Until = &period.End
		}
		return append(dst, g)
	case LineListingPackage:
		var p Period
		var ok bool
		if cal != nil {
			p, ok = cal.at(t)
		} else {
			p, ok = listingPeriod(v.pol, v.spans, t)
		}
		if ok {
			g.Period, g.Until = p, &p.End
			return append(dst, g)
		}
	case LineOfferGrant:
		for _, og := range v.grants {
			if og.liveAt(t) {
				g := g
				g.OfferID, g.Period, g.Until = og.offerID, og.window, &og.window.End
				dst = append(dst, g)
			}
		}
	}
	return dst
}
