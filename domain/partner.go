package domain

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Partner is one partner's facts in memory: the decider's state, and what a
// View is compiled from. It implements Facts for its own partner.
type Partner struct {
	ID          string
	Core        *PartnerCore // nil until the partner's first publication
	Offers      []*Offer     // in order of first publication
	Sales       []*Sale      // in recorded order
	Metrics     []*MetricReport
	Activations []*Activation // in recorded order

	offerIdx map[string]int
	saleIdx  map[string]int
	actIdx   map[uint64]int

	// full caches the View with all knowledge. Queries share partners
	// across goroutines, so the cache has its own lock; folding into a
	// partner (Apply) is its owner's business alone.
	fullMu sync.Mutex
	full   *View

	// src supplies sales not held in memory: a partial partner (see
	// RestorePartial). nil when Sales holds every sale.
	src SaleSource
	err error // the first failure of src, reported by Decide
}

// SaleSource supplies a partner's sales on demand. Sales are most of a
// partner's facts, and most decisions need none of them (a sale needs its
// offer, a correction needs its one sale), so the writer keeps partners
// without their sales and fetches what a decision asks for.
type SaleSource interface {
	Sale(partner, id string) (*Sale, error)
	Sales(partner string) ([]*Sale, error)
}

// RestorePartial rebuilds a partner from stored facts without its sales,
// which src supplies as they are needed; Complete loads them all.
func RestorePartial(core *PartnerCore, offers []*Offer, metrics []*MetricReport, acts []*Activation, src SaleSource) *Partner {
	p := RestorePartner(core, offers, nil, metrics, acts)
	p.src = src
	return p
}

// Complete loads the sales a partial partner lacks. Sales already in memory
// are kept: they may hold changes not stored yet.
func (p *Partner) Complete() error {
	if p.src == nil {
		return nil
	}
	all, err := p.src.Sales(p.ID)
	if err != nil {
		return fmt.Errorf("partner %s: loading its sales: %w", p.ID, err)
	}
	for _, s := range all {
		if _, ok := p.saleIdx[s.ID]; !ok {
			p.Sales = append(p.Sales, s)
		}
	}
	slices.SortFunc(p.Sales, func(a, b *Sale) int { return cmp.Compare(a.Seq, b.Seq) })
	for i, s := range p.Sales {
		p.saleIdx[s.ID] = i
	}
	p.src = nil
	return nil
}

// complete panics on a partial partner: computing over a partner's sales
// before Complete would silently leave sales out.
func (p *Partner) complete() {
	if p.src != nil {
		panic("domain: partner " + p.ID + " holds only part of its sales; call Complete first")
	}
}

// Footprint is how many facts the partner holds in memory, the measure of
// what caching it costs.
func (p *Partner) Footprint() int64 {
	return int64(1 + len(p.Offers) + len(p.Sales) + len(p.Metrics) + len(p.Activations))
}

// NewPartner returns a partner with no facts.
func NewPartner(id string) *Partner {
	return &Partner{ID: id, offerIdx: map[string]int{}, saleIdx: map[string]int{}, actIdx: map[uint64]int{}}
}

