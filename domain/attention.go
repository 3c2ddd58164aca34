package domain

import (
	"slices"
	"strconv"
	"time"
)

// Kinds of attention items (DOMAIN.md §5).
const (
	AttentionContactOverdue    = "contact_overdue"
	AttentionNoContactAssigned = "no_contact_assigned"
	AttentionFraudHold         = "fraud_hold"
)

// AttentionItem is something someone must act on.
type AttentionItem struct {
	Kind          string    `json:"kind"`
	PartnerID     string    `json:"partner_id"`
	Since         time.Time `json:"since"` // when it became due
	ActivationSeq uint64    `json:"activation_seq,omitempty"`
	BenefitID     string    `json:"benefit_id,omitempty"`
	SaleID        string    `json:"sale_id,omitempty"`
	Detail        string    `json:"detail"`
}

// Attention lists the partner's attention items at at, sorted by when they
// became due.
func (v *View) Attention(at time.Time) []AttentionItem {
	at = at.UTC()
	var out []AttentionItem
	days := v.pol.Attention.ContactOverdueDays
	for _, s := range v.Activations(at) {
		if due := s.Time.AddDate(0, 0, days); s.Status == StatusActive && !s.Contacted && due.Before(at) {
			out = append(out, AttentionItem{Kind: AttentionContactOverdue, PartnerID: v.p.ID, Since: due, ActivationSeq: s.Seq,
				BenefitID: s.BenefitID, Detail: "activation not contacted within " + plural(days, "day")})
		}
	}
	if item, ok := v.noContact(at); ok {
		out = append(out, item)
	}
	days = v.pol.Attention.FraudHoldDays
	v.p.complete()
	for _, s := range v.p.Sales {
		// The event time of a clearance or confirmation matters here: a flag
		// resolved after at was still unresolved at at.
		m, ok := s.fraudStateAt(v.known, at)
		if !s.known(v.known) || !ok || m.Cleared || m.Confidence != ConfidenceSuspected {
			continue
		}
		if due := m.Time.AddDate(0, 0, days); due.Before(at) {
			out = append(out, AttentionItem{Kind: AttentionFraudHold, PartnerID: v.p.ID, Since: due, SaleID: s.ID,
				Detail: "suspected fraud flag unresolved for more than " + plural(days, "day")})
		}
	}
	slices.SortStableFunc(out, func(a, b AttentionItem) int { return a.Since.Compare(b.Since) })
	return out
}

// noContact reports a partner entitled to marketing or sales benefits for
// longer than the era's window without a marketing contact, or not enrolled.
func (v *View) noContact(at time.Time) (AttentionItem, bool) {
	era := v.pol.EraAt(at)
	if era == nil {
		return AttentionItem{}, false
	}
	_, hasContact := v.contactAt(at)
	enrolled := v.enrolledAt(at)
	if hasContact && enrolled {
		return AttentionItem{}, false
	}
	since, ok := v.marketingRunStart(at)
	if !ok {
		return AttentionItem{}, false
	}
	due := since.AddDate(0, 0, era.NoContactAfterDays)
	if !due.Before(at) {
		return AttentionItem{}, false
	}
	detail := "entitled to marketing or sales benefits for more than " + plural(era.NoContactAfterDays, "day") + " without a marketing contact"
	if !enrolled {
		detail = "entitled to marketing or sales benefits for more than " + plural(era.NoContactAfterDays, "day") + " but not enrolled"
	}
	return AttentionItem{Kind: AttentionNoContactAssigned, PartnerID: v.p.ID, Since: due, Detail: detail}, true
}

// marketingRunStart is the start of the unbroken run, up to at, during which
// the partner was entitled to some marketing or sales benefit. Entitlements
// change only at the instants collected here, so checking one instant per
// stretch between them is enough.
func (v *View) marketingRunStart(at time.Time) (time.Time, bool) {
	cal := newListingCalendar(v.pol, v.spans, at)
	if !v.marketingEntitled(at, cal) {
		return time.Time{}, false
	}
	var instants []time.Time
	add := func(ts ...time.Time) {
		for _, t := range ts {
			if !t.After(at) {
				instants = append(instants, t)
			}
		}
	}
	for _, s := range v.spans {
		add(s.start, s.end)
	}
	for _, g := range v.grants {
		add(g.window.Start, g.ended)
	}
	for _, seg := range v.tiers.segs {
		add(seg.from)
	}
	for _, p := range cal.periods {
		add(p.Start, p.End)
	}
	for _, e := range v.pol.Eras {
		add(e.From)
	}
	for _, s := range v.core().Sanctions {
		add(s.Time)
		if s.Reinstated != nil {
			add(s.Reinstated.Time)
		}
	}
	slices.SortFunc(instants, time.Time.Compare)
	instants = slices.CompactFunc(instants, time.Time.Equal)
	start := instants[len(instants)-1]
	for i := len(instants) - 2; i >= 0 && v.marketingEntitled(instants[i], cal); i-- {
		start = instants[i]
	}
	return start, true
}

// marketingEntitled reports a marketing or sales grant at t, at or before
// the calendar's instant.
func (v *View) marketingEntitled(t time.Time, cal *listingCalendar) bool {
	for _, g := range v.grantsAt(t, cal) {
		if g.Category == CategoryMarketing || g.Category == CategorySales {
			return true
		}
	}
	return false
}

func plural(n int, unit string) string {
	s := strconv.Itoa(n) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
