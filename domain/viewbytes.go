package domain

import "unsafe"

// Bytes estimates the memory a detached View holds, in bytes: its tier
// model's series and segments, its spans, grants and settled revocation
// reasons, and what it keeps of the partner (core, offers and activations,
// their strings and indexes). A query cache counts its budget with it;
// TestDetachedViewBytes holds the estimate within a fifth of what the heap
// itself counts for Views loaded from the read models. Ids the partner's
// facts each hold a copy of are counted each time, and the allocator's
// rounding up to its size classes is not, so the two errors partly cancel;
// constant strings (causes, reasons, listing types) cost their headers.
//
// On a View that still holds its sales (not detached) it counts them too,
// at the size of their structs and strings, but not the recounted tier
// models it may have built for revocation reasons: a lower bound.
func (v *View) Bytes() int64 {
	n := int64(unsafe.Sizeof(*v))
	if t := v.tiers; t != nil {
		n += int64(unsafe.Sizeof(*t))
		for _, s := range []*series{&t.mbs, &t.seats, &t.biz, &t.mau.series, &t.fraudEx, &t.cancelEx} {
			n += 8 * int64(cap(s.at)+cap(s.sum))
		}
		n += 8 * int64(cap(t.mau.v)+cap(t.mau.prefix))
		n += int64(cap(t.segs)) * int64(unsafe.Sizeof(heldSegment{}))
		for _, s := range t.segs {
			n += int64(len(s.cause.ID))
		}
	}
	n += int64(cap(v.spans))*int64(unsafe.Sizeof(span{})) + int64(cap(v.grants))*int64(unsafe.Sizeof(offerGrant{}))
	n += mapBytes(len(v.revoked), 8+24)
	for _, rs := range v.revoked {
		n += 16 * int64(cap(rs))
	}
	return n + v.p.bytes()
}

// mapBytes estimates a Go map of n entries whose key and value take kv
// bytes: Swiss-table groups of eight slots with a control word, kept at
// most 7/8 full.
func mapBytes(n int, kv int64) int64 {
	if n == 0 {
		return 48
	}
	return 48 + int64(n)*(kv+1)*8/7
}

// bytes estimates what the partner holds: its core, offers, sales,
// metrics and activations with their strings, and its indexes.
func (p *Partner) bytes() int64 {
	n := int64(unsafe.Sizeof(*p)) + int64(len(p.ID))
	n += mapBytes(len(p.offerIdx), 16+8) + mapBytes(len(p.saleIdx), 16+8) + mapBytes(len(p.actIdx), 8+8)
	if c := p.Core; c != nil {
		n += int64(unsafe.Sizeof(*c)) + int64(len(c.ID)+len(c.Chain)+len(c.Created.Event))
		if e := c.Enrolment; e != nil {
			n += int64(unsafe.Sizeof(*e)) + int64(len(e.Event)+len(e.Name)+len(e.AccountEmail))
		}
		n += int64(cap(c.Contacts)) * int64(unsafe.Sizeof(ContactAssignment{}))
		for _, a := range c.Contacts {
			n += int64(len(a.Event) + len(a.UserID) + len(a.Email) + len(a.Phone) + len(a.Language))
		}
		n += int64(cap(c.Sanctions)) * int64(unsafe.Sizeof(Sanction{}))
		for _, s := range c.Sanctions {
			n += int64(len(s.Event) + len(s.Ground) + len(s.Note))
			if s.Reinstated != nil {
				n += int64(unsafe.Sizeof(Stamp{})) + int64(len(s.Reinstated.Event))
			}
		}
		n += int64(cap(c.Opts)) * int64(unsafe.Sizeof(OptChange{}))
		for _, o := range c.Opts {
			n += int64(len(o.Event) + len(o.BenefitID) + len(o.OfferID))
		}
	}
	n += 8 * int64(cap(p.Offers)+cap(p.Sales)+cap(p.Metrics)+cap(p.Activations))
	for _, o := range p.Offers {
		n += int64(unsafe.Sizeof(*o)) + int64(len(o.ID)+len(o.Partner))
		n += int64(cap(o.Pubs)) * int64(unsafe.Sizeof(Publication{}))
		for _, pub := range o.Pubs {
			n += int64(len(pub.Event) + len(pub.PublisherID) + len(pub.ListingType) + len(pub.Storefront) + len(pub.Category))
			if d := pub.Delisted; d != nil {
				n += int64(unsafe.Sizeof(*d)) + int64(len(d.Event)+len(d.Reason))
			}
		}
	}
	for _, s := range p.Sales {
		n += int64(unsafe.Sizeof(*s)) + int64(len(s.ID)+len(s.Partner)+len(s.OfferID)+len(s.CustomerID)+len(s.Event))
		n += int64(cap(s.Marks)) * int64(unsafe.Sizeof(FraudMark{}))
		for _, m := range s.Marks {
			n += int64(len(m.Event) + len(m.Confidence))
		}
		if c := s.Cancel; c != nil {
			n += int64(unsafe.Sizeof(*c)) + int64(len(c.Event)+len(c.Reason))
		}
	}
	for _, m := range p.Metrics {
		n += int64(unsafe.Sizeof(*m)) + int64(len(m.Event)+len(m.Metric)+len(m.Period))
	}
	for _, a := range p.Activations {
		n += int64(unsafe.Sizeof(*a)) + int64(len(a.Event)+len(a.Partner)+len(a.EventID)+len(a.BenefitID)+len(a.OfferID)+len(a.Line))
		n += int64(cap(a.Contacts)) * int64(unsafe.Sizeof(Stamp{}))
		for _, c := range a.Contacts {
			n += int64(len(c.Event))
		}
	}
	return n
}
