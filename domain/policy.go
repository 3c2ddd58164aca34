package domain

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

//go:embed policy.json
var defaultPolicy []byte

// DefaultPolicyJSON returns the embedded default policy file, for operators
// who want a starting point for their own.
func DefaultPolicyJSON() []byte { return slices.Clone(defaultPolicy) }

// DefaultPolicy returns the embedded default policy.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicy)
	if err != nil {
		panic("domain: embedded policy is invalid: " + err.Error())
	}
	return p
}

// Track identifiers, named with their unit as in the tier document.
const (
	TrackMBS     = "mbs_usd_cents"
	TrackSeats   = "seats"
	TrackMAU     = "teams_mau"
	TrackBizApps = "bizapps_value_usd_cents"
)

var trackIDs = []string{TrackMBS, TrackSeats, TrackMAU, TrackBizApps}

// Bases of tier tracks.
const (
	BasisCumulative = "cumulative"
	BasisTTM        = "ttm"
)

// Grant lines, in the order an activation without offer_id picks them
// (DOMAIN.md §4), followed by the per-offer grant.
const (
	LineListingPackage = "listing-package"
	LineTier           = "tier"
	LineTransactOffer  = "transact-offer"
	LineLiveOffer      = "live-offer"
	LineOfferGrant     = "offer-grant"
)

var linePreference = []string{LineListingPackage, LineTier, LineTransactOffer, LineLiveOffer}

// Benefit categories.
const (
	CategoryMarketing = "marketing"
	CategorySales     = "sales"
	CategoryTechnical = "technical"
)

// Policy is the program's rules as data: eras with their tracks and
// thresholds, the benefit catalog with its grant lines, grant durations and
// attention windows. It is versioned and replaceable; no threshold lives in code.
type Policy struct {
	Version              string   `json:"version"`
	Comment              string   `json:"comment,omitempty"`
	Tiers                []string `json:"tiers"`
	FiscalYearStartMonth int      `json:"fiscal_year_start_month"`
	Eras                 []Era    `json:"eras"`
	OfferGrant           struct {
		ListingTypes []string `json:"listing_types"`
	} `json:"offer_grant"`
	ListingPackage struct {
		ListingTypes []string `json:"listing_types"`
		Months       int      `json:"months"`
	} `json:"listing_package"`
	Benefits  []Benefit `json:"benefits"`
	Attention struct {
		ContactOverdueDays int `json:"contact_overdue_days"`
		FraudHoldDays      int `json:"fraud_hold_days"`
	} `json:"attention"`

	digest   string
	benefits map[string]*Benefit
}

// Era is a span of the program's history with one set of rules. It is in force
// from From until the next era's From.
type Era struct {
	ID                 string           `json:"id"`
	From               time.Time        `json:"from"`
	Basis              string           `json:"basis"`
	Tracks             map[string]Track `json:"tracks"`
	OfferGrantMonths   int              `json:"offer_grant_months"`
	ListingPackage     bool             `json:"listing_package"`
	NoContactAfterDays int              `json:"no_contact_after_days"`

	index       int
	regimeStart time.Time  // first instant of the run of TTM eras this one belongs to
	trackList   []eraTrack // Tracks in id order, for evaluating ranks without map iteration
}

// eraTrack is one of an era's tracks with its id.
type eraTrack struct {
	id string
	Track
}

// Track holds a track's thresholds, one per tier rank from 1, in the track's
// unit. A track with Until stops counting toward the tier after that instant.
type Track struct {
	Thresholds []int64    `json:"thresholds"`
	Until      *time.Time `json:"until,omitempty"`
}

// Benefit is one entry of the catalog.
type Benefit struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Lines    []Line `json:"lines"`
}

// Line is one way a benefit can be granted.
type Line struct {
	Kind    string   `json:"line"`
	MinTier int      `json:"min_tier,omitempty"`
	Eras    []string `json:"eras,omitempty"`
}

// ParsePolicy decodes and validates a policy file. Unknown fields are refused
// so a misspelt threshold cannot silently fall back to zero.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("policy: data after the policy object")
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("policy %q: %w", p.Version, err)
	}
	canonical, err := json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	sum := sha256.Sum256(canonical)
	p.digest = hex.EncodeToString(sum[:8])
	return &p, nil
}

// Digest identifies the policy's content (not its formatting): read models
// record it, so a changed policy is detected and the models rebuilt.
func (p *Policy) Digest() string { return p.digest }

