package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/projections"
)

// The instants a query may ask about (at), inclusive. Every answer is
// computed up to its instant: the attention report walks back through the
// listing-package periods before it, benefit periods end a year after it,
// and the tier model's series count time in Unix nanoseconds, which end in
// 2262. Events themselves are dated from 1970 (domain) to a few minutes
// after the ledger's clock. Two centuries ahead keeps every answer's cost
// bounded, every period end encodable, and far exceeds any real question;
// an instant outside is refused with invalid_field.
var (
	MinQueryInstant = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxQueryInstant = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// freshnessWait is how long a query waits for the read models to reach the
// sequence its caller has seen before saying how far behind they are.
const freshnessWait = 2 * time.Second

// Query is a request of the tier, benefits and history queries.
type Query struct {
	PartnerID string `json:"partner_id"`
	At        string `json:"at,omitempty"`        // RFC 3339; default now
	KnownSeq  uint64 `json:"known_seq,omitempty"` // knowledge cut-off; 0 = everything
	// KnownAt is a knowledge cut-off by the ledger's recorded clock (RFC 3339
	// or a plain date): only events recorded at or before it count. With
	// KnownSeq too, the earlier of the two applies.
	KnownAt string `json:"known_at,omitempty"`
	MinSeq  uint64 `json:"min_seq,omitempty"` // wait until the read models hold this sequence
	// Corrections bounds how many of the latest corrections a history
	// analyses (0: DefaultHistoryCorrections, -1: all).
	Corrections int `json:"corrections,omitempty"`

	// Paging (audit, attention; paging.go).
	FromSeq  uint64   `json:"from_seq,omitempty"`  // audit: first sequence of the page (default 1)
	Limit    int      `json:"limit,omitempty"`     // audit, attention: most events or items per page (default 1000, at most 10000)
	Types    []string `json:"types,omitempty"`     // audit: only these event types
	FromTime string   `json:"from_time,omitempty"` // audit: only events whose event time is at or after this
	ToTime   string   `json:"to_time,omitempty"`   // audit: … and before this
	Kinds    []string `json:"kinds,omitempty"`     // attention: only these kinds
	From     string   `json:"from,omitempty"`      // attention: the cursor a page's "next" gave
}

// DefaultHistoryCorrections is how many corrections a history analyses
// unless asked otherwise.
const DefaultHistoryCorrections = 50

// Queries answers from the read models. Compiled partner views are cached;
// a cached View answers while nothing has been written to the read models
// since it was last found current (modelsStamp), and is otherwise
// validated against the partner's last folded sequence, so a question that
// waited for a sequence never gets an answer from before it.
type Queries struct {
	pol     *domain.Policy
	es      *eventstore.Store
	models  func() *projections.Store
	proj    *Projector
	written func() uint64 // the writer's last sequence: read your own writes
	clock   func() time.Time

	cache  *viewCache
	whatIf chan struct{} // what-if pages being computed (whatIfConcurrency)
}

// NewQueries returns the query side. Its cache of compiled partner Views
// holds at most cacheBytes (domain.View.Bytes; 0: DefaultQueryCacheBytes,
// negative: no cache).
func NewQueries(pol *domain.Policy, es *eventstore.Store, models func() *projections.Store, proj *Projector, written func() uint64, cacheBytes int64) *Queries {
	if cacheBytes == 0 {
		cacheBytes = DefaultQueryCacheBytes
	}
	return &Queries{pol: pol, es: es, models: models, proj: proj, written: written, clock: time.Now, cache: newViewCache(max(cacheBytes, 0)),
		whatIf: make(chan struct{}, whatIfConcurrency)}
}

// Tier answers the tier document.
func (q *Queries) Tier(ctx context.Context, r Query) (domain.TierDoc, error) {
	v, at, k, err := q.view(ctx, r)
	if err != nil {
		return domain.TierDoc{}, err
	}
	doc := v.Tier(at, k.echo)
	doc.KnownAt = k.at
	return doc, nil
}

// Benefits answers the benefits document.
func (q *Queries) Benefits(ctx context.Context, r Query) (domain.BenefitsDoc, error) {
	v, at, k, err := q.view(ctx, r)
	if err != nil {
		return domain.BenefitsDoc{}, err
	}
	doc := v.Benefits(at, k.echo)
	doc.KnownAt = k.at
	return doc, nil
}

// History answers the held-tier history.
func (q *Queries) History(ctx context.Context, r Query) (domain.HistoryDoc, error) {
	k, err := q.knowledge(ctx, r)
	if err != nil {
		return domain.HistoryDoc{}, err
	}
	p, err := q.partner(r.PartnerID, k.cut)
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
	doc := domain.RecentHistory(q.pol, p, k.cut, k.echo, limit)
	doc.KnownAt = k.at
	return doc, nil
}

// view validates a partner query and returns the partner's View.
func (q *Queries) view(ctx context.Context, r Query) (*domain.View, time.Time, knowledge, error) {
	at, err := q.at(r.At)
	if err != nil {
		return nil, at, knowledge{}, err
	}
	k, err := q.knowledge(ctx, r)
	if err != nil {
		return nil, at, k, err
	}
	if err := ctx.Err(); err != nil {
		return nil, at, k, fmt.Errorf("query unanswered at the request's deadline: %w", err)
	}
	v, err := q.viewOf(r.PartnerID, k.cut)
	return v, at, k, err
}

func (q *Queries) at(s string) (time.Time, error) {
	if s == "" {
		return q.clock().UTC(), nil
	}
	return ParseInstant("at", s)
}

// knowledge is a query's knowledge cut-off: cut is what to apply, echo the
// sequence the document echoes (the last one counted), at the instant asked
// for (nil without known_at).
type knowledge struct {
	cut, echo uint64
	at        *time.Time
}

// knowledge waits until the read models are fresh enough for the request and
// returns the knowledge cut-off to apply.
func (q *Queries) knowledge(ctx context.Context, r Query) (knowledge, error) {
	var k knowledge
	if r.KnownAt != "" {
		t, err := ParseInstant("known_at", r.KnownAt)
		if err != nil {
			return k, err
		}
		k.at = &t
	}
	written := q.written()
	target := max(r.MinSeq, written, r.KnownSeq)
	if target > written {
		// A sequence the stream does not hold yet cannot be waited for
		// usefully: say so at once instead of holding a worker for
		// freshnessWait. (Another ledger's writes are in the stream, so a
		// sequence it recorded passes.)
		last, err := q.es.LastSeq(ctx)
		switch {
		case err != nil:
		case r.KnownSeq > last:
			return k, &domain.Error{Code: domain.CodeInvalidField, Field: "known_seq",
				Msg: fmt.Sprintf("known_seq %d is beyond the last recorded sequence %d", r.KnownSeq, last)}
		case r.MinSeq > last:
			return k, &domain.Error{Code: domain.CodeInvalidField, Field: "min_seq",
				Msg: fmt.Sprintf("min_seq %d is beyond the last recorded sequence %d: no answer can wait for a sequence not yet recorded", r.MinSeq, last)}
		}
	}
	if err := q.fresh(ctx, target); err != nil {
		return k, err
	}
	switch {
	case k.at != nil:
		seq, err := q.models().KnownAt(*k.at)
		if err != nil {
			return k, err
		}
		if r.KnownSeq > 0 {
			seq = min(seq, r.KnownSeq)
		}
		// The read models may hold more than the writer numbered (another
		// writer): what they hold is what can be counted.
		seq = min(seq, q.proj.Checkpoint())
		k.cut, k.echo = seq, seq
	case r.KnownSeq > 0:
		k.cut, k.echo = r.KnownSeq, r.KnownSeq
	default:
		k.cut, k.echo = domain.AllKnown, q.proj.Checkpoint()
	}
	return k, nil
}

// fresh waits briefly for the read models to reach seq, and otherwise says
// how far behind they are: never a stale answer in silence.
func (q *Queries) fresh(ctx context.Context, seq uint64) error {
	held, err := q.proj.Holds(seq)
	if !held && err == nil {
		wctx, cancel := context.WithTimeout(ctx, freshnessWait)
		defer cancel()
		q.proj.Notify(seq)
		err = q.proj.WaitFor(wctx, seq)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrDamaged), errors.Is(err, eventstore.ErrSequenceGap):
		return &domain.Error{Code: domain.CodeLogDamaged, Msg: err.Error()}
	}
	return &domain.Error{Code: domain.CodeProjectionBehind, Msg: err.Error()}
}