// RestorePartner rebuilds a partner from stored facts, in any order.
func RestorePartner(core *PartnerCore, offers []*Offer, sales []*Sale, metrics []*MetricReport, acts []*Activation) *Partner {
	p := NewPartner(core.ID)
	p.Core = core
	slices.SortFunc(offers, func(a, b *Offer) int { return cmp.Compare(a.Pubs[0].Seq, b.Pubs[0].Seq) })
	slices.SortFunc(sales, func(a, b *Sale) int { return cmp.Compare(a.Seq, b.Seq) })
	slices.SortFunc(metrics, func(a, b *MetricReport) int { return cmp.Compare(a.Seq, b.Seq) })
	slices.SortFunc(acts, func(a, b *Activation) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, o := range offers {
		p.PutOffer(o)
	}
	for _, s := range sales {
		p.PutSale(s)
	}
	p.Metrics = metrics
	for _, a := range acts {
		p.PutActivation(a)
	}
	return p
}

// LastSeq is the sequence of the partner's latest event (0 when it has none).
func (p *Partner) LastSeq() uint64 {
	if p.Core == nil {
		return 0
	}
	return p.Core.LastSeq
}

// Exists reports whether the partner has been created (has published).
func (p *Partner) Exists() bool { return p.Core != nil }

// The Facts of one partner. Offers and sales of other partners do not exist here.

// PartnerCore returns the partner's core (nil before it was created),
// whatever id is asked for: a Partner holds one partner's facts.
func (p *Partner) PartnerCore(string) *PartnerCore { return p.Core }

// PutPartnerCore replaces the partner's core.
func (p *Partner) PutPartnerCore(c *PartnerCore) { p.Core = c }

// stale drops the cached View when a fact it compiled changes: sales,
// metric reports and offers. Activations, contacts, sanctions and opt-outs
// the View reads from the partner as they are, so a run of activations does
// not recompile the partner for each one.
func (p *Partner) stale() {
	p.fullMu.Lock()
	p.full = nil
	p.fullMu.Unlock()
}

// Offer returns the partner's offer id, or nil when the partner has none
// of that id.
func (p *Partner) Offer(id string) *Offer {
	if i, ok := p.offerIdx[id]; ok {
		return p.Offers[i]
	}
	return nil
}

// PutOffer adds offer o or replaces the offer of its id.
func (p *Partner) PutOffer(o *Offer) {
	p.stale()
	if i, ok := p.offerIdx[o.ID]; ok {
		p.Offers[i] = o
		return
	}
	p.offerIdx[o.ID] = len(p.Offers)
	p.Offers = append(p.Offers, o)
}

// Sale returns the partner's sale id, or nil when it has none of that id.
// A partial partner (RestorePartial) loads a sale it does not hold from its
// SaleSource and keeps it; on a load error it returns nil and the error is
// kept, so the next Decide on the partner fails with it (not a rejection).
func (p *Partner) Sale(id string) *Sale {
	if i, ok := p.saleIdx[id]; ok {
		return p.Sales[i]
	}
	if p.src == nil {
		return nil
	}
	s, err := p.src.Sale(p.ID, id)
	if err != nil {
		if p.err == nil {
			p.err = fmt.Errorf("partner %s: loading sale %s: %w", p.ID, id, err)
		}
		return nil
	}
	if s != nil {
		p.PutSale(s)
	}
	return s
}

// PutSale adds sale s or replaces the sale of its id.
func (p *Partner) PutSale(s *Sale) {
	p.stale()
	if i, ok := p.saleIdx[s.ID]; ok {
		p.Sales[i] = s
		return
	}
	p.saleIdx[s.ID] = len(p.Sales)
	p.Sales = append(p.Sales, s)
}

// PutMetric adds metric report m (the partner argument is the partner's own).
// Reports are kept in recorded order; the latest of a (metric, period)
// counts.
func (p *Partner) PutMetric(_ string, m *MetricReport) {
	p.stale()
	p.Metrics = append(p.Metrics, m)
}

// Activation returns the activation recorded at sequence seq, or nil.
func (p *Partner) Activation(_ string, seq uint64) *Activation {
	if i, ok := p.actIdx[seq]; ok {
		return p.Activations[i]
	}
	return nil
}

// PutActivation adds activation a or replaces the one of its sequence.
func (p *Partner) PutActivation(a *Activation) {
	if i, ok := p.actIdx[a.Seq]; ok {
		p.Activations[i] = a
		return
	}
	p.actIdx[a.Seq] = len(p.Activations)
	p.Activations = append(p.Activations, a)
}

// PutEnvelope is a no-op: envelope ids are global, kept by the ledger's index.
func (p *Partner) PutEnvelope(string, uint64, Fingerprint) {}

// KnownAt reports whether the partner existed at knowledge cut-off n.
func (p *Partner) KnownAt(n uint64) bool { return p.Core != nil && p.Core.Created.known(n) }

// firstPublished is the event time of the partner's earliest publication
// (not the first one recorded: publications may arrive out of order).
func (p *Partner) firstPublished() time.Time {
	first := p.Core.Created.Time
	for _, o := range p.Offers {
		if t := o.Pubs[0].Time; t.Before(first) {
			first = t
		}
	}
	return first
}
