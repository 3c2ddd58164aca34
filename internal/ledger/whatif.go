package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Limits of the scans over every partner.
const (
	// MaxWhatIfPolicyBytes bounds the policy file a what-if request carries.
	// The default policy is about 4 KiB; 256 KiB leaves room for a large
	// catalog while a request cannot make the ledger parse megabytes per page.
	MaxWhatIfPolicyBytes = 256 << 10
	// MaxScanPage is the most partners one page of a what-if or export
	// examines, and the default: a page compiles each partner once or twice,
	// so this bounds the work and memory of one request.
	MaxScanPage = 1000
	// scanPageBytes bounds the encoded changes or rows of one page: the page
	// ends early (with next_partner) once they reach it, so a reply stays
	// far below any NATS max payload (an external server's default is
	// 1 MiB). A single partner's rows may exceed it; then the page holds
	// that partner alone.
	scanPageBytes = 512 << 10
	// whatIfConcurrency is how many what-if pages are computed at once. Each
	// compiles every partner of its page under two policies: one at a time
	// keeps a what-if from starving the queries; others are answered busy.
	whatIfConcurrency = 1
)

// WhatIfRequest asks what would change for every partner under another
// policy. A scan is a series of pages: each next request repeats at and
// known_seq from the first reply and sets after_partner to its next_partner.
type WhatIfRequest struct {
	PolicyFile   string `json:"policy_file"`             // the what-if policy file, as text
	At           string `json:"at,omitempty"`            // RFC 3339; default now
	KnownSeq     uint64 `json:"known_seq,omitempty"`     // knowledge cut-off; 0 = everything folded now
	History      bool   `json:"history,omitempty"`       // also compare held-tier histories
	AfterPartner string `json:"after_partner,omitempty"` // page cursor: start after this partner id
	Limit        int    `json:"limit,omitempty"`         // partners per page, at most MaxScanPage (0: MaxScanPage)
}

// WhatIfDoc is one page of a what-if scan (CONTRACT.md "What-if"): partners
// and changed count this page's partners.
type WhatIfDoc struct {
	At                 time.Time      `json:"at"`
	KnownSeq           uint64         `json:"known_seq"`
	Policy             string         `json:"policy"`
	PolicyDigest       string         `json:"policy_digest"`
	WhatIfPolicy       string         `json:"whatif_policy"`
	WhatIfPolicyDigest string         `json:"whatif_policy_digest"`
	Partners           int            `json:"partners"`
	Changed            int            `json:"changed"`
	Changes            []WhatIfChange `json:"changes"`
	NextPartner        *string        `json:"next_partner"`
}

// WhatIfChange is what differs for one partner. Tier is always given (from =
// to when the tier holds); the other parts are empty when unchanged.
type WhatIfChange struct {
	PartnerID   string             `json:"partner_id"`
	Tier        RankChange         `json:"tier"`
	Entitled    EntitledChange     `json:"entitled"`
	Activations []ActivationChange `json:"activations"`
	History     *HistoryChange     `json:"history,omitempty"`
}

// RankChange is a tier rank under the live policy and under the what-if one.
type RankChange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// EntitledChange lists the benefit ids (not lines) the partner would gain and
// lose: a benefit still granted by another line is neither.
type EntitledChange struct {
	Gained []string `json:"gained"`
	Lost   []string `json:"lost"`
}