func (p *Policy) validate() error {
	if p.Version == "" {
		return fmt.Errorf("version is required")
	}
	if len(p.Tiers) < 2 {
		return fmt.Errorf("tiers must name rank 0 and at least one tier")
	}
	if p.FiscalYearStartMonth < 1 || p.FiscalYearStartMonth > 12 {
		return fmt.Errorf("fiscal_year_start_month must be 1..12")
	}
	if len(p.Eras) == 0 {
		return fmt.Errorf("at least one era is required")
	}
	seenTTM := false
	for i := range p.Eras {
		e := &p.Eras[i]
		e.index = i
		e.From = e.From.UTC()
		if e.ID == "" {
			return fmt.Errorf("era %d: id is required", i)
		}
		if e.From.IsZero() {
			return fmt.Errorf("era %s: from is required", e.ID)
		}
		if i > 0 && !e.From.After(p.Eras[i-1].From) {
			return fmt.Errorf("era %s: eras must be in increasing order of from", e.ID)
		}
		switch e.Basis {
		case BasisCumulative:
			if seenTTM {
				return fmt.Errorf("era %s: a cumulative era cannot follow a TTM era", e.ID)
			}
		case BasisTTM:
			if !seenTTM {
				e.regimeStart = e.From
			} else {
				e.regimeStart = p.Eras[i-1].regimeStart
			}
			seenTTM = true
		default:
			return fmt.Errorf("era %s: basis must be cumulative or ttm", e.ID)
		}
		if len(e.Tracks) == 0 {
			return fmt.Errorf("era %s: at least one track is required", e.ID)
		}
		e.trackList = e.trackList[:0]
		for _, id := range trackIDs {
			if tr, ok := e.Tracks[id]; ok {
				e.trackList = append(e.trackList, eraTrack{id, tr})
			}
		}
		for id, tr := range e.Tracks {
			if !slices.Contains(trackIDs, id) {
				return fmt.Errorf("era %s: unknown track %q (known: %v)", e.ID, id, trackIDs)
			}
			if len(tr.Thresholds) != len(p.Tiers)-1 {
				return fmt.Errorf("era %s track %s: %d thresholds for %d tiers", e.ID, id, len(tr.Thresholds), len(p.Tiers)-1)
			}
			for k, th := range tr.Thresholds {
				if th <= 0 || (k > 0 && th <= tr.Thresholds[k-1]) {
					return fmt.Errorf("era %s track %s: thresholds must be positive and increasing", e.ID, id)
				}
			}
		}
		if e.OfferGrantMonths < 0 || e.NoContactAfterDays <= 0 {
			return fmt.Errorf("era %s: offer_grant_months must be ≥ 0 and no_contact_after_days > 0", e.ID)
		}
	}
	for _, lt := range append(slices.Clone(p.OfferGrant.ListingTypes), p.ListingPackage.ListingTypes...) {
		if !slices.Contains(listingTypes, lt) {
			return fmt.Errorf("unknown listing type %q", lt)
		}
	}
	if p.ListingPackage.Months <= 0 {
		return fmt.Errorf("listing_package.months must be positive")
	}
	if p.Attention.ContactOverdueDays <= 0 || p.Attention.FraudHoldDays <= 0 {
		return fmt.Errorf("attention windows must be positive")
	}
	p.benefits = make(map[string]*Benefit, len(p.Benefits))
	for i := range p.Benefits {
		b := &p.Benefits[i]
		if !ValidID(b.ID) || p.benefits[b.ID] != nil {
			return fmt.Errorf("benefit %q: ids must be valid and unique", b.ID)
		}
		if !slices.Contains([]string{CategoryMarketing, CategorySales, CategoryTechnical}, b.Category) {
			return fmt.Errorf("benefit %s: unknown category %q", b.ID, b.Category)
		}
		for _, l := range b.Lines {
			if !slices.Contains(linePreference, l.Kind) && l.Kind != LineOfferGrant {
				return fmt.Errorf("benefit %s: unknown line %q", b.ID, l.Kind)
			}
			if (l.Kind == LineTier) != (l.MinTier > 0) || l.MinTier >= len(p.Tiers) {
				return fmt.Errorf("benefit %s: a tier line needs min_tier in 1..%d, other lines none", b.ID, len(p.Tiers)-1)
			}
			for _, id := range l.Eras {
				if p.eraByID(id) == nil {
					return fmt.Errorf("benefit %s: unknown era %q", b.ID, id)
				}
			}
		}
		p.benefits[b.ID] = b
	}
	return nil
}

func (p *Policy) eraByID(id string) *Era {
	for i := range p.Eras {
		if p.Eras[i].ID == id {
			return &p.Eras[i]
		}
	}
	return nil
}

// EraAt returns the era in force at t: the last whose From ≤ t, or nil before
// the first era (when events count toward sums but grant nothing).
func (p *Policy) EraAt(t time.Time) *Era {
	for i := len(p.Eras) - 1; i >= 0; i-- {
		if !p.Eras[i].From.After(t) {
			return &p.Eras[i]
		}
	}
	return nil
}

// Benefit returns the catalog entry for id, or nil.
func (p *Policy) Benefit(id string) *Benefit { return p.benefits[id] }

// TierName names a rank.
func (p *Policy) TierName(rank int) string { return p.Tiers[rank] }

// MaxRank is the highest tier rank.
func (p *Policy) MaxRank() int { return len(p.Tiers) - 1 }

// rankOf is the highest rank whose threshold value reaches.
func (tr Track) rankOf(value int64) int {
	r := 0
	for k, th := range tr.Thresholds {
		if value >= th {
			r = k + 1
		}
	}
	return r
}

// counts reports whether the track counts toward the tier at t.
func (tr Track) counts(t time.Time) bool { return tr.Until == nil || !t.After(*tr.Until) }

// grantsInEra reports whether a line applies in era e.
func (l Line) grantsInEra(e *Era) bool { return len(l.Eras) == 0 || slices.Contains(l.Eras, e.ID) }
