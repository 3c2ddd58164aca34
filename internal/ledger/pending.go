package ledger

import "github.com/benefits-ledger/ledger/domain"

// pending is what the writer has appended (or is about to) that the read
// models may not hold yet: the overlay that makes the global index and the
// partner cache read-your-writes. The projector prunes it as it folds. Its
// lock is the Writer's mu.
type pending struct {
	envelopes map[string]envelopeRef
	offers    map[string]string
	sales     map[string]string
	partners  map[string]uint64 // partner → its last pending sequence
	order     []pendingEntry    // in sequence order, for pruning and rollback
}

type envelopeRef struct {
	seq uint64
	fp  domain.Fingerprint
}

type pendingEntry struct {
	seq  uint64
	kind byte // 'e' envelope, 'o' offer, 's' sale, 'p' partner
	key  string
}

func newPending() *pending {
	return &pending{envelopes: map[string]envelopeRef{}, offers: map[string]string{}, sales: map[string]string{}, partners: map[string]uint64{}}
}

func (p *pending) add(seq uint64, kind byte, key string) {
	p.order = append(p.order, pendingEntry{seq, kind, key})
}

// prune forgets entries the read models now hold (sequence ≤ checkpoint).
func (p *pending) prune(checkpoint uint64) {
	i := 0
	for ; i < len(p.order) && p.order[i].seq <= checkpoint; i++ {
		p.forget(p.order[i])
	}
	p.order = append(p.order[:0], p.order[i:]...)
}

// rollback forgets entries from sequence from on: a batch that was not stored.
func (p *pending) rollback(from uint64) {
	i := len(p.order)
	for i > 0 && p.order[i-1].seq >= from {
		i--
		p.forget(p.order[i])
	}
	p.order = p.order[:i]
	for id, seq := range p.partners {
		if seq >= from {
			delete(p.partners, id)
		}
	}
	for _, e := range p.order {
		if e.kind == 'p' {
			p.partners[e.key] = e.seq
		}
	}
}

// forget removes one entry unless a later entry replaced it.
func (p *pending) forget(e pendingEntry) {
	switch e.kind {
	case 'e':
		if r, ok := p.envelopes[e.key]; ok && r.seq == e.seq {
			delete(p.envelopes, e.key)
		}
	case 'o':
		delete(p.offers, e.key)
	case 's':
		delete(p.sales, e.key)
	case 'p':
		if p.partners[e.key] == e.seq {
			delete(p.partners, e.key)
		}
	}
}
