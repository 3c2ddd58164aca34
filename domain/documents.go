package domain

import "time"

// The documents of CONTRACT.md. Field names and shapes are the public
// contract: add fields freely, never rename or remove one.

// TierDoc answers "which tier does the partner hold at an instant?".
type TierDoc struct {
	PartnerID string     `json:"partner_id"`
	At        time.Time  `json:"at"`
	KnownSeq  uint64     `json:"known_seq"`
	KnownAt   *time.Time `json:"known_at,omitempty"` // the knowledge instant asked for, if any
	Era       *string    `json:"era"`
	// Basis is how the era in force counts the tracks: "cumulative" (since
	// the fiscal year began) or "ttm" (the trailing twelve months); null
	// before the first era.
	Basis *string  `json:"basis"`
	Tier  TierRank `json:"tier"`
	// EarnedBy names the tracks whose values at At reach the held tier, in
	// id order. Empty while a tier is held (a TTM tier falls only at the
	// next anniversary) that today's values no longer reach, or with none.
	EarnedBy     []string   `json:"earned_by"`
	Sanctioned   bool       `json:"sanctioned"`
	Tracks       Tracks     `json:"tracks"`
	Excluded     Excluded   `json:"excluded"`
	Period       *PeriodDoc `json:"period"`
	FirstReceipt *time.Time `json:"first_receipt"`
	Policy       string     `json:"policy"`
}

// TierRank is a tier: its rank (0 none, 1–4) and name.
type TierRank struct {
	Rank int    `json:"rank"`
	Name string `json:"name"`
}

// Excluded sums the sales left out of the tracks, on the era's basis:
// confirmed fraud and cancelled, in US cents.
type Excluded struct {
	Fraud     int64 `json:"fraud_usd_cents"`
	Cancelled int64 `json:"cancelled_usd_cents"`
}

// PeriodDoc is a benefit period in a tier document: its kind
// (fiscal-year, anniversary) and its half-open span.
type PeriodDoc struct {
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// BenefitsDoc answers "which benefits is the partner entitled to, and what
// became of its activations?".
type BenefitsDoc struct {
	PartnerID   string          `json:"partner_id"`
	At          time.Time       `json:"at"`
	KnownSeq    uint64          `json:"known_seq"`
	KnownAt     *time.Time      `json:"known_at,omitempty"` // the knowledge instant asked for, if any
	Sanctioned  bool            `json:"sanctioned"`
	Entitled    []EntitledDoc   `json:"entitled"`
	Activations []ActivationDoc `json:"activations"`
	Policy      string          `json:"policy"`
}

// EntitledDoc is one line that entitles a benefit at the document's
// instant: the benefit, the line that grants it and, for per-offer grants,
// the offer and when the grant ends.
type EntitledDoc struct {
	BenefitID string     `json:"benefit_id"`
	Category  string     `json:"category"`
	GrantedBy string     `json:"granted_by"`
	OfferID   *string    `json:"offer_id"`
	Until     *time.Time `json:"until"`
	Period    Period     `json:"period"`
}

// ActivationDoc is one activation in a benefits document: what was
// activated, under which line and period, and its status and reasons as
// known.
type ActivationDoc struct {
	Seq         uint64    `json:"seq"`
	EventID     string    `json:"event_id"`
	BenefitID   string    `json:"benefit_id"`
	OfferID     *string   `json:"offer_id"`
	ActivatedAt time.Time `json:"activated_at"`
	GrantedBy   string    `json:"granted_by"`
	Period      Period    `json:"period"`
	Status      string    `json:"status"`
	Reasons     []string  `json:"reasons"`
	Contacted   bool      `json:"contacted"`
}

// Tier builds the tier document at at. knownSeq is echoed: the last sequence
// the View counted.
func (v *View) Tier(at time.Time, knownSeq uint64) TierDoc {
	at = at.UTC()
	era := v.pol.EraAt(at)
	rank := v.tiers.held(at)
	doc := TierDoc{
		PartnerID:  v.p.ID,
		At:         at,
		KnownSeq:   knownSeq,
		Tier:       TierRank{Rank: rank, Name: v.pol.TierName(rank)},
		Sanctioned: v.Sanctioned(at),
		Tracks:     v.tiers.tracks(at, era),
		EarnedBy:   []string{},
		Policy:     v.pol.Version,
	}
	doc.Excluded.Fraud, doc.Excluded.Cancelled = v.tiers.excluded(at, era)
	if era != nil {
		doc.Era, doc.Basis = &era.ID, &era.Basis
		if ids := era.earnedBy(at, doc.Tracks, rank); ids != nil {
			doc.EarnedBy = ids
		}
	}
	if p, kind, ok := v.tiers.benefitPeriod(at); ok {
		doc.Period = &PeriodDoc{Kind: kind, Start: p.Start, End: p.End}
	}
	if first, ok := v.tiers.firstReceiptBy(at); ok {
		doc.FirstReceipt = &first
	}
	return doc
}

// Benefits builds the benefits document at at.
func (v *View) Benefits(at time.Time, knownSeq uint64) BenefitsDoc {
	at = at.UTC()
	grants, states := v.Grants(at), v.Activations(at)
	doc := BenefitsDoc{PartnerID: v.p.ID, At: at, KnownSeq: knownSeq, Sanctioned: v.Sanctioned(at),
		Entitled: make([]EntitledDoc, 0, len(grants)), Activations: make([]ActivationDoc, 0, len(states)), Policy: v.pol.Version}
	for i := range grants {
		g := &grants[i] // grants is this document's own: its fields can be pointed at
		doc.Entitled = append(doc.Entitled, EntitledDoc{BenefitID: g.BenefitID, Category: g.Category, GrantedBy: g.Line,
			OfferID: optionalAt(&g.OfferID), Until: g.Until, Period: g.Period})
	}
	for _, s := range states {
		doc.Activations = append(doc.Activations, ActivationDoc{Seq: s.Seq, EventID: s.EventID, BenefitID: s.BenefitID,
			OfferID: optional(s.OfferID), ActivatedAt: s.Time, GrantedBy: s.Line, Period: s.Period,
			Status: s.Status, Reasons: s.Reasons, Contacted: s.Contacted})
	}
	return doc
}

// optional maps "" to JSON null: a pointer to a copy of s, or nil.
func optional(s string) *string { return optionalAt(&s) }

// optionalAt is optional without the copy: p itself, or nil when *p is "".
// p must be the document's own, not a field of a View a cache shares.
func optionalAt(p *string) *string {
	if *p == "" {
		return nil
	}
	return p
}
