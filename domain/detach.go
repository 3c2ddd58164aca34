package domain

import "errors"

// Detach returns a View that answers Tier and Benefits exactly as v does but
// holds none of the partner's sales, so that a query cache can keep many of
// them: sales are most of a partner's facts, and a compiled View needs only
// their prefix sums. What would need the sales later, the recounts behind
// revocation reasons, is settled now: the reasons of each activation its
// tiers do not entitle (they do not depend on the instant asked about), so
// a partner whose activations all stand costs no recount at all. Attention
// and History need the complete partner and must not be asked of a
// detached View.
func (v *View) Detach() *View {
	p := v.p
	// No alt: a detached View never recounts (revocationReasons answers
	// from revoked).
	d := &View{pol: v.pol, known: v.known, tiers: v.tiers, spans: v.spans, grants: v.grants,
		revoked: map[*Activation][]string{}}
	for _, a := range p.Activations {
		if !v.entitledAt(v.tiers, a) {
			d.revoked[a] = v.revocationReasons(a)
		}
	}
	d.p = &Partner{ID: p.ID, Core: p.Core, Offers: p.Offers, Metrics: p.Metrics, Activations: p.Activations,
		offerIdx: p.offerIdx, saleIdx: map[string]int{}, actIdx: p.actIdx, src: detached{}}
	return d
}

// excludesAny reports whether some sale is excluded (fraud or cancelled) at
// the View's cut-off: only then can a recount differ.
func (v *View) excludesAny() bool {
	return len(v.tiers.fraudEx.at) > 0 || len(v.tiers.cancelEx.at) > 0
}

// Footprint estimates what a View costs to keep, in facts' worth (a fact in
// memory costs about ten points of a series).
func (v *View) Footprint() int64 {
	points := len(v.tiers.mbs.at) + len(v.tiers.seats.at) + len(v.tiers.biz.at) + len(v.tiers.mau.at) +
		len(v.tiers.fraudEx.at) + len(v.tiers.cancelEx.at)
	return int64(1+points/10) + int64(len(v.p.Offers)+len(v.p.Activations)+len(v.p.Metrics))
}

// detached is the sale source of a detached View's partner: it has none.
type detached struct{}

func (detached) Sale(string, string) (*Sale, error) { return nil, errDetached }
func (detached) Sales(string) ([]*Sale, error)      { return nil, errDetached }

var errDetached = errors.New("domain: a detached View holds no sales")
