package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// Query codes beyond the domain's.
const (
	CodeProjectionBehind domain.Code = "projection_behind"
	CodeDamaged          domain.Code = "log_damaged"
)

// freshnessWait is how long a query waits for the read models to reach the
// sequence its caller has seen before saying how far behind they are.
const freshnessWait = 2 * time.Second

// Query is a request of the tier, benefits and history queries.
type Query struct {
	PartnerID string `json:"partner_id"`
	At        string `json:"at,omitempty"`        // RFC 3339; default now
	KnownSeq  uint64 `json:"known_seq,omitempty"` // knowledge cut-off; 0 = everything
	MinSeq    uint64 `json:"min_seq,omitempty"`   // wait until the read models hold this sequence
	// Corrections bounds how many of the latest corrections a history
	// analyses (0: DefaultHistoryCorrections, -1: all).
	Corrections int `json:"corrections,omitempty"`
}

// DefaultHistoryCorrections is how many corrections a history analyses
// unless asked otherwise.
const DefaultHistoryCorrections = 50

// Queries answers from the read models. Compiled partner views are cached
// and validated against the partner's last folded sequence, so a cached
// answer is never stale.
type Queries struct {
	pol     *domain.Policy
	es      *eventstore.Store
	models  func() *projections.Store
	proj    *Projector
	written func() uint64 // the writer's last sequence: read your own writes
	clock   func() time.Time

	cache *viewCache
}

// queryCacheFacts bounds the detached Views kept for queries, in facts' worth
// (about 25 MB for a million sales).
const queryCacheFacts = 200_000

// NewQueries returns the query side.
func NewQueries(pol *domain.Policy, es *eventstore.Store, models func() *projections.Store, proj *Projector, written func() uint64) *Queries {
	return &Queries{pol: pol, es: es, models: models, proj: proj, written: written, clock: time.Now, cache: newViewCache(queryCacheFacts)}
}

// Tier answers the tier document.
func (q *Queries) Tier(ctx context.Context, r Query) (domain.TierDoc, error) {
	v, at, echo, err := q.view(ctx, r)
	if err != nil {
		return domain.TierDoc{}, err
	}
	return v.Tier(at, echo), nil
}

// Benefits answers the benefits document.
func (q *Queries) Benefits(ctx context.Context, r Query) (domain.BenefitsDoc, error) {
	v, at, echo, err := q.view(ctx, r)
	if err != nil {
		return domain.BenefitsDoc{}, err
	}
	return v.Benefits(at, echo), nil
}

// History answers the held-tier history.
func (q *Queries) History(ctx context.Context, r Query) (domain.HistoryDoc, error) {
	known, echo, err := q.knowledge(ctx, r)
	if err != nil {
		return domain.HistoryDoc{}, err
	}
	p, err := q.partner(r.PartnerID, known)
	if err != nil {
		return domain.HistoryDoc{}, err
	}
	limit := r.Corrections
	switch {
	case limit == 0:
		limit = DefaultHistoryCorrections
	case limit < 0:
		limit = 0
	}
	return domain.RecentHistory(q.pol, p, known, echo, limit), nil
}

// AttentionDoc is the attention report.
type AttentionDoc struct {
	At       time.Time              `json:"at"`
	KnownSeq uint64                 `json:"known_seq"`
	Items    []domain.AttentionItem `json:"items"`
}

// Attention lists what someone must act on at r.At, across partners.
func (q *Queries) Attention(ctx context.Context, r Query) (AttentionDoc, error) {
	at, err := q.at(r.At)
	if err != nil {
		return AttentionDoc{}, err
	}
	known, echo, err := q.knowledge(ctx, r)
	if err != nil {
		return AttentionDoc{}, err
	}
	doc := AttentionDoc{At: at, KnownSeq: echo, Items: []domain.AttentionItem{}}
	err = q.models().PartnerIDs(func(id string) error {
		p, err := q.partner(id, known)
		if domain.CodeOf(err) == domain.CodeUnknownPartner {
			return nil // not yet known at the cut-off
		}
		if err != nil {
			return err
		}
		doc.Items = append(doc.Items, domain.Compile(q.pol, p, known).Attention(at)...)
		return ctx.Err()
	})
	return doc, err
}

// view validates a partner query and returns the partner's View.
func (q *Queries) view(ctx context.Context, r Query) (*domain.View, time.Time, uint64, error) {
	at, err := q.at(r.At)
	if err != nil {
		return nil, at, 0, err
	}
	known, echo, err := q.knowledge(ctx, r)
	if err != nil {
		return nil, at, 0, err
	}
	v, err := q.viewOf(r.PartnerID, known)
	return v, at, echo, err
}

func (q *Queries) at(s string) (time.Time, error) {
	if s == "" {
		return q.clock().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, &domain.Error{Code: domain.CodeInvalidField, Field: "at", Msg: fmt.Sprintf("at must be an RFC 3339 time with offset (got %q)", s)}
	}
	return t.UTC(), nil
}

// knowledge waits until the read models are fresh enough for the request and
// returns the knowledge cut-off to apply and the sequence to echo.
func (q *Queries) knowledge(ctx context.Context, r Query) (known, echo uint64, err error) {
	target := max(r.MinSeq, q.written(), r.KnownSeq)
	if r.KnownSeq > 0 && r.KnownSeq > q.written() {
		last, err := q.es.LastSeq(ctx)
		if err == nil && r.KnownSeq > last {
			return 0, 0, &domain.Error{Code: domain.CodeInvalidField, Field: "known_seq",
				Msg: fmt.Sprintf("known_seq %d is beyond the last recorded sequence %d", r.KnownSeq, last)}
		}
	}
	if err := q.fresh(ctx, target); err != nil {
		return 0, 0, err
	}
	if r.KnownSeq > 0 {
		return r.KnownSeq, r.KnownSeq, nil
	}
	return domain.AllKnown, q.proj.Checkpoint(), nil
}

