package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// Paging limits (CONTRACT.md, "Documents of any size"). A page also ends
// when its events' bytes reach PageBytes, whatever the limit: a reply must
// fit a NATS message (8 MiB) with room for JSON escaping and headers, so no
// document is ever lost to a size limit.
const (
	DefaultPageLimit = 1000
	MaxPageLimit     = 10_000
	PageBytes        = 2 << 20
)

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageLimit, nil
	case n < 0 || n > MaxPageLimit:
		return 0, &domain.Error{Code: domain.CodeInvalidField, Field: "limit", Msg: fmt.Sprintf("limit must be 1..%d (got %d)", MaxPageLimit, n)}
	}
	return n, nil
}

// AuditEvent is one of a partner's events as recorded.
type AuditEvent struct {
	Seq      uint64            `json:"seq"`
	Recorded string            `json:"recorded"`
	Stored   time.Time         `json:"stored"`
	Type     string            `json:"type"`
	Envelope json.RawMessage   `json:"envelope"`
	Headers  map[string]string `json:"headers"`
}

// AuditDoc is one page of a partner's events in recorded order, read from
// the log itself. NextSeq is the from_seq of the next page, nil on the last.
type AuditDoc struct {
	PartnerID string       `json:"partner_id"`
	Events    []AuditEvent `json:"events"`
	NextSeq   *uint64      `json:"next_seq"`
}

// errPageFull ends a page's read.
var errPageFull = errors.New("page full")

// auditFilter is an audit request's filters.
type auditFilter struct {
	types    []string
	from, to *time.Time
}

func newAuditFilter(r Query) (auditFilter, error) {
	var f auditFilter
	for _, t := range r.Types {
		if !domain.KnownType(t) {
			return f, &domain.Error{Code: domain.CodeInvalidField, Field: "types", Msg: fmt.Sprintf("types: unknown event type %.64q", t)}
		}
	}
	f.types = r.Types
	for _, b := range []struct {
		field, value string
		to           **time.Time
	}{{"from_time", r.FromTime, &f.from}, {"to_time", r.ToTime, &f.to}} {
		if b.value == "" {
			continue
		}
		t, err := ParseInstant(b.field, b.value)
		if err != nil {
			return f, err
		}
		*b.to = &t
	}
	return f, nil
}

// match reports whether a recorded event passes the filter; the event time
// is read from the stored envelope only when a time range is asked for.
func (f auditFilter) match(r eventstore.Record) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, r.Type) {
		return false
	}
	if f.from == nil && f.to == nil {
		return true
	}
	var env struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(r.Data, &env) != nil {
		return false
	}
	return (f.from == nil || !env.Time.Before(*f.from)) && (f.to == nil || env.Time.Before(*f.to))
}

