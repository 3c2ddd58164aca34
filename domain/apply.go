package domain

import (
	"fmt"
	"time"
)

// Facts is where Apply folds events: the in-memory Partner of the decider and
// the pure Book, and the projector's bbolt transaction. One Apply serves them
// all, so the write side and the read models cannot fold differently.
//
// Getters return nil when the fact does not exist. A caller may hand out
// copies; Apply always puts back what it changed.
type Facts interface {
	PartnerCore(id string) *PartnerCore
	PutPartnerCore(*PartnerCore)
	Offer(id string) *Offer
	PutOffer(*Offer)
	Sale(id string) *Sale
	PutSale(*Sale)
	PutMetric(partner string, m *MetricReport)
	Activation(partner string, seq uint64) *Activation
	PutActivation(*Activation)
	// PutEnvelope records an accepted envelope id for idempotency.
	PutEnvelope(id string, seq uint64, fp Fingerprint)
}

// Apply folds one recorded event into the facts (the Evolve of the decider).
// It trusts that Decide accepted the event; an error means the facts cannot
// take it (an event Decide would not have accepted: not one the ledger
// wrote, or a projection bug). Apply changes nothing when it returns an
// error — every check comes before the first change — so a fold may skip
// the event and go on.
func Apply(f Facts, e Event) error {
	core := f.PartnerCore(e.Partner)
	if core == nil {
		if e.Type != TypeOfferPublished {
			return fmt.Errorf("seq %d: %s for unknown partner %s", e.Seq, e.Type, e.Partner)
		}
		core = &PartnerCore{ID: e.Partner, Created: e.stamp()}
	}
	if e.Seq <= core.LastSeq {
		return fmt.Errorf("seq %d: partner %s already at seq %d", e.Seq, core.ID, core.LastSeq)
	}
	st := e.stamp()
	switch d := e.Data.(type) {
	case OfferPublished:
		o := f.Offer(d.OfferID)
		if o == nil {
			o = &Offer{ID: d.OfferID, Partner: e.Partner}
		}
		o.Pubs = append(o.Pubs, Publication{Stamp: st, PublisherID: d.PublisherID, ListingType: d.ListingType,
			Storefront: d.Storefront, Category: d.Category, Fingerprint: e.Fingerprint()})
		f.PutOffer(o)
	case OfferDelisted:
		o := f.Offer(d.OfferID)
		if o == nil || o.current() == nil {
			return fmt.Errorf("seq %d: delisting of unknown offer %s", e.Seq, d.OfferID)
		}
		o.current().Delisted = &Delisting{Stamp: st, Reason: d.Reason}
		f.PutOffer(o)
	case PartnerEnrolled:
		core.Enrolment = &Enrolment{Stamp: st, Name: d.Name, AccountEmail: d.AccountEmail}
	case MarketingContactAssigned:
		core.Contacts = append(core.Contacts, ContactAssignment{Stamp: st, UserID: d.UserID, Email: d.Email, Phone: d.Phone, Language: d.Language})
	case SaleBilled:
		if s := f.Sale(d.SaleID); s != nil && s.Partner == e.Partner {
			return fmt.Errorf("seq %d: sale %s is already recorded", e.Seq, d.SaleID)
		}
		o := f.Offer(d.OfferID)
		if o == nil {
			return fmt.Errorf("seq %d: sale %s of unknown offer %s", e.Seq, d.SaleID, d.OfferID)
		}
		pub := o.publicationAt(e.Time, ^uint64(0))
		f.PutSale(&Sale{ID: d.SaleID, Partner: e.Partner, OfferID: d.OfferID, CustomerID: d.CustomerID, Stamp: st,
			Amount: d.AmountUSDCents, Seats: d.Seats, M365: pub != nil && pub.Category == CategoryM365})
	case SaleFlaggedFraud:
		if err := updateSale(f, e, d.SaleID, func(s *Sale) { s.Marks = append(s.Marks, FraudMark{Stamp: st, Confidence: d.Confidence}) }); err != nil {
			return err
		}
	case SaleFraudCleared:
		if err := updateSale(f, e, d.SaleID, func(s *Sale) { s.Marks = append(s.Marks, FraudMark{Stamp: st, Cleared: true}) }); err != nil {
			return err
		}
	case PurchaseCancelled:
		if err := updateSale(f, e, d.SaleID, func(s *Sale) { s.Cancel = &Cancel{Stamp: st, Reason: d.Reason} }); err != nil {
			return err
		}
	case MetricReported:
		f.PutMetric(e.Partner, &MetricReport{Stamp: st, Metric: d.Metric, Period: d.Period, Value: d.Value})
	case BenefitActivated:
		if e.Grant == nil {
			return fmt.Errorf("seq %d: activation without its grant note", e.Seq)
		}
		f.PutActivation(&Activation{Stamp: st, Partner: e.Partner, EventID: e.ID, BenefitID: d.BenefitID, OfferID: d.OfferID,
			Line: e.Grant.Line, Period: e.Grant.Period})
	case RewardsTeamContacted:
		a := f.Activation(e.Partner, e.Target)
		if a == nil {
			return fmt.Errorf("seq %d: contact report names unknown activation %d", e.Seq, e.Target)
		}
		a.Contacts = append(a.Contacts, st)
		f.PutActivation(a)
	case EngagementOptedOut:
		core.Opts = append(core.Opts, OptChange{Stamp: st, Out: true, BenefitID: d.BenefitID, OfferID: d.OfferID})
	case EngagementOptedIn:
		core.Opts = append(core.Opts, OptChange{Stamp: st, BenefitID: d.BenefitID, OfferID: d.OfferID})
	case PartnerSanctioned:
		core.Sanctions = append(core.Sanctions, Sanction{Stamp: st, Ground: d.Ground, Note: d.Note})
	case PartnerReinstated:
		if n := len(core.Sanctions); n > 0 && core.Sanctions[n-1].Reinstated == nil {
			r := st // a copy: taking st's address would put it on the heap for every event
			core.Sanctions[n-1].Reinstated = &r
		} else {
			return fmt.Errorf("seq %d: reinstatement of a partner not sanctioned", e.Seq)
		}
	default:
		return fmt.Errorf("seq %d: cannot apply %T", e.Seq, e.Data)
	}
	finishApply(f, core, e)
	return nil
}

func updateSale(f Facts, e Event, id string, change func(*Sale)) error {
	s := f.Sale(id)
	if s == nil {
		return fmt.Errorf("seq %d: %s of unknown sale %s", e.Seq, e.Type, id)
	}
	if s.Partner != e.Partner {
		return fmt.Errorf("seq %d: sale %s belongs to %s, not %s", e.Seq, id, s.Partner, e.Partner)
	}
	change(s)
	f.PutSale(s)
	return nil
}

// finishApply advances the partner's counters and records the envelope id.
func finishApply(f Facts, core *PartnerCore, e Event) {
	core.LastSeq = e.Seq
	core.Chain = e.Chain
	core.Events++
	f.PutPartnerCore(core)
	f.PutEnvelope(e.ID, e.Seq, e.Fingerprint())
}

// publicationAt is the publication in effect at t among those known at n: the
// latest one published at or before t (delisted or not).
func (o *Offer) publicationAt(t time.Time, n uint64) *Publication {
	var found *Publication
	for i := range o.Pubs {
		p := &o.Pubs[i]
		if p.known(n) && !p.Time.After(t) {
			found = p
		}
	}
	return found
}
