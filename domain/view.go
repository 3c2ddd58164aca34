package domain

import (
	"sync"
	"time"
)

// View answers questions about one partner under one policy and one knowledge
// cut-off. It is safe for concurrent use. Compiling costs O(n log n) in the partner's facts; each question is
// then a few binary searches. The decider and every query go through a View,
// so they apply the same rules.
type View struct {
	pol   *Policy
	p     *Partner
	known uint64
	tiers *tierModel
	altMu sync.Mutex
	alt   map[recount]*tierModel // counting excluded sales again, for revocation reasons
	// revoked holds a detached View's revocation reasons, by activation:
	// the recounts behind them need the sales it no longer has.
	revoked map[*Activation][]string
	spans   []span
	grants  []offerGrant
}

// AllKnown is the knowledge cut-off meaning "everything recorded".
const AllKnown = ^uint64(0)

// Compile builds the View of p with the facts recorded at or before known.
func Compile(pol *Policy, p *Partner, known uint64) *View {
	return &View{
		pol:    pol,
		p:      p,
		known:  known,
		tiers:  newTierModel(pol, p, known, recount{}),
		alt:    map[recount]*tierModel{},
		spans:  offerSpans(p, known),
		grants: offerGrants(pol, p, known),
	}
}

// View returns the partner's View with all knowledge, cached until the next
// Apply changes the partner. It is safe for concurrent use.
func (p *Partner) View(pol *Policy) *View {
	p.fullMu.Lock()
	defer p.fullMu.Unlock()
	if p.full == nil || p.full.pol != pol {
		p.full = Compile(pol, p, AllKnown)
	}
	return p.full
}

// recounted returns the tier model counting the selected excluded sales again.
func (v *View) recounted(rc recount) *tierModel {
	if !v.excludesAny() {
		return v.tiers // nothing excluded: every recount is the same count
	}
	v.altMu.Lock()
	defer v.altMu.Unlock()
	if m, ok := v.alt[rc]; ok {
		return m
	}
	m := newTierModel(v.pol, v.p, v.known, rc)
	v.alt[rc] = m
	return m
}

// Policy is the policy the View applies.
func (v *View) Policy() *Policy { return v.pol }

// Held is the tier rank the partner holds at t.
func (v *View) Held(t time.Time) int { return v.tiers.held(t) }

// FirstReceipt is the first instant the partner reached tier 1, if at or before t.
func (v *View) FirstReceipt(t time.Time) (time.Time, bool) { return v.tiers.firstReceiptBy(t) }

// Sanctioned reports whether the partner is sanctioned at t.
func (v *View) Sanctioned(t time.Time) bool {
	if v.p.Core == nil {
		return false
	}
	for _, s := range v.p.Core.Sanctions {
		if s.known(v.known) && !s.Time.After(t) && !v.reinstatedBy(s, t) {
			return true
		}
	}
	return false
}

// reinstatedBy reports whether sanction s was lifted at or before t.
func (v *View) reinstatedBy(s Sanction, t time.Time) bool {
	r := s.Reinstated
	return r != nil && r.known(v.known) && !r.Time.After(t)
}

// enrolledAt reports whether the partner was enrolled at t.
func (v *View) enrolledAt(t time.Time) bool {
	e := v.core().Enrolment
	return e != nil && e.known(v.known) && !e.Time.After(t)
}

// contactAt is the marketing contact assigned at t: the latest assignment
// dated at or before it.
func (v *View) contactAt(t time.Time) (ContactAssignment, bool) {
	var best ContactAssignment
	found := false
	for _, c := range v.core().Contacts {
		if c.known(v.known) && !c.Time.After(t) && (!found || !c.Time.Before(best.Time)) {
			best, found = c, true
		}
	}
	return best, found
}

// optedOutAt reports whether the latest opt change covering the engagement
// and dated at or before t is an opt-out.
func (v *View) optedOutAt(benefit, offer string, t time.Time) bool {
	var last *OptChange
	for i, c := range v.core().Opts {
		if c.known(v.known) && !c.Time.After(t) && c.covers(benefit, offer) && (last == nil || !c.Time.Before(last.Time)) {
			last = &v.core().Opts[i]
		}
	}
	return last != nil && last.Out
}

// core returns the partner's core facts (empty for a partner not yet created).
func (v *View) core() *PartnerCore {
	if v.p.Core == nil {
		return &PartnerCore{ID: v.p.ID}
	}
	return v.p.Core
}