// Audit reads one page of the partner's events from the log (the truth, not
// the read models), from r.FromSeq, at most r.Limit events and PageBytes.
func (q *Queries) Audit(ctx context.Context, r Query) (AuditDoc, error) {
	if !domain.ValidPartnerID(r.PartnerID) {
		return AuditDoc{}, &domain.Error{Code: domain.CodeInvalidField, Field: "partner_id", Msg: fmt.Sprintf("partner_id must match %s (got %.80q)", domain.PartnerIDRule, r.PartnerID)}
	}
	limit, err := pageLimit(r.Limit)
	if err != nil {
		return AuditDoc{}, err
	}
	filter, err := newAuditFilter(r)
	if err != nil {
		return AuditDoc{}, err
	}
	last, err := q.es.PartnerLastSeq(ctx, r.PartnerID)
	if err != nil {
		return AuditDoc{}, err
	}
	if last == 0 {
		return AuditDoc{}, &domain.Error{Code: domain.CodeUnknownPartner, Msg: fmt.Sprintf("partner %s has no events", r.PartnerID)}
	}
	doc := AuditDoc{PartnerID: r.PartnerID, Events: []AuditEvent{}}
	from := max(r.FromSeq, 1)
	if from > last {
		return doc, nil
	}
	size := 0
	next := uint64(0) // the first sequence not looked at; 0 when all were
	err = q.es.Read(ctx, from, r.PartnerID, func(rs []eventstore.Record) error {
		for _, rec := range rs {
			if rec.Seq > last {
				return errPageFull
			}
			if len(doc.Events) == limit || (size > 0 && size+len(rec.Data) > PageBytes) {
				next = rec.Seq
				return errPageFull
			}
			if !filter.match(rec) {
				continue
			}
			size += len(rec.Data) + 256 // headers and fields
			doc.Events = append(doc.Events, AuditEvent{Seq: rec.Seq, Recorded: rec.Header[HdrRecorded], Stored: rec.Stored,
				Type: rec.Type, Envelope: json.RawMessage(rec.Data), Headers: rec.Header})
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return doc, err
	}
	if next != 0 {
		doc.NextSeq = &next
	}
	return doc, nil
}

// AttentionDoc is one page of the attention report. Next is the cursor of
// the next page (the request's "from"), nil on the last.
type AttentionDoc struct {
	At       time.Time              `json:"at"`
	KnownSeq uint64                 `json:"known_seq"`
	KnownAt  *time.Time             `json:"known_at,omitempty"`
	Items    []domain.AttentionItem `json:"items"`
	Next     *string                `json:"next"`
}

// attentionCursor is where a page starts: a partner, and how many of its
// items earlier pages held ("PARTNER" or "PARTNER#N").
type attentionCursor struct {
	partner string
	skip    int
}

func parseAttentionCursor(s string) (attentionCursor, error) {
	if s == "" {
		return attentionCursor{}, nil
	}
	p, n, found := strings.Cut(s, "#")
	c := attentionCursor{partner: p}
	bad := !domain.ValidPartnerID(p)
	if found {
		var err error
		c.skip, err = strconv.Atoi(n)
		bad = bad || err != nil || c.skip < 0
	}
	if bad {
		return c, &domain.Error{Code: domain.CodeInvalidField, Field: "from", Msg: fmt.Sprintf("from must be a cursor a page's next gave (got %.80q)", s)}
	}
	return c, nil
}

func (c attentionCursor) String() string {
	if c.skip == 0 {
		return c.partner
	}
	return c.partner + "#" + strconv.Itoa(c.skip)
}

var attentionKinds = []string{domain.AttentionContactOverdue, domain.AttentionNoContactAssigned, domain.AttentionFraudHold}

// Attention lists one page of what someone must act on at r.At: across
// partners in id order, or for r.PartnerID alone; only r.Kinds if given.
func (q *Queries) Attention(ctx context.Context, r Query) (AttentionDoc, error) {
	at, err := q.at(r.At)
	if err != nil {
		return AttentionDoc{}, err
	}
	limit, err := pageLimit(r.Limit)
	if err != nil {
		return AttentionDoc{}, err
	}
	for _, k := range r.Kinds {
		if !slices.Contains(attentionKinds, k) {
			return AttentionDoc{}, &domain.Error{Code: domain.CodeInvalidField, Field: "kinds",
				Msg: fmt.Sprintf("kinds: %.64q is not one of %s", k, strings.Join(attentionKinds, ", "))}
		}
	}
	cur, err := parseAttentionCursor(r.From)
	if err != nil {
		return AttentionDoc{}, err
	}
	k, err := q.knowledge(ctx, r)
	if err != nil {
		return AttentionDoc{}, err
	}
	doc := AttentionDoc{At: at, KnownSeq: k.echo, KnownAt: k.at, Items: []domain.AttentionItem{}}
	if r.PartnerID != "" {
		if _, err := q.partner(r.PartnerID, k.cut); err != nil {
			return doc, err
		}
		if cur.partner == "" || cur.partner < r.PartnerID {
			cur = attentionCursor{partner: r.PartnerID}
		}
	}
	err = q.models().PartnerIDsFrom(cur.partner, func(id string) error {
		if r.PartnerID != "" && id != r.PartnerID {
			return projections.ErrStop
		}
		p, err := q.partner(id, k.cut)
		if domain.CodeOf(err) == domain.CodeUnknownPartner {
			return nil // not yet known at the cut-off
		}
		if err != nil {
			return err
		}
		items := domain.Compile(q.pol, p, k.cut).Attention(at)
		if len(r.Kinds) > 0 {
			items = slices.DeleteFunc(items, func(it domain.AttentionItem) bool { return !slices.Contains(r.Kinds, it.Kind) })
		}
		skip := 0
		if id == cur.partner {
			skip = min(cur.skip, len(items))
		}
		for i, it := range items[skip:] {
			if len(doc.Items) == limit {
				next := attentionCursor{partner: id, skip: skip + i}.String()
				doc.Next = &next
				return projections.ErrStop
			}
			doc.Items = append(doc.Items, it)
		}
		// The report costs a bounded amount per partner (MaxQueryInstant);
		// the request's deadline bounds the partners it gets through.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("attention report unfinished at the request's deadline: %w", err)
		}
		return nil
	})
	return doc, err
}
