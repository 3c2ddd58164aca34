package domain

import (
	"fmt"
	"slices"
	"time"
)

// Book is the whole ledger in memory: the reference fold of the log and of the
// submit pipeline, with no I/O. The scenario tests run through it, and the
// running ledger must agree with it.
type Book struct {
	pol       *Policy
	partners  map[string]*Partner
	envelopes map[string]envelopeRef
	offers    map[string]string
	sales     map[string]string
	lastSeq   uint64
	log       []Event
}

type envelopeRef struct {
	seq uint64
	fp  Fingerprint
}

// NewBook returns an empty ledger under pol.
func NewBook(pol *Policy) *Book {
	return &Book{pol: pol, partners: map[string]*Partner{}, envelopes: map[string]envelopeRef{},
		offers: map[string]string{}, sales: map[string]string{}}
}

// Result is the outcome of one submitted line, as `submit --json` reports it.
type Result struct {
	ID        string
	Seq       uint64
	Duplicate bool
	Err       error // a coded rejection (*Error)
}

// Submit processes one input line at the ledger clock now and records what it
// decides, numbering events from 1.
func (b *Book) Submit(raw []byte, now time.Time) Result {
	in, events, err := Process(b, b.partner, nil, raw, now, b.pol)
	if seq, ok := IsDuplicate(err); ok {
		return Result{ID: in.ID, Seq: seq, Duplicate: true}
	}
	if err != nil {
		return Result{ID: in.ID, Err: err}
	}
	for i := range events {
		events[i].Seq = b.lastSeq + 1
		if err := b.Record(events[i]); err != nil {
			panic(fmt.Sprintf("domain: a decided event does not apply: %v", err))
		}
	}
	return Result{ID: in.ID, Seq: events[len(events)-1].Seq}
}

// Record folds an already recorded event (replaying a log).
func (b *Book) Record(e Event) error {
	if e.Seq <= b.lastSeq {
		return fmt.Errorf("seq %d after %d: the log must be replayed in order", e.Seq, b.lastSeq)
	}
	p, _ := b.partner(e.Partner)
	if err := Apply(bookFacts{b, p}, e); err != nil {
		return err
	}
	b.partners[e.Partner] = p
	b.lastSeq = e.Seq
	b.log = append(b.log, e)
	return nil
}

// Events returns the recorded log, in order.
func (b *Book) Events() []Event { return b.log }

// Partner returns a partner's state, or nil when it does not exist.
func (b *Book) Partner(id string) *Partner { return b.partners[id] }

// PartnerIDs lists the partners in id order.
func (b *Book) PartnerIDs() []string {
	ids := make([]string, 0, len(b.partners))
	for id := range b.partners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// LastSeq is the sequence of the last recorded event.
func (b *Book) LastSeq() uint64 { return b.lastSeq }

// Policy is the Book's policy.
func (b *Book) Policy() *Policy { return b.pol }

func (b *Book) partner(id string) (*Partner, error) {
	if p, ok := b.partners[id]; ok {
		return p, nil
	}
	return NewPartner(id), nil
}

// The Book's Directory.

// Envelope returns the sequence and content fingerprint recorded for an
// envelope id; ok is false when no envelope with that id was recorded.
func (b *Book) Envelope(id string) (uint64, Fingerprint, bool) {
	r, ok := b.envelopes[id]
	return r.seq, r.fp, ok
}

// OfferOwner returns the partner that published offer id; ok is false for
// an offer never published.
func (b *Book) OfferOwner(id string) (string, bool) {
	p, ok := b.offers[id]
	return p, ok
}

// SaleOwner returns the partner whose offer billed sale id; ok is false
// for a sale never billed.
func (b *Book) SaleOwner(id string) (string, bool) {
	p, ok := b.sales[id]
	return p, ok
}

// bookFacts folds into one partner and keeps the Book's global index.
type bookFacts struct {
	b *Book
	*Partner
}

func (f bookFacts) PutOffer(o *Offer) {
	f.Partner.PutOffer(o)
	f.b.offers[o.ID] = o.Partner
}

func (f bookFacts) PutSale(s *Sale) {
	f.Partner.PutSale(s)
	f.b.sales[s.ID] = s.Partner
}

func (f bookFacts) PutEnvelope(id string, seq uint64, fp Fingerprint) {
	f.b.envelopes[id] = envelopeRef{seq, fp}
}
