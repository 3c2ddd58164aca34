package domain

import "errors"

// Detach returns a View that answers Tier and Benefits exactly as v does but
// holds none of the partner's sales and metric reports, so that a query
// cache can keep many of them: sales are most of a partner's facts, and a
// compiled View needs only the prefix sums its tier model keeps of both.
// What would need the sales later, the recounts behind revocation reasons,
// is settled now: the reasons of each activation its tiers do not entitle
// (they do not depend on the instant asked about), so a partner whose
// activations all stand costs no recount at all. Attention and History need
// the complete partner and must not be asked of a detached View.
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
	// No sales and no metric reports: the tier model holds what they count.
	d.p = &Partner{ID: p.ID, Core: p.Core, Offers: p.Offers, Activations: p.Activations,
		offerIdx: p.offerIdx, saleIdx: map[string]int{}, actIdx: p.actIdx, src: detached{}}
	return d
}

// excludesAny reports whether some sale is excluded (fraud or cancelled) at
// the View's cut-off: only then can a recount differ.
func (v *View) excludesAny() bool {
	return len(v.tiers.fraudEx.at) > 0 || len(v.tiers.cancelEx.at) > 0
}

// detached is the sale source of a detached View's partner: it has none.
type detached struct{}

func (detached) Sale(string, string) (*Sale, error) { return nil, errDetached }
func (detached) Sales(string) ([]*Sale, error)      { return nil, errDetached }

var errDetached = errors.New("domain: a detached View holds no sales")
