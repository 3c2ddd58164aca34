package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/internal/ledger"
)

// Paged documents: the CLI asks page after page and prints each as it
// comes — one JSON document per page with --json (NDJSON), one table for
// people — so a partner with any number of events audits in bounded memory.

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func auditFlags(fs *flag.FlagSet) func(q *ledger.Query) error {
	from := fs.Uint64("from-seq", 0, "start at this sequence (default: the partner's first event)")
	limit := fs.Int("limit", 0, fmt.Sprintf("events per page (default %d, at most %d)", ledger.DefaultPageLimit, ledger.MaxPageLimit))
	var types listFlag
	fs.Var(&types, "type", "only events of these types (repeat or comma-separate)")
	fromTime := fs.String("from-time", "", "only events whose event time is at or after this (RFC 3339 or YYYY-MM-DD)")
	toTime := fs.String("to-time", "", "only events whose event time is before this")
	return func(q *ledger.Query) error {
		q.FromSeq, q.Limit, q.Types, q.FromTime, q.ToTime = *from, *limit, types, *fromTime, *toTime
		return nil
	}
}

func nextAuditPage(q *ledger.Query, raw []byte) (bool, error) {
	var d struct {
		NextSeq *uint64 `json:"next_seq"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return false, err
	}
	if d.NextSeq == nil {
		return false, nil
	}
	if *d.NextSeq <= q.FromSeq {
		return false, fmt.Errorf("audit: the ledger's next page (%d) does not move past %d", *d.NextSeq, q.FromSeq)
	}
	q.FromSeq = *d.NextSeq
	return true, nil
}

func attentionFlags(fs *flag.FlagSet) func(q *ledger.Query) error {
	partner := fs.String("partner", "", "only this partner")
	limit := fs.Int("limit", 0, fmt.Sprintf("items per page (default %d, at most %d)", ledger.DefaultPageLimit, ledger.MaxPageLimit))
	var kinds listFlag
	fs.Var(&kinds, "kind", "only these kinds: contact_overdue, no_contact_assigned, fraud_hold (repeat or comma-separate)")
	return func(q *ledger.Query) error {
		q.PartnerID, q.Limit, q.Kinds = *partner, *limit, kinds
		return nil
	}
}

func nextAttentionPage(q *ledger.Query, raw []byte) (bool, error) {
	var d struct {
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return false, err
	}
	if d.Next == nil {
		return false, nil
	}
	if *d.Next == q.From {
		return false, fmt.Errorf("attention: the ledger's next page (%q) does not move on", *d.Next)
	}
	q.From = *d.Next
	return true, nil
}

// newAuditPrinter prints audit pages as one table: the header once, each
// page's rows as they come, aligned to fixed widths.
func newAuditPrinter() func(w io.Writer, raw []byte) error {
	first := true
	return func(w io.Writer, raw []byte) error {
		var d ledger.AuditDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if first {
			fmt.Fprintf(w, "%-8s  %-23s  %-26s  %-20s  %-24s  %s\n", "SEQ", "RECORDED (UTC)", "TYPE", "EVENT TIME (UTC)", "ID", "WHAT")
			first = false
		}
		for _, ev := range d.Events {
			var env struct {
				ID   string          `json:"id"`
				Time time.Time       `json:"time"`
				Data json.RawMessage `json:"data"`
			}
			json.Unmarshal(ev.Envelope, &env)
			fmt.Fprintf(w, "%-8d  %-23s  %-26s  %-20s  %-24s  %s\n", ev.Seq, millis(ev.Recorded), ev.Type,
				env.Time.UTC().Format("2006-01-02 15:04:05"), env.ID, describe(ev.Type, env.Data))
		}
		return nil
	}
}

// millis shows a recorded instant to the millisecond.
func millis(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		return rfc3339
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

// describe says in a few words what an event was.
func describe(typ string, data json.RawMessage) string {
	var d map[string]any
	if json.Unmarshal(data, &d) != nil {
		return ""
	}
	s := func(k string) string {
		if v, ok := d[k].(string); ok {
			return v
		}
		return ""
	}
	opt := func(label, k string) string {
		if v := s(k); v != "" {
			return " " + label + " " + v
		}
		return ""
	}
	switch typ {
	case "OfferPublished":
		return fmt.Sprintf("offer %s, %s on %s%s", s("offer_id"), s("listing_type"), s("storefront"), opt("category", "category"))
	case "OfferDelisted":
		return "offer " + s("offer_id") + " delisted" + opt("reason:", "reason")
	case "PartnerEnrolled":
		return "enrolled as " + s("name") + " <" + s("account_email") + ">"
	case "MarketingContactAssigned":
		return "marketing contact" + opt("user", "user_id") + opt("email", "email") + opt("phone", "phone")
	case "SaleBilled":
		cents, _ := d["amount_usd_cents"].(float64)
		out := fmt.Sprintf("sale %s %s on offer %s", s("sale_id"), money(int64(cents)), s("offer_id"))
		if seats, ok := d["seats"].(float64); ok {
			out += fmt.Sprintf(", %d seats", int64(seats))
		}
		return out
	case "SaleFlaggedFraud":
		return "sale " + s("sale_id") + " flagged " + s("confidence")
	case "SaleFraudCleared":
		return "sale " + s("sale_id") + " cleared of fraud"
	case "PurchaseCancelled":
		return "sale " + s("sale_id") + " cancelled (" + s("reason") + ")"
	case "MetricReported":
		v, _ := d["value"].(float64)
		if s("metric") == "bizapps_value" {
			return fmt.Sprintf("bizapps_value %s = %s", s("period"), money(int64(v)))
		}
		return fmt.Sprintf("%s %s = %d", s("metric"), s("period"), int64(v))
	case "BenefitActivated":
		return "activated " + s("benefit_id") + opt("for offer", "offer_id")
	case "RewardsTeamContacted":
		return "rewards team contacted about " + s("benefit_id")
	case "EngagementOptedOut", "EngagementOptedIn":
		scope := strings.TrimSpace(opt("benefit", "benefit_id") + opt("offer", "offer_id"))
		if scope == "" {
			scope = "every engagement"
		}
		return map[string]string{"EngagementOptedOut": "opted out of ", "EngagementOptedIn": "opted in to "}[typ] + scope
	case "PartnerSanctioned":
		return "sanctioned: " + s("ground") + opt("—", "note")
	case "PartnerReinstated":
		return "reinstated"
	}
	return ""
}

// newAttentionPrinter prints attention pages as one table.
func newAttentionPrinter() func(w io.Writer, raw []byte) error {
	first := true
	return func(w io.Writer, raw []byte) error {
		var d ledger.AttentionDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if first {
			known := fmt.Sprintf("sequence %d", d.KnownSeq)
			if d.KnownAt != nil {
				known += " (" + d.KnownAt.Format(time.RFC3339) + ")"
			}
			fmt.Fprintf(w, "attention at %s, as known at %s\n\n", d.At.Format(time.RFC3339), known)
			fmt.Fprintf(w, "%-20s  %-20s  %-20s  %-32s  %s\n", "KIND", "PARTNER", "DUE SINCE", "SUBJECT", "DETAIL")
			first = false
		}
		for _, it := range d.Items {
			subject := it.SaleID
			if it.ActivationSeq != 0 {
				subject = fmt.Sprintf("%s (seq %d)", it.BenefitID, it.ActivationSeq)
			}
			// One format for the column, page after page: RFC 3339.
			fmt.Fprintf(w, "%-20s  %-20s  %-20s  %-32s  %s\n", it.Kind, it.PartnerID, it.Since.UTC().Format(time.RFC3339), subject, it.Detail)
		}
		return nil
	}
}
