package projections

import (
	"encoding/binary"

	"github.com/benefits-ledger/ledger/domain"
)

// One encoder and decoder per fact type. Field order is the format: append
// new fields at the end and bump codecVersion when changing one.

func encodeCore(c *domain.PartnerCore) []byte {
	e := newEnc()
	e.s(c.ID)
	e.stamp(c.Created)
	e.u(c.LastSeq)
	e.i(c.Events)
	e.flag(c.Enrolment != nil)
	if c.Enrolment != nil {
		e.stamp(c.Enrolment.Stamp)
		e.s(c.Enrolment.Name)
		e.s(c.Enrolment.AccountEmail)
	}
	e.u(uint64(len(c.Contacts)))
	for _, x := range c.Contacts {
		e.stamp(x.Stamp)
		e.s(x.UserID)
		e.s(x.Email)
		e.s(x.Phone)
		e.s(x.Language)
	}
	e.u(uint64(len(c.Sanctions)))
	for _, x := range c.Sanctions {
		e.stamp(x.Stamp)
		e.s(x.Ground)
		e.s(x.Note)
		e.flag(x.Reinstated != nil)
		if x.Reinstated != nil {
			e.stamp(*x.Reinstated)
		}
	}
	e.u(uint64(len(c.Opts)))
	for _, x := range c.Opts {
		e.stamp(x.Stamp)
		e.flag(x.Out)
		e.s(x.BenefitID)
		e.s(x.OfferID)
	}
	e.s(c.Chain)
	return e.b
}

// peekLastSeq reads a core's LastSeq without decoding the rest: queries ask
// for it on every request, to validate their cache.
func peekLastSeq(b []byte) (uint64, error) {
	d := newDec(b)
	d.s()
	d.stamp()
	seq := d.u()
	return seq, d.err
}

func decodeCore(b []byte) (*domain.PartnerCore, error) {
	d := newDec(b)
	c := &domain.PartnerCore{ID: d.s(), Created: d.stamp(), LastSeq: d.u(), Events: d.i()}
	if d.flag() {
		c.Enrolment = &domain.Enrolment{Stamp: d.stamp(), Name: d.s(), AccountEmail: d.s()}
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		c.Contacts = append(c.Contacts, domain.ContactAssignment{Stamp: d.stamp(), UserID: d.s(), Email: d.s(), Phone: d.s(), Language: d.s()})
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		s := domain.Sanction{Stamp: d.stamp(), Ground: d.s(), Note: d.s()}
		if d.flag() {
			r := d.stamp()
			s.Reinstated = &r
		}
		c.Sanctions = append(c.Sanctions, s)
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		c.Opts = append(c.Opts, domain.OptChange{Stamp: d.stamp(), Out: d.flag(), BenefitID: d.s(), OfferID: d.s()})
	}
	c.Chain = d.s()
	return c, d.done()
}

func encodeOffer(o *domain.Offer) []byte {
	e := newEnc()
	e.s(o.ID)
	e.s(o.Partner)
	e.u(uint64(len(o.Pubs)))
	for _, p := range o.Pubs {
		e.stamp(p.Stamp)
		e.s(p.PublisherID)
		e.s(p.ListingType)
		e.s(p.Storefront)
		e.s(p.Category)
		e.fp(p.Fingerprint)
		e.flag(p.Delisted != nil)
		if p.Delisted != nil {
			e.stamp(p.Delisted.Stamp)
			e.s(p.Delisted.Reason)
		}
	}
	return e.b
}

func decodeOffer(b []byte) (*domain.Offer, error) {
	d := newDec(b)
	o := &domain.Offer{ID: d.s(), Partner: d.s()}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		p := domain.Publication{Stamp: d.stamp(), PublisherID: d.s(), ListingType: d.s(), Storefront: d.s(), Category: d.s(), Fingerprint: d.fp()}
		if d.flag() {
			p.Delisted = &domain.Delisting{Stamp: d.stamp(), Reason: d.s()}
		}
		o.Pubs = append(o.Pubs, p)
	}
	if d.err == nil && len(o.Pubs) == 0 {
		return nil, errCorrupt
	}
	return o, d.done()
}

func encodeMetric(m *domain.MetricReport) []byte {
	e := newEnc()
	e.stamp(m.Stamp)
	e.s(m.Metric)
	e.s(m.Period)
	e.i(m.Value)
	return e.b
}

func decodeMetric(b []byte) (*domain.MetricReport, error) {
	d := newDec(b)
	m := &domain.MetricReport{Stamp: d.stamp(), Metric: d.s(), Period: d.s(), Value: d.i()}
	return m, d.done()
}

func encodeActivation(a *domain.Activation) []byte {
	e := newEnc()
	e.stamp(a.Stamp)
	e.s(a.Partner)
	e.s(a.EventID)
	e.s(a.BenefitID)
	e.s(a.OfferID)
	e.s(a.Line)
	e.t(a.Period.Start)
	e.t(a.Period.End)
	e.u(uint64(len(a.Contacts)))
	for _, c := range a.Contacts {
		e.stamp(c)
	}
	return e.b
}

func decodeActivation(b []byte) (*domain.Activation, error) {
	d := newDec(b)
	a := &domain.Activation{Stamp: d.stamp(), Partner: d.s(), EventID: d.s(), BenefitID: d.s(), OfferID: d.s(), Line: d.s(),
		Period: domain.Period{Start: d.t(), End: d.t()}}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		a.Contacts = append(a.Contacts, d.stamp())
	}
	return a, d.done()
}

// encodeEnvelope is an envelopes value: the sequence as a uvarint (three
// bytes for the first two million events, where a fixed width took eight),
// then the fingerprint. It carries no codec version byte: one byte per
// event, and the schema version covers the whole file.
func encodeEnvelope(seq uint64, fp domain.Fingerprint) []byte {
	return appendEnvelope(make([]byte, 0, envelopeMaxLen), seq, fp)
}

// envelopeMaxLen is the longest an envelopes value is.
const envelopeMaxLen = binary.MaxVarintLen64 + len(domain.Fingerprint{})

// appendEnvelope appends the envelopes value of seq and fp to dst.
func appendEnvelope(dst []byte, seq uint64, fp domain.Fingerprint) []byte {
	return append(binary.AppendUvarint(dst, seq), fp[:]...)
}

// decodeEnvelope decodes an envelopes value; ok is false for nil or a
// value of the wrong shape.
func decodeEnvelope(v []byte) (seq uint64, fp domain.Fingerprint, ok bool) {
	seq, n := binary.Uvarint(v)
	if n <= 0 || len(v)-n != len(fp) {
		return 0, fp, false
	}
	copy(fp[:], v[n:])
	return seq, fp, true
}