// partner loads a partner's complete facts.
func (q *Queries) partner(id string, known uint64) (*domain.Partner, error) {
	return q.partnerIn(q.models(), id, known)
}

// partnerIn loads a partner's complete facts from m.
func (q *Queries) partnerIn(m *projections.Store, id string, known uint64) (*domain.Partner, error) {
	if !domain.ValidPartnerID(id) {
		return nil, &domain.Error{Code: domain.CodeInvalidField, Field: "partner_id", Msg: fmt.Sprintf("partner_id must match %s (got %q)", domain.PartnerIDRule, domain.Clip(id))}
	}
	p, _, err := m.Partner(id)
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
// folded sequence is unchanged — never a stale answer — and, while the
// read models' write count is what it was when the View was last found
// valid (modelsStamp), taken without reading them: a fold committing at
// that moment is counted before the projector publishes it, so a question
// that waited for it sees it. For an earlier cut-off it is compiled afresh.
func (q *Queries) viewOf(id string, known uint64) (*domain.View, error) {
	m := q.models()
	seen := modelsStampOf(m) // before any read of m
	if known == domain.AllKnown && domain.ValidPartnerID(id) {
		// Nothing written since the View was last found current: no
		// read transaction needed (most queries, between folds).
		if v, ok := q.cache.current(id, seen); ok {
			return v, nil
		}
		last, err := m.PartnerLastSeq(id)
		if err != nil {
			return nil, err
		}
		if v, ok := q.cache.get(id, last, seen); ok {
			return v, nil
		}
	}
	p, err := q.partnerIn(m, id, known)
	if err != nil {
		return nil, err
	}
	if known != domain.AllKnown && known < p.LastSeq() {
		return domain.Compile(q.pol, p, known), nil
	}
	v := domain.Compile(q.pol, p, domain.AllKnown).Detach()
	q.cache.put(id, p.LastSeq(), v, seen)
	return v, nil
}

// StatsDoc is the ledger's counters.
type StatsDoc struct {
	Events        uint64 `json:"events"`
	Partners      uint64 `json:"partners"`
	Checkpoint    uint64 `json:"checkpoint"`
	StreamLastSeq uint64 `json:"stream_last_seq"`
	ProjectionLag uint64 `json:"projection_lag"`
	// ReadModelBytes is what the read models' pages take (bbolt's size);
	// FileBytes the read model file's size on disk, which bbolt grows
	// ahead of its pages (0 when it cannot be read).
	ReadModelBytes int64  `json:"read_model_bytes"`
	FileBytes      int64  `json:"file_bytes"`
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
		ReadModelBytes: st.FileBytes, Policy: q.pol.ID(), ForeignEvents: st.Foreign, LastForeignSeq: st.LastForeign}
	if fi, err := os.Stat(q.models().Path()); err == nil {
		doc.FileBytes = fi.Size()
	}
	if last > st.Checkpoint {
		doc.ProjectionLag = last - st.Checkpoint
	}
	if failure != nil {
		doc.ProjectorError = failure.Error()
	}
	return doc, nil
}
