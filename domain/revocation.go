package domain

import (
	"slices"
	"time"
)

// Activation statuses and reasons (DOMAIN.md §5).
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
	StatusEnded   = "ended"

	ReasonSanctioned        = "sanctioned"
	ReasonFraudRemoved      = "fraud_removed"
	ReasonPurchaseCancelled = "purchase_cancelled"
	ReasonCorrected         = "corrected"
	ReasonOptedOut          = "opted_out"
	ReasonOfferDelisted     = "offer_delisted"
)

// ActivationState is an activation with its status as of a query.
type ActivationState struct {
	*Activation
	Status    string
	Reasons   []string
	Contacted bool
}

// Activations lists the activations known at the View's cut-off and dated at
// or before at, in recorded order, each with its status at at.
func (v *View) Activations(at time.Time) []ActivationState {
	var out []ActivationState
	for _, a := range v.p.Activations {
		if a.known(v.known) && !a.Time.After(at) {
			out = append(out, v.state(a, at))
		}
	}
	return out
}

// state judges an activation with all knowledge of the View, but with dated
// happenings (sanctions, opt-outs, delistings, contact reports) only up to at.
// The first rule that applies decides.
func (v *View) state(a *Activation, at time.Time) ActivationState {
	s := ActivationState{Activation: a, Status: StatusActive, Reasons: []string{}, Contacted: a.contacted(v.known, at)}
	switch {
	case v.sanctionedDuring(a, at):
		s.Status, s.Reasons = StatusRevoked, []string{ReasonSanctioned}
	case !v.entitledAt(v.tiers, a):
		s.Status, s.Reasons = StatusRevoked, v.revocationReasons(a)
	default:
		if v.optedOutAfter(a, at) {
			s.Reasons = append(s.Reasons, ReasonOptedOut)
		}
		if v.delistedAfter(a, at) {
			s.Reasons = append(s.Reasons, ReasonOfferDelisted)
		}
		if len(s.Reasons) > 0 {
			s.Status = StatusEnded
			slices.Sort(s.Reasons)
		}
	}
	return s
}

// entitledAt reports whether the activation's benefit is still entitled at
// its own instant, through its offer's grant when it names one.
func (v *View) entitledAt(m *tierModel, a *Activation) bool {
	_, ok := v.entitlement(m, v.pol.Benefit(a.BenefitID), a.OfferID, a.Time)
	return ok
}

// revocationReasons names what took a benefit away: counting the confirmed
// fraud again would restore it, or the cancellations, or only both together;
// "corrected" when neither would (a backdated delisting, say).
func (v *View) revocationReasons(a *Activation) []string {
	if v.revoked != nil {
		return slices.Clone(v.revoked[a]) // detached: settled by Detach
	}
	fraud := v.entitledAt(v.recounted(recount{fraud: true}), a)
	cancelled := v.entitledAt(v.recounted(recount{cancelled: true}), a)
	switch {
	case fraud && cancelled:
		return []string{ReasonFraudRemoved, ReasonPurchaseCancelled}
	case fraud:
		return []string{ReasonFraudRemoved}
	case cancelled:
		return []string{ReasonPurchaseCancelled}
	case v.entitledAt(v.recounted(recount{fraud: true, cancelled: true}), a):
		return []string{ReasonFraudRemoved, ReasonPurchaseCancelled}
	}
	return []string{ReasonCorrected}
}

// sanctionedDuring reports whether the partner was sanctioned at an instant
// inside the activation's period, after it, and at or before at.
func (v *View) sanctionedDuring(a *Activation, at time.Time) bool {
	for _, s := range v.core().Sanctions {
		if !s.known(v.known) || s.Time.After(at) {
			continue
		}
		from := s.Time
		if !from.After(a.Time) {
			from = a.Time.Add(time.Nanosecond)
		}
		until := a.Period.End
		if r := s.Reinstated; r != nil && r.known(v.known) && !r.Time.After(at) && r.Time.Before(until) {
			until = r.Time
		}
		if from.Before(until) && !from.After(at) {
			return true
		}
	}
	return false
}

// optedOutAfter reports an opt-out covering the activation, after it, dated at
// or before at. Opting in again later does not revive the activation.
func (v *View) optedOutAfter(a *Activation, at time.Time) bool {
	for _, c := range v.core().Opts {
		if c.Out && c.known(v.known) && c.covers(a.BenefitID, a.OfferID) && !c.Time.After(at) &&
			(c.Time.After(a.Time) || (c.Time.Equal(a.Time) && c.Seq > a.Seq)) {
			return true
		}
	}
	return false
}

// delistedAfter reports that the offer of a per-offer activation was delisted
// after it, at or before at.
func (v *View) delistedAfter(a *Activation, at time.Time) bool {
	if a.OfferID == "" {
		return false
	}
	o := v.p.Offer(a.OfferID)
	if o == nil {
		return false
	}
	for _, pub := range o.Pubs {
		if d := pub.Delisted; d != nil && d.known(v.known) && d.Time.After(a.Time) && !d.Time.After(at) {
			return true
		}
	}
	return false
}
