package domain

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Decide validates an input against its partner's facts (all recorded
// knowledge) and returns the events to record, a coded rejection (*Error), or
// a *Duplicate when the input repeats something already recorded. p is the
// partner Route named, possibly one with no facts yet. now is the ledger's
// clock, recorded with the event.
func Decide(p *Partner, in Input, now time.Time, pol *Policy) ([]Event, error) {
	e := Event{Input: in, Recorded: now.UTC(), Partner: p.ID}
	var err error
	switch d := in.Data.(type) {
	case OfferPublished:
		err = decideOfferPublished(p, in, d)
	case OfferDelisted:
		err = decideOfferDelisted(p, in, d)
	case PartnerEnrolled:
		err = decidePartnerEnrolled(p, in)
	case MarketingContactAssigned:
		err = decideContactAssigned(p, in, d)
	case SaleBilled:
		err = decideSaleBilled(p, in, d)
	case SaleFlaggedFraud:
		_, err = saleFor(p, in, d.SaleID)
	case SaleFraudCleared:
		err = decideFraudCleared(p, in, d)
	case PurchaseCancelled:
		err = decidePurchaseCancelled(p, in, d)
	case MetricReported:
		err = decideMetricReported(p, in, d)
	case BenefitActivated:
		e.Grant, err = decideActivation(p, in, d, pol)
	case RewardsTeamContacted:
		e.Target, err = decideContactReport(p, in, d, pol)
	case EngagementOptedOut:
		err = decideEngagement(p, d, pol)
	case EngagementOptedIn:
		err = decideEngagement(p, EngagementOptedOut(d), pol)
	case PartnerSanctioned:
		err = decideSanctioned(p, in)
	case PartnerReinstated:
		err = decideReinstated(p, in)
	default:
		err = reject(CodeUnknownType, "event type %s cannot be decided", in.Type)
	}
	if p.err != nil {
		return nil, p.err // a sale could not be loaded: not a rejection
	}
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// notBefore refuses an event dated before the thing it refers to.
func notBefore(in Input, ref time.Time, what string) error {
	if in.Time.Before(ref) {
		return fieldError("time", "%s is before %s at %s", in.Time.Format(time.RFC3339Nano), what, ref.Format(time.RFC3339Nano))
	}
	return nil
}

func existing(p *Partner) error {
	if !p.Exists() {
		return reject(CodeUnknownPartner, "partner %s is not known (it has not published an offer)", p.ID)
	}
	return nil
}

func decideOfferPublished(p *Partner, in Input, d OfferPublished) error {
	o := p.Offer(d.OfferID)
	if o == nil {
		return nil
	}
	cur := o.current()
	if cur.Delisted == nil {
		if cur.Fingerprint == in.Fingerprint() {
			return &Duplicate{Seq: cur.Seq}
		}
		return reject(CodeDuplicateConflict, "offer %s is live since sequence %d with different content", d.OfferID, cur.Seq)
	}
	return notBefore(in, cur.Delisted.Time, "the offer's delisting")
}

func decideOfferDelisted(p *Partner, in Input, d OfferDelisted) error {
	o := p.Offer(d.OfferID)
	if o == nil {
		return reject(CodeUnknownOffer, "offer %s is not known", d.OfferID)
	}
	cur := o.current()
	if cur.Delisted != nil {
		return reject(CodeOfferNotLive, "offer %s is not live (delisted at sequence %d)", d.OfferID, cur.Delisted.Seq)
	}
	return notBefore(in, cur.Time, "the offer's publication")
}

func decidePartnerEnrolled(p *Partner, in Input) error {
	if err := existing(p); err != nil {
		return err
	}
	if e := p.Core.Enrolment; e != nil {
		return reject(CodeAlreadyEnrolled, "partner %s enrolled at sequence %d", p.ID, e.Seq)
	}
	return notBefore(in, p.firstPublished(), "the partner's first publication")
}

func decideContactAssigned(p *Partner, in Input, d MarketingContactAssigned) error {
	if !p.Exists() || p.Core.Enrolment == nil {
		return reject(CodeNotEnrolled, "partner %s is not enrolled", p.ID)
	}
	e := p.Core.Enrolment
	if in.Time.Before(e.Time) {
		return reject(CodeNotEnrolled, "partner %s was not enrolled yet at %s (enrolled %s)", p.ID, in.Time.Format(time.RFC3339), e.Time.Format(time.RFC3339))
	}
	if d.Email != "" && strings.EqualFold(d.Email, e.AccountEmail) {
		return &Error{Code: CodeContactEmailConflict, Field: "data.email", Msg: "the marketing contact's email must differ from the partner account's email"}
	}
	return nil
}

func decideSaleBilled(p *Partner, in Input, d SaleBilled) error {
	if s := p.Sale(d.SaleID); s != nil {
		if s.Fingerprint() == in.Fingerprint() {
			return &Duplicate{Seq: s.Seq}
		}
		return reject(CodeDuplicateConflict, "sale %s was recorded at sequence %d with different content", d.SaleID, s.Seq)
	}
	o := p.Offer(d.OfferID)
	if o == nil {
		return reject(CodeUnknownOffer, "offer %s is not known", d.OfferID)
	}
	pub := o.publicationAt(in.Time, AllKnown)
	switch {
	case pub == nil:
		return reject(CodeNotTransactable, "offer %s was not yet published at %s", d.OfferID, in.Time.Format(time.RFC3339))
	case pub.ListingType != ListingTransact:
		return reject(CodeNotTransactable, "offer %s is a %s offer, not transact", d.OfferID, pub.ListingType)
	}
	return nil
}

// saleFor returns the sale a correction names, refusing a correction dated
// before the sale.
func saleFor(p *Partner, in Input, id string) (*Sale, error) {
	s := p.Sale(id)
	if s == nil {
		return nil, reject(CodeUnknownSale, "sale %s is not known", id)
	}
	return s, notBefore(in, s.Time, "the sale")
}

func decideFraudCleared(p *Partner, in Input, d SaleFraudCleared) error {
	s, err := saleFor(p, in, d.SaleID)
	if err != nil {
		return err
	}
	m, ok := s.fraudState(AllKnown)
	if !ok || m.Cleared {
		return reject(CodeNotFlagged, "sale %s is not flagged", d.SaleID)
	}
	return notBefore(in, m.Time, "the flag")
}

func decidePurchaseCancelled(p *Partner, in Input, d PurchaseCancelled) error {
	s, err := saleFor(p, in, d.SaleID)
	if err != nil {
		return err
	}
	if s.Cancel != nil {
		return reject(CodeAlreadyCancelled, "sale %s was cancelled at sequence %d", d.SaleID, s.Cancel.Seq)
	}
	return nil
}

func decideMetricReported(p *Partner, in Input, d MetricReported) error {
	if err := existing(p); err != nil {
		return err
	}
	start, _ := time.Parse("2006-01", d.Period)
	return notBefore(in, start, "the start of period "+d.Period)
}

// benefitOf returns the catalog entry a benefit_id names.
func benefitOf(pol *Policy, id string) (*Benefit, error) {
	if b := pol.Benefit(id); b != nil {
		return b, nil
	}
	return nil, fieldError("data.benefit_id", "%q is not a benefit of the catalog (policy %s)", clip(id), pol.Version)
}

// ownOffer refuses an offer_id that is not one of the partner's offers.
func ownOffer(p *Partner, id string) error {
	if id != "" && p.Offer(id) == nil {
		return reject(CodeUnknownOffer, "offer %s is not an offer of partner %s", id, p.ID)
	}
	return nil
}

// decideActivation applies the checks of DOMAIN.md §5 in their order, at the
// activation's event time with all recorded knowledge, and returns the line
// and period the activation is accepted under.
func decideActivation(p *Partner, in Input, d BenefitActivated, pol *Policy) (*GrantNote, error) {
	b, err := benefitOf(pol, d.BenefitID)
	if err != nil {
		return nil, err
	}
	if err := ownOffer(p, d.OfferID); err != nil {
		return nil, err
	}
	if err := p.Complete(); err != nil {
		return nil, err
	}
	v, t := p.View(pol), in.Time
	if !v.enrolledAt(t) {
		return nil, reject(CodeNotEnrolled, "partner %s is not enrolled at %s", p.ID, t.Format(time.RFC3339))
	}
	if v.Sanctioned(t) {
		return nil, reject(CodeSanctioned, "partner %s is sanctioned at %s", p.ID, t.Format(time.RFC3339))
	}
	if s := suspectedSale(p, t); s != nil {
		return nil, reject(CodeFraudHold, "sale %s is flagged as suspected fraud", s.ID)
	}
	if v.optedOutAt(b.ID, d.OfferID, t) {
		return nil, reject(CodeOptedOut, "partner %s has opted out of %s", p.ID, b.ID)
	}
	if _, ok := v.contactAt(t); !ok && b.Category != CategoryTechnical {
		return nil, reject(CodeNoMarketingContact, "partner %s has no marketing contact for %s benefits", p.ID, b.Category)
	}
	g, ok := v.entitlement(v.tiers, b, d.OfferID, t)
	if !ok {
		if d.OfferID != "" {
			return nil, reject(CodeNotEntitled, "%s is not entitled through a grant of offer %s at %s", b.ID, d.OfferID, t.Format(time.RFC3339))
		}
		return nil, reject(CodeNotEntitled, "partner %s is not entitled to %s at %s", p.ID, b.ID, t.Format(time.RFC3339))
	}
	for _, a := range p.Activations {
		if a.BenefitID == b.ID && a.OfferID == d.OfferID && a.Period.Contains(t) {
			return nil, reject(CodeAlreadyActivated, "%s was activated at sequence %d for the period %s – %s", b.ID, a.Seq,
				a.Period.Start.Format(time.RFC3339), a.Period.End.Format(time.RFC3339))
		}
	}
	return &GrantNote{Line: g.Line, OfferID: g.OfferID, Period: g.Period}, nil
}

// suspectedSale returns a sale whose fraud state is a suspected flag dated at
// or before t: such a sale holds every activation.
func suspectedSale(p *Partner, t time.Time) *Sale {
	for _, s := range p.Sales {
		if m, ok := s.fraudState(AllKnown); ok && !m.Cleared && m.Confidence == ConfidenceSuspected && !m.Time.After(t) {
			return s
		}
	}
	return nil
}

// decideContactReport finds the earliest activation of the benefit that is
// active and not yet contacted at the report's time.
func decideContactReport(p *Partner, in Input, d RewardsTeamContacted, pol *Policy) (uint64, error) {
	if err := existing(p); err != nil {
		return 0, err
	}
	b, err := benefitOf(pol, d.BenefitID)
	if err != nil {
		return 0, err
	}
	if err := p.Complete(); err != nil {
		return 0, err
	}
	v := p.View(pol)
	open := slices.Clone(p.Activations)
	slices.SortStableFunc(open, func(a, b *Activation) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	for _, a := range open {
		if a.BenefitID == b.ID && !a.Time.After(in.Time) && len(a.Contacts) == 0 && v.state(a, in.Time).Status == StatusActive {
			return a.Seq, nil
		}
	}
	return 0, reject(CodeNoOpenActivation, "partner %s has no active, uncontacted activation of %s at %s", p.ID, b.ID, in.Time.Format(time.RFC3339))
}

func decideEngagement(p *Partner, d EngagementOptedOut, pol *Policy) error {
	if err := existing(p); err != nil {
		return err
	}
	if d.BenefitID != "" {
		if _, err := benefitOf(pol, d.BenefitID); err != nil {
			return err
		}
	}
	return ownOffer(p, d.OfferID)
}

// lastSanction is the partner's latest sanction, if any.
func lastSanction(p *Partner) *Sanction {
	if n := len(p.Core.Sanctions); n > 0 {
		return &p.Core.Sanctions[n-1]
	}
	return nil
}

func decideSanctioned(p *Partner, in Input) error {
	if err := existing(p); err != nil {
		return err
	}
	s := lastSanction(p)
	switch {
	case s == nil:
		return nil
	case s.Reinstated == nil:
		return reject(CodeAlreadySanctioned, "partner %s is sanctioned since sequence %d", p.ID, s.Seq)
	}
	return notBefore(in, s.Reinstated.Time, "the last reinstatement")
}

func decideReinstated(p *Partner, in Input) error {
	if err := existing(p); err != nil {
		return err
	}
	s := lastSanction(p)
	if s == nil || s.Reinstated != nil {
		return reject(CodeNotSanctioned, "partner %s is not sanctioned", p.ID)
	}
	return notBefore(in, s.Time, "the sanction")
}