// ActivationChange is an activation whose status would change.
type ActivationChange struct {
	Seq       uint64 `json:"seq"`
	BenefitID string `json:"benefit_id"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// HistoryChange is the first instant the held-tier histories differ, with
// the rank each policy holds from then.
type HistoryChange struct {
	FirstDifference time.Time `json:"first_difference"`
	From            int       `json:"from"`
	To              int       `json:"to"`
}

// PolicyFile returns the running ledger's policy file, byte for byte.
func (q *Queries) PolicyFile(context.Context) ([]byte, error) { return q.pol.File(), nil }

// scan is one page's setting: the instant, the knowledge cut-off and the
// partners of the page.
type scan struct {
	at    time.Time
	known uint64
	ids   []string
	more  bool
}

// page validates a scan request's common fields and reads its partner ids.
// Knowledge is pinned to a sequence (the checkpoint when none is given), so
// the pages of one scan all answer the same knowledge.
func (q *Queries) page(ctx context.Context, at string, knownSeq uint64, after string, limit int) (scan, error) {
	var s scan
	var err error
	if s.at, err = q.at(at); err != nil {
		return s, err
	}
	switch {
	case limit < 0 || limit > MaxScanPage:
		return s, &domain.Error{Code: domain.CodeInvalidField, Field: "limit", Msg: fmt.Sprintf("limit must be 1..%d (got %d)", MaxScanPage, limit)}
	case limit == 0:
		limit = MaxScanPage
	}
	if after != "" && !domain.ValidPartnerID(after) {
		return s, &domain.Error{Code: domain.CodeInvalidField, Field: "after_partner", Msg: fmt.Sprintf("after_partner must match %s (got %q)", domain.PartnerIDRule, after)}
	}
	k, err := q.knowledge(ctx, Query{KnownSeq: knownSeq})
	if err != nil {
		return s, err
	}
	s.known = k.echo
	s.ids, s.more, err = q.models().PartnerIDsAfter(after, limit)
	return s, err
}

// forEach calls fn with each partner of the page known at its cut-off, until
// fn has produced budget bytes; it returns the partner to continue after, or
// nil at the end of the scan.
func (q *Queries) forEach(ctx context.Context, s scan, budget int, fn func(p *domain.Partner) (int, error)) (*string, int, error) {
	used, examined := 0, 0
	for i, id := range s.ids {
		if err := ctx.Err(); err != nil {
			return nil, examined, err
		}
		if used >= budget {
			next := s.ids[i-1]
			return &next, examined, nil
		}
		p, err := q.partner(id, s.known)
		if domain.CodeOf(err) == domain.CodeUnknownPartner {
			continue // not yet known at the cut-off
		}
		if err != nil {
			return nil, examined, err
		}
		n, err := fn(p)
		if err != nil {
			return nil, examined, err
		}
		used += n
		examined++
	}
	if s.more && len(s.ids) > 0 {
		next := s.ids[len(s.ids)-1]
		return &next, examined, nil
	}
	return nil, examined, nil
}

// WhatIf answers one page of a what-if scan.
func (q *Queries) WhatIf(ctx context.Context, r WhatIfRequest) (WhatIfDoc, error) {
	if len(r.PolicyFile) > MaxWhatIfPolicyBytes {
		return WhatIfDoc{}, &domain.Error{Code: domain.CodePolicyTooLarge, Field: "policy_file",
			Msg: fmt.Sprintf("policy_file is %d bytes, at most %d", len(r.PolicyFile), MaxWhatIfPolicyBytes)}
	}
	if len(bytes.TrimSpace([]byte(r.PolicyFile))) == 0 {
		return WhatIfDoc{}, &domain.Error{Code: domain.CodeInvalidPolicy, Field: "policy_file", Msg: "policy_file is required: the text of the what-if policy file"}
	}
	alt, err := domain.ParsePolicy([]byte(r.PolicyFile))
	if err != nil {
		return WhatIfDoc{}, &domain.Error{Code: domain.CodeInvalidPolicy, Field: "policy_file", Msg: err.Error()}
	}
	select {
	case q.whatIf <- struct{}{}:
		defer func() { <-q.whatIf }()
	default:
		return WhatIfDoc{}, &domain.Error{Code: domain.CodeBusy, Msg: fmt.Sprintf("%d what-if page(s) already being computed; retry shortly", whatIfConcurrency)}
	}
	s, err := q.page(ctx, r.At, r.KnownSeq, r.AfterPartner, r.Limit)
	if err != nil {
		return WhatIfDoc{}, err
	}
	doc := WhatIfDoc{At: s.at, KnownSeq: s.known, Policy: q.pol.Version, PolicyDigest: q.pol.Digest(),
		WhatIfPolicy: alt.Version, WhatIfPolicyDigest: alt.Digest(), Changes: []WhatIfChange{}}
	doc.NextPartner, doc.Partners, err = q.forEach(ctx, s, scanPageBytes, func(p *domain.Partner) (int, error) {
		c, changed := compare(q.pol, alt, p, s.known, s.at, r.History)
		if !changed {
			return 0, nil
		}
		doc.Changes = append(doc.Changes, c)
		doc.Changed++
		b, err := json.Marshal(c)
		return len(b), err
	})
	return doc, err
}

// compare answers one partner under both policies.
func compare(live, alt *domain.Policy, p *domain.Partner, known uint64, at time.Time, history bool) (WhatIfChange, bool) {
	a, b := domain.Compile(live, p, known), domain.Compile(alt, p, known)
	c := WhatIfChange{PartnerID: p.ID, Tier: RankChange{From: a.Held(at), To: b.Held(at)}, Activations: []ActivationChange{}}
	c.Entitled.Gained, c.Entitled.Lost = diffSets(benefitIDs(a.Grants(at)), benefitIDs(b.Grants(at)))
	before := map[uint64]string{}
	for _, s := range a.Activations(at) {
		before[s.Seq] = s.Status
	}
	for _, s := range b.Activations(at) {
		if from, ok := before[s.Seq]; ok && from != s.Status {
			c.Activations = append(c.Activations, ActivationChange{Seq: s.Seq, BenefitID: s.BenefitID, From: from, To: s.Status})
		}
	}
	if history {
		if t, ok := firstDifference(domain.TierChanges(live, p, known), domain.TierChanges(alt, p, known)); ok {
			c.History = &HistoryChange{FirstDifference: t, From: a.Held(t), To: b.Held(t)}
		}
	}
	changed := c.Tier.From != c.Tier.To || len(c.Entitled.Gained)+len(c.Entitled.Lost)+len(c.Activations) > 0 || c.History != nil
	return c, changed
}

// benefitIDs are the distinct benefit ids of grants, sorted.
func benefitIDs(gs []domain.Grant) []string {
	ids := make([]string, 0, len(gs))
	for _, g := range gs {
		ids = append(ids, g.BenefitID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// diffSets returns what b has that a lacks, and what a has that b lacks;
// both sorted, never nil.
func diffSets(a, b []string) (gained, lost []string) {
	gained, lost = []string{}, []string{}
	for _, id := range b {
		if !slices.Contains(a, id) {
			gained = append(gained, id)
		}
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			lost = append(lost, id)
		}
	}
	return gained, lost
}

// firstDifference is the first instant two held-tier histories (step
// functions from rank 0) hold different ranks.
func firstDifference(a, b []domain.TierChange) (time.Time, bool) {
	a, b = steps(a), steps(b)
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return b[i].At, true
		case i >= len(b):
			return a[i].At, true
		case !a[i].At.Equal(b[i].At):
			return minTime(a[i].At, b[i].At), true
		case a[i].To.Rank != b[i].To.Rank:
			return a[i].At, true
		}
	}
	return time.Time{}, false
}

// steps drops the changes that keep the rank (a change of cause only).
func steps(cs []domain.TierChange) []domain.TierChange {
	out := make([]domain.TierChange, 0, len(cs))
	prev := 0
	for _, c := range cs {
		if c.To.Rank != prev {
			out = append(out, c)
			prev = c.To.Rank
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
