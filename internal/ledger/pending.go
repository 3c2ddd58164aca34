package ledger

import (
	"slices"

	"github.com/benefits-ledger/ledger/domain"
)

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
//
// They are not always the tail of order: an event that changes an older sale
// (a fraud flag, a cancellation) records the sale under the sale's own,
// earlier sequence, after the entries of the events before it. So every
// entry is looked at; stopping at the first earlier one would keep the
// envelopes of a batch that was never stored, and a retry of those lines
// would be acknowledged as duplicates of events that do not exist.
func (p *pending) rollback(from uint64) {
	for i := len(p.order) - 1; i >= 0; i-- {
		if p.order[i].seq >= from {
			p.forget(p.order[i])
		}
	}
	p.order = slices.DeleteFunc(p.order, func(e pendingEntry) bool { return e.seq >= from })
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
