package ledger

import "github.com/benefits-ledger/ledger/domain"

// writerDirectory is the global index as the writer sees it: its pending
// appends over the snapshot of the read models it decides against.
type writerDirectory struct{ w *Writer }

func (d writerDirectory) Envelope(id string) (uint64, domain.Fingerprint, bool) {
	d.w.mu.Lock()
	r, ok := d.w.pend.envelopes[id]
	d.w.mu.Unlock()
	if ok {
		return r.seq, r.fp, true
	}
	return d.w.snap.Envelope(id)
}

func (d writerDirectory) OfferOwner(id string) (string, bool) {
	d.w.mu.Lock()
	p, ok := d.w.pend.offers[id]
	d.w.mu.Unlock()
	if ok {
		return p, true
	}
	return d.w.snap.OfferOwner(id)
}

func (d writerDirectory) SaleOwner(id string) (string, bool) {
	d.w.mu.Lock()
	p, ok := d.w.pend.sales[id]
	d.w.mu.Unlock()
	if ok {
		return p, true
	}
	return d.w.snap.SaleOwner(id)
}

// writerFacts folds into a cached partner and records the pending overlay.
type writerFacts struct {
	w *Writer
	*domain.Partner
}

func (f writerFacts) PutOffer(o *domain.Offer) {
	f.Partner.PutOffer(o)
	f.w.mu.Lock()
	if _, ok := f.w.pend.offers[o.ID]; !ok {
		f.w.pend.offers[o.ID] = o.Partner
		f.w.pend.add(o.Pubs[len(o.Pubs)-1].Seq, 'o', o.ID)
	}
	f.w.mu.Unlock()
}

func (f writerFacts) PutSale(s *domain.Sale) {
	f.Partner.PutSale(s)
	f.w.mu.Lock()
	if _, ok := f.w.pend.sales[s.ID]; !ok {
		f.w.pend.sales[s.ID] = s.Partner
		f.w.pend.add(s.Seq, 's', s.ID)
	}
	f.w.mu.Unlock()
}

func (f writerFacts) PutEnvelope(id string, seq uint64, fp domain.Fingerprint) {
	f.w.mu.Lock()
	f.w.pend.envelopes[id] = envelopeRef{seq, fp}
	f.w.pend.add(seq, 'e', id)
	f.w.pend.partners[f.Partner.ID] = seq
	f.w.pend.add(seq, 'p', f.Partner.ID)
	f.w.mu.Unlock()
	f.w.cached++
}
