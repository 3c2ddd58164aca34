package domain

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	file     []byte // the policy file as given, byte for byte
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
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("policy: %s: must be %s, not a JSON %s (offset %d): %w", te.Field, te.Type, te.Value, te.Offset, err)
		}
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
	p.file = slices.Clone(b)
	return &p, nil
}

// File returns the policy file the policy was parsed from, byte for byte:
// the file to start from when editing the policy.
func (p *Policy) File() []byte { return slices.Clone(p.file) }

// Digest identifies the policy's content (not its formatting), so two
// policies under one version are told apart. The read models hold facts
// only and never depend on it: a changed policy needs no rebuild.
func (p *Policy) Digest() string { return p.digest }

// ID names the policy as stats, version and replay files show it:
// VERSION@DIGEST.
func (p *Policy) ID() string { return p.Version + "@" + p.digest }

// policyFieldError is a policy validation error naming the field by its JSON path
// (eras[1].tracks.mbs_usd_cents.thresholds[2]), so an operator editing the
// file finds it at once.
func policyFieldError(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

func (p *Policy) validate() error {
	if p.Version == "" {
		return policyFieldError("version", "is required")
	}
	if len(p.Tiers) < 2 {
		return policyFieldError("tiers", "must name rank 0 and at least one tier (got %d names)", len(p.Tiers))
	}
	if p.FiscalYearStartMonth < 1 || p.FiscalYearStartMonth > 12 {
		return policyFieldError("fiscal_year_start_month", "must be 1..12 (got %d)", p.FiscalYearStartMonth)
	}
	if len(p.Eras) == 0 {
		return policyFieldError("eras", "at least one era is required")
	}
	seenTTM := false
	for i := range p.Eras {
		e := &p.Eras[i]
		at := fmt.Sprintf("eras[%d]", i)
		e.index = i
		e.From = e.From.UTC()
		if e.ID == "" {
			return policyFieldError(at+".id", "era id is required")
		}
		if e.From.IsZero() {
			return policyFieldError(at+".from", "era %s: from is required", e.ID)
		}
		if i > 0 && !e.From.After(p.Eras[i-1].From) {
			return policyFieldError(at+".from", "must be after eras[%d].from (%s): eras must be in increasing order of from",
				i-1, p.Eras[i-1].From.Format(time.RFC3339))
		}
		switch e.Basis {
		case BasisCumulative:
			if seenTTM {
				return policyFieldError(at+".basis", "a cumulative era cannot follow a TTM era")
			}
		case BasisTTM:
			if !seenTTM {
				e.regimeStart = e.From
			} else {
				e.regimeStart = p.Eras[i-1].regimeStart
			}
			seenTTM = true
		default:
			return policyFieldError(at+".basis", "basis must be cumulative or ttm (got %q)", e.Basis)
		}
		if len(e.Tracks) == 0 {
			return policyFieldError(at+".tracks", "at least one track is required")
		}
		ids := make([]string, 0, len(e.Tracks))
		for id := range e.Tracks {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if !slices.Contains(trackIDs, id) {
				return policyFieldError(at+".tracks."+id, "unknown track %q (known: %v)", id, trackIDs)
			}
		}
		e.trackList = e.trackList[:0]
		for _, id := range trackIDs {
			tr, ok := e.Tracks[id]
			if !ok {
				continue
			}
			e.trackList = append(e.trackList, eraTrack{id, tr})
			tp := at + ".tracks." + id + ".thresholds"
			if len(tr.Thresholds) != len(p.Tiers)-1 {
				return policyFieldError(tp, "%d thresholds for %d tiers: one per tier from rank 1", len(tr.Thresholds), len(p.Tiers)-1)
			}
			for k, th := range tr.Thresholds {
				switch {
				case th <= 0:
					return policyFieldError(fmt.Sprintf("%s[%d]", tp, k), "thresholds must be positive (got %d)", th)
				case k > 0 && th <= tr.Thresholds[k-1]:
					return policyFieldError(fmt.Sprintf("%s[%d]", tp, k), "must be greater than %s[%d] (%d): thresholds must be increasing (got %d)",
						tp, k-1, tr.Thresholds[k-1], th)
				}
			}
		}
		if e.OfferGrantMonths < 0 {
			return policyFieldError(at+".offer_grant_months", "offer_grant_months must be ≥ 0 (got %d)", e.OfferGrantMonths)
		}
		if e.NoContactAfterDays <= 0 {
			return policyFieldError(at+".no_contact_after_days", "no_contact_after_days must be > 0 (got %d)", e.NoContactAfterDays)
		}
	}
	for _, f := range []struct {
		field string
		types []string
	}{{"offer_grant.listing_types", p.OfferGrant.ListingTypes}, {"listing_package.listing_types", p.ListingPackage.ListingTypes}} {
		field := f.field
		for k, lt := range f.types {
			if !slices.Contains(listingTypes, lt) {
				return policyFieldError(fmt.Sprintf("%s[%d]", field, k), "unknown listing type %q (known: %v)", lt, listingTypes)
			}
		}
	}
	if p.ListingPackage.Months <= 0 {
		return policyFieldError("listing_package.months", "listing_package.months must be positive (got %d)", p.ListingPackage.Months)
	}
	if p.Attention.ContactOverdueDays <= 0 {
		return policyFieldError("attention.contact_overdue_days", "attention windows must be positive (got %d)", p.Attention.ContactOverdueDays)
	}
	if p.Attention.FraudHoldDays <= 0 {
		return policyFieldError("attention.fraud_hold_days", "attention windows must be positive (got %d)", p.Attention.FraudHoldDays)
	}
	p.benefits = make(map[string]*Benefit, len(p.Benefits))
	for i := range p.Benefits {
		b := &p.Benefits[i]
		bp := fmt.Sprintf("benefits[%d]", i)
		if !ValidID(b.ID) || p.benefits[b.ID] != nil {
			return policyFieldError(bp+".id", "benefit %q: ids must be valid and unique", b.ID)
		}
		if !slices.Contains([]string{CategoryMarketing, CategorySales, CategoryTechnical}, b.Category) {
			return policyFieldError(bp+".category", "benefit %s: unknown category %q", b.ID, b.Category)
		}
		for k, l := range b.Lines {
			lp := fmt.Sprintf("%s.lines[%d]", bp, k)
			if !slices.Contains(linePreference, l.Kind) && l.Kind != LineOfferGrant {
				return policyFieldError(lp+".line", "benefit %s: unknown line %q", b.ID, l.Kind)
			}
			if (l.Kind == LineTier) != (l.MinTier > 0) || l.MinTier >= len(p.Tiers) {
				return policyFieldError(lp+".min_tier", "benefit %s: a tier line needs min_tier in 1..%d, other lines none", b.ID, len(p.Tiers)-1)
			}
			for j, id := range l.Eras {
				if p.eraByID(id) == nil {
					return policyFieldError(fmt.Sprintf("%s.eras[%d]", lp, j), "benefit %s: unknown era %q", b.ID, id)
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

// rankAt is the tier rank the track values v reach at t under era e: the
// highest rank of any track that counts at t.
func (e *Era) rankAt(t time.Time, v Tracks) int {
	r := 0
	for _, et := range e.trackList {
		if et.counts(t) {
			r = max(r, et.rankOf(v.get(et.id)))
		}
	}
	return r
}

// earnedBy returns the ids of the tracks whose values v reach rank at t
// under era e, in id order; none when rank is 0.
func (e *Era) earnedBy(t time.Time, v Tracks, rank int) []string {
	var ids []string
	for _, et := range e.trackList {
		if rank > 0 && et.counts(t) && et.rankOf(v.get(et.id)) >= rank {
			ids = append(ids, et.id)
		}
	}
	return ids
}

// grantsInEra reports whether a line applies in era e.
func (l Line) grantsInEra(e *Era) bool { return len(l.Eras) == 0 || slices.Contains(l.Eras, e.ID) }
