package domain

import (
	"cmp"
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

func (p *Partner) PartnerCore(string) *PartnerCore { return p.Core }

func (p *Partner) PutPartnerCore(c *PartnerCore) {
	p.Core = c
	p.fullMu.Lock()
	p.full = nil
	p.fullMu.Unlock()
}

func (p *Partner) Offer(id string) *Offer {
	if i, ok := p.offerIdx[id]; ok {
		return p.Offers[i]
	}
	return nil
}

func (p *Partner) PutOffer(o *Offer) {
	if i, ok := p.offerIdx[o.ID]; ok {
		p.Offers[i] = o
		return
	}
	p.offerIdx[o.ID] = len(p.Offers)
	p.Offers = append(p.Offers, o)
}

func (p *Partner) Sale(id string) *Sale {
	if i, ok := p.saleIdx[id]; ok {
		return p.Sales[i]
	}
	return nil
}

func (p *Partner) PutSale(s *Sale) {
	if i, ok := p.saleIdx[s.ID]; ok {
		p.Sales[i] = s
		return
	}
	p.saleIdx[s.ID] = len(p.Sales)
	p.Sales = append(p.Sales, s)
}

func (p *Partner) PutMetric(_ string, m *MetricReport) { p.Metrics = append(p.Metrics, m) }

func (p *Partner) Activation(_ string, seq uint64) *Activation {
	if i, ok := p.actIdx[seq]; ok {
		return p.Activations[i]
	}
	return nil
}

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
