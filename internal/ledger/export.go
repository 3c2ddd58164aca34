package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Export kinds.
const (
	ExportTiers   = "tiers"   // one row per partner: its tier document at at, flattened
	ExportHistory = "history" // one row per held-tier change
)

// ExportRequest asks for one page of an export. A full export is a series of
// pages: each next request repeats at and known_seq from the first reply and
// sets after_partner to its next_partner.
type ExportRequest struct {
	Kind         string `json:"kind"`                    // ExportTiers or ExportHistory
	At           string `json:"at,omitempty"`            // tiers: RFC 3339; default now
	KnownSeq     uint64 `json:"known_seq,omitempty"`     // knowledge cut-off; 0 = everything folded now
	AfterPartner string `json:"after_partner,omitempty"` // page cursor: start after this partner id
	Limit        int    `json:"limit,omitempty"`         // partners per page, at most MaxScanPage (0: MaxScanPage)
}

// ExportDoc is one page of an export: rows are TierRow or HistoryRow.
type ExportDoc struct {
	Kind        string            `json:"kind"`
	At          time.Time         `json:"at"`
	KnownSeq    uint64            `json:"known_seq"`
	Policy      string            `json:"policy"`
	Partners    int               `json:"partners"`
	Rows        []json.RawMessage `json:"rows"`
	NextPartner *string           `json:"next_partner"`
}

// TierRow is a partner's tier document at an instant, flat. Its JSON field
// order is TierColumns, and so is the CSV's.
type TierRow struct {
	PartnerID         string     `json:"partner_id"`
	TierRank          int        `json:"tier_rank"`
	TierName          string     `json:"tier_name"`
	Era               *string    `json:"era"`
	MBS               int64      `json:"mbs_usd_cents"`
	Seats             int64      `json:"seats"`
	MAU               int64      `json:"teams_mau"`
	BizApps           int64      `json:"bizapps_value_usd_cents"`
	ExcludedFraud     int64      `json:"excluded_fraud_usd_cents"`
	ExcludedCancelled int64      `json:"excluded_cancelled_usd_cents"`
	PeriodKind        *string    `json:"period_kind"`
	PeriodStart       *time.Time `json:"period_start"`
	PeriodEnd         *time.Time `json:"period_end"`
	FirstReceipt      *time.Time `json:"first_receipt"`
	Sanctioned        bool       `json:"sanctioned"`
}

// TierColumns are the columns of a tiers export, in order (README).
var TierColumns = []string{"partner_id", "tier_rank", "tier_name", "era", "mbs_usd_cents", "seats", "teams_mau",
	"bizapps_value_usd_cents", "excluded_fraud_usd_cents", "excluded_cancelled_usd_cents", "period_kind",
	"period_start", "period_end", "first_receipt", "sanctioned"}

// CSV returns the row's fields in TierColumns order; null is empty.
func (r TierRow) CSV() []string {
	return []string{r.PartnerID, strconv.Itoa(r.TierRank), r.TierName, str(r.Era), i64(r.MBS), i64(r.Seats), i64(r.MAU),
		i64(r.BizApps), i64(r.ExcludedFraud), i64(r.ExcludedCancelled), str(r.PeriodKind), stamp(r.PeriodStart),
		stamp(r.PeriodEnd), stamp(r.FirstReceipt), strconv.FormatBool(r.Sanctioned)}
}

// HistoryRow is one change of a partner's held tier and the event that
// caused it. Its JSON field order is HistoryColumns, and so is the CSV's.
type HistoryRow struct {
	PartnerID string    `json:"partner_id"`
	At        time.Time `json:"at"`
	FromRank  int       `json:"from_rank"`
	FromName  string    `json:"from_name"`
	ToRank    int       `json:"to_rank"`
	ToName    string    `json:"to_name"`
	CauseKind string    `json:"cause_kind"`
	CauseSeq  *uint64   `json:"cause_seq"`
	CauseType *string   `json:"cause_type"`
	CauseID   *string   `json:"cause_id"`
}

// HistoryColumns are the columns of a history export, in order (README).
var HistoryColumns = []string{"partner_id", "at", "from_rank", "from_name", "to_rank", "to_name", "cause_kind",
	"cause_seq", "cause_type", "cause_id"}

// CSV returns the row's fields in HistoryColumns order; null is empty.
func (r HistoryRow) CSV() []string {
	seq := ""
	if r.CauseSeq != nil {
		seq = strconv.FormatUint(*r.CauseSeq, 10)
	}
	return []string{r.PartnerID, stamp(&r.At), strconv.Itoa(r.FromRank), r.FromName, strconv.Itoa(r.ToRank), r.ToName,
		r.CauseKind, seq, str(r.CauseType), str(r.CauseID)}
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func ptr[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// Export answers one page of an export.
func (q *Queries) Export(ctx context.Context, r ExportRequest) (ExportDoc, error) {
	if r.Kind != ExportTiers && r.Kind != ExportHistory {
		return ExportDoc{}, &domain.Error{Code: domain.CodeInvalidField, Field: "kind",
			Msg: fmt.Sprintf("kind must be %q or %q (got %q)", ExportTiers, ExportHistory, r.Kind)}
	}
	s, err := q.page(ctx, r.At, r.KnownSeq, r.AfterPartner, r.Limit)
	if err != nil {
		return ExportDoc{}, err
	}
	doc := ExportDoc{Kind: r.Kind, At: s.at, KnownSeq: s.known, Policy: q.pol.Version, Rows: []json.RawMessage{}}
	add := func(row any) (int, error) {
		b, err := json.Marshal(row)
		doc.Rows = append(doc.Rows, b)
		return len(b), err
	}
	doc.NextPartner, doc.Partners, err = q.forEach(ctx, s, scanPageBytes, func(p *domain.Partner) (int, error) {
		if r.Kind == ExportTiers {
			return add(tierRow(domain.Compile(q.pol, p, s.known).Tier(s.at, s.known)))
		}
		n := 0
		for _, c := range domain.TierChanges(q.pol, p, s.known) {
			k, err := add(HistoryRow{PartnerID: p.ID, At: c.At, FromRank: c.From.Rank, FromName: c.From.Name,
				ToRank: c.To.Rank, ToName: c.To.Name, CauseKind: c.Cause.Kind, CauseSeq: ptr(c.Cause.Seq),
				CauseType: ptr(c.Cause.Type), CauseID: ptr(c.Cause.ID)})
			if err != nil {
				return n, err
			}
			n += k
		}
		return n, nil
	})
	return doc, err
}

func tierRow(d domain.TierDoc) TierRow {
	r := TierRow{PartnerID: d.PartnerID, TierRank: d.Tier.Rank, TierName: d.Tier.Name, Era: d.Era,
		MBS: d.Tracks.MBS, Seats: d.Tracks.Seats, MAU: d.Tracks.MAU, BizApps: d.Tracks.BizApps,
		ExcludedFraud: d.Excluded.Fraud, ExcludedCancelled: d.Excluded.Cancelled, FirstReceipt: d.FirstReceipt,
		Sanctioned: d.Sanctioned}
	if d.Period != nil {
		r.PeriodKind, r.PeriodStart, r.PeriodEnd = &d.Period.Kind, &d.Period.Start, &d.Period.End
	}
	return r
}
