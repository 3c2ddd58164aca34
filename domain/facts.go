package domain

import "time"

// Facts are what the ledger knows about a partner, folded from its events.
// Every fact keeps the sequence that recorded it, and corrections are kept as
// lists rather than overwritten, so a View can be compiled for any knowledge
// cut-off ("what did we know at sequence N?") from the same facts.

// Stamp is when something happened (event time), when the ledger learned of
// it (recorded sequence), and which input told it (envelope id).
type Stamp struct {
	Seq   uint64    `json:"seq"`
	Time  time.Time `json:"time"`
	Event string    `json:"event"` // envelope id of the recording event
}

// known reports whether the stamp is within the knowledge cut-off n.
func (s Stamp) known(n uint64) bool { return s.Seq <= n }

// PartnerCore holds a partner's small, slowly growing facts.
type PartnerCore struct {
	ID        string              `json:"id"`
	Created   Stamp               `json:"created"` // first publication: the partner exists from then
	LastSeq   uint64              `json:"last_seq"`
	Events    int64               `json:"events"`
	Enrolment *Enrolment          `json:"enrolment,omitempty"`
	Contacts  []ContactAssignment `json:"contacts,omitempty"`
	Sanctions []Sanction          `json:"sanctions,omitempty"`
	Opts      []OptChange         `json:"opts,omitempty"`
	Chain     string              `json:"chain,omitempty"` // the recorded chain of the partner's latest event ("" if none)
}

// Enrolment is a partner's enrolment in the rewards program.
type Enrolment struct {
	Stamp
	Name         string `json:"name"`
	AccountEmail string `json:"account_email"`
}

// ContactAssignment is one assignment of the partner's marketing contact;
// the latest known one is in force.
type ContactAssignment struct {
	Stamp
	UserID   string `json:"user_id,omitempty"`
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone"`
	Language string `json:"language"`
}

// Sanction is a span during which the partner is sanctioned; Reinstated ends it.
type Sanction struct {
	Stamp
	Ground     string `json:"ground"`
	Note       string `json:"note,omitempty"`
	Reinstated *Stamp `json:"reinstated,omitempty"`
}

// OptChange is an opt-out (Out) or opt-in of a scope: a benefit, an offer,
// both, or (neither) every engagement of the partner.
type OptChange struct {
	Stamp
	Out       bool   `json:"out"`
	BenefitID string `json:"benefit_id,omitempty"`
	OfferID   string `json:"offer_id,omitempty"`
}

// covers reports whether the change's scope includes an engagement of
// benefit b with offer o ("" when the engagement has no offer).
func (c OptChange) covers(b, o string) bool {
	return (c.BenefitID == "" || c.BenefitID == b) && (c.OfferID == "" || c.OfferID == o)
}

// Offer is one offer and its publications. An offer belongs to one partner forever.
type Offer struct {
	ID      string        `json:"id"`
	Partner string        `json:"partner"`
	Pubs    []Publication `json:"pubs"`
}

// Publication is one span during which the offer was published, ended by a delisting.
type Publication struct {
	Stamp
	PublisherID string      `json:"publisher_id"`
	ListingType string      `json:"listing_type"`
	Storefront  string      `json:"storefront"`
	Category    string      `json:"category"`
	Fingerprint Fingerprint `json:"fingerprint"`
	Delisted    *Delisting  `json:"delisted,omitempty"`
}

// Delisting ends a publication of an offer.
type Delisting struct {
	Stamp
	Reason string `json:"reason,omitempty"`
}

// current is the latest publication, or nil.
func (o *Offer) current() *Publication {
	if len(o.Pubs) == 0 {
		return nil
	}
	return &o.Pubs[len(o.Pubs)-1]
}

// Sale is one billed sale with its corrections.
type Sale struct {
	ID         string      `json:"id"`
	Partner    string      `json:"partner"`
	OfferID    string      `json:"offer_id"`
	CustomerID string      `json:"customer_id"`
	Stamp                  // billing instant and recording
	Amount     int64       `json:"amount_usd_cents"`
	Seats      int64       `json:"seats,omitempty"`
	M365       bool        `json:"m365,omitempty"`  // the offer was an m365-app when billed: seats count
	Marks      []FraudMark `json:"marks,omitempty"` // flags and clearances in recorded order
	Cancel     *Cancel     `json:"cancel,omitempty"`
}

// Fingerprint is the content fingerprint of the SaleBilled event that
// recorded the sale. A sale holds everything that event's content is made
// of (its time and every data field), so the fingerprint is computed from
// the sale instead of being stored with it: 16 bytes less per sale in the
// read models, for a SHA-256 only when a SaleBilled repeats a known sale id.
func (s *Sale) Fingerprint() Fingerprint {
	return Input{Type: TypeSaleBilled, Time: s.Time, Data: SaleBilled{SaleID: s.ID, OfferID: s.OfferID,
		CustomerID: s.CustomerID, AmountUSDCents: s.Amount, Seats: s.Seats}}.fingerprint()
}

// FraudMark is a flag (suspected or confirmed) or, with Cleared, a clearance.
type FraudMark struct {
	Stamp
	Confidence string `json:"confidence,omitempty"`
	Cleared    bool   `json:"cleared,omitempty"`
}

// Cancel is a sale's cancellation.
type Cancel struct {
	Stamp
	Reason string `json:"reason"`
}

// fraudState is the sale's last flag or clearance known at n, if any.
func (s *Sale) fraudState(n uint64) (FraudMark, bool) {
	for i := len(s.Marks) - 1; i >= 0; i-- {
		if s.Marks[i].known(n) {
			return s.Marks[i], true
		}
	}
	return FraudMark{}, false
}

// fraudStateAt is the sale's fraud state at instant at as known at n: its
// last recorded flag or clearance among those known at n and dated at or
// before at. The attention report judges holds by it.
func (s *Sale) fraudStateAt(n uint64, at time.Time) (FraudMark, bool) {
	for i := len(s.Marks) - 1; i >= 0; i-- {
		if m := s.Marks[i]; m.known(n) && !m.Time.After(at) {
			return m, true
		}
	}
	return FraudMark{}, false
}

// flags reports whether the sale is confirmed fraud and whether it is
// cancelled, as known at n. A suspected flag, or one cleared since, is not fraud.
func (s *Sale) flags(n uint64) (fraud, cancelled bool) {
	if m, ok := s.fraudState(n); ok && !m.Cleared && m.Confidence == ConfidenceConfirmed {
		fraud = true
	}
	return fraud, s.Cancel != nil && s.Cancel.known(n)
}

// MetricReport is one report of a partner metric for a month. A later report
// for the same metric and period replaces it entirely.
type MetricReport struct {
	Stamp
	Metric string `json:"metric"`
	Period string `json:"period"`
	Value  int64  `json:"value"`
}

// Activation is an accepted BenefitActivated with the line and period the
// decider chose for it, and the rewards team's contact reports naming it.
type Activation struct {
	Stamp
	Partner   string  `json:"partner"`
	EventID   string  `json:"event_id"`
	BenefitID string  `json:"benefit_id"`
	OfferID   string  `json:"offer_id,omitempty"`
	Line      string  `json:"line"`
	Period    Period  `json:"period"`
	Contacts  []Stamp `json:"contacts,omitempty"`
}

// contacted reports whether a contact report naming the activation is known at
// n and dated at or before at.
func (a *Activation) contacted(n uint64, at time.Time) bool {
	for _, c := range a.Contacts {
		if c.known(n) && !c.Time.After(at) {
			return true
		}
	}
	return false
}