// fresh waits briefly for the read models to reach seq, and otherwise says
// how far behind they are: never a stale answer in silence.
func (q *Queries) fresh(ctx context.Context, seq uint64) error {
	wctx, cancel := context.WithTimeout(ctx, freshnessWait)
	defer cancel()
	err := q.proj.WaitFor(wctx, seq)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrDamaged), errors.Is(err, eventstore.ErrSequenceGap):
		return &domain.Error{Code: CodeDamaged, Msg: err.Error()}
	}
	return &domain.Error{Code: CodeProjectionBehind, Msg: err.Error()}
}

// partner loads a partner's complete facts.
func (q *Queries) partner(id string, known uint64) (*domain.Partner, error) {
	if !domain.ValidPartnerID(id) {
		return nil, &domain.Error{Code: domain.CodeInvalidField, Field: "partner_id", Msg: fmt.Sprintf("partner_id must match ^[A-Za-z0-9_-]{1,64}$ (got %q)", id)}
	}
	p, _, err := q.models().Partner(id)
	if err != nil {
		return nil, err
	}
	if p == nil || !p.KnownAt(known) {
		return nil, &domain.Error{Code: domain.CodeUnknownPartner, Msg: fmt.Sprintf("partner %s is not known", id)}
	}
	return p, nil
}

// viewOf returns the View a tier or benefits question needs. With all
// knowledge it is the cached detached View, valid while the partner's last
// folded sequence is unchanged — never a stale answer; for an earlier
// cut-off it is compiled afresh.
func (q *Queries) viewOf(id string, known uint64) (*domain.View, error) {
	if known == domain.AllKnown && domain.ValidPartnerID(id) {
		last, err := q.models().PartnerLastSeq(id)
		if err != nil {
			return nil, err
		}
		if v, ok := q.cache.get(id, last); ok {
			return v, nil
		}
	}
	p, err := q.partner(id, known)
	if err != nil {
		return nil, err
	}
	if known != domain.AllKnown && known < p.LastSeq() {
		return domain.Compile(q.pol, p, known), nil
	}
	v := domain.Compile(q.pol, p, domain.AllKnown).Detach()
	q.cache.put(id, p.LastSeq(), v)
	return v, nil
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

// AuditDoc is a partner's events in recorded order, read from the log itself.
type AuditDoc struct {
	PartnerID string       `json:"partner_id"`
	Events    []AuditEvent `json:"events"`
}

// Audit reads the partner's events from the log (the truth, not the read models).
func (q *Queries) Audit(ctx context.Context, r Query) (AuditDoc, error) {
	if !domain.ValidPartnerID(r.PartnerID) {
		return AuditDoc{}, &domain.Error{Code: domain.CodeInvalidField, Field: "partner_id", Msg: fmt.Sprintf("partner_id must match ^[A-Za-z0-9_-]{1,64}$ (got %q)", r.PartnerID)}
	}
	doc := AuditDoc{PartnerID: r.PartnerID, Events: []AuditEvent{}}
	err := q.es.Read(ctx, 1, r.PartnerID, func(rs []eventstore.Record) error {
		for _, rec := range rs {
			doc.Events = append(doc.Events, AuditEvent{Seq: rec.Seq, Recorded: rec.Header[HdrRecorded], Stored: rec.Stored,
				Type: rec.Type, Envelope: json.RawMessage(rec.Data), Headers: rec.Header})
		}
		return nil
	})
	if err != nil {
		return doc, err
	}
	if len(doc.Events) == 0 {
		return doc, &domain.Error{Code: domain.CodeUnknownPartner, Msg: fmt.Sprintf("partner %s has no events", r.PartnerID)}
	}
	return doc, nil
}

// StatsDoc is the ledger's counters.
type StatsDoc struct {
	Events         uint64 `json:"events"`
	Partners       uint64 `json:"partners"`
	Checkpoint     uint64 `json:"checkpoint"`
	StreamLastSeq  uint64 `json:"stream_last_seq"`
	ProjectionLag  uint64 `json:"projection_lag"`
	ReadModelBytes int64  `json:"read_model_bytes"`
	Policy         string `json:"policy"`
	ProjectorError string `json:"projector_error,omitempty"`
	// ForeignEvents counts the records of the stream the ledger did not
	// write, which every fold skipped (ErrForeign); LastForeignSeq is the
	// last one's sequence (0: none). Both count what the read models folded.
	ForeignEvents  uint64 `json:"foreign_events"`
	LastForeignSeq uint64 `json:"last_foreign_seq"`
}

// Stats reports events, partners and projection lag.
func (q *Queries) Stats(ctx context.Context) (StatsDoc, error) {
	st, err := q.models().Stats()
	if err != nil {
		return StatsDoc{}, err
	}
	last, err := q.es.LastSeq(ctx)
	if err != nil {
		return StatsDoc{}, err
	}
	_, _, failure := q.proj.Status()
	doc := StatsDoc{Events: st.Events, Partners: st.Partners, Checkpoint: st.Checkpoint, StreamLastSeq: last,
		ReadModelBytes: st.FileBytes, Policy: q.pol.Version + "@" + q.pol.Digest(), ForeignEvents: st.Foreign, LastForeignSeq: st.LastForeign}
	if last > st.Checkpoint {
		doc.ProjectionLag = last - st.Checkpoint
	}
	if failure != nil {
		doc.ProjectorError = failure.Error()
	}
	return doc, nil
}
