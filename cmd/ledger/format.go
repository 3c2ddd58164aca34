package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// money renders integer cents for people: -123456 → -$1,234.56. Integer
// arithmetic only: no float comes near an amount.
func money(cents int64) string {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", uint64(-cents)
	}
	whole, frac := u/100, u%100
	s := fmt.Sprint(whole)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s$%s.%02d", sign, b.String(), frac)
}

// day renders an instant for people: a plain date at midnight UTC, else
// RFC 3339. Columns use timeColumn instead, so one column has one format.
func day(t time.Time) string { return timeColumn(t)(t) }

// timeColumn returns the format of a column holding the instants ts: plain
// dates when every one is at midnight UTC, RFC 3339 for all otherwise (one
// format per column: a date beside a timestamp reads as a different kind
// of value). Nil instants are left out.
func timeColumn[T time.Time | *time.Time](ts ...T) func(time.Time) string {
	dates := true
	for _, v := range ts {
		var t time.Time
		switch v := any(v).(type) {
		case time.Time:
			t = v
		case *time.Time:
			if v == nil {
				continue
			}
			t = *v
		}
		if t.UTC() != t.UTC().Truncate(24*time.Hour) {
			dates = false
		}
	}
	if dates {
		return func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
	}
	return func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
}

// orDash renders an optional instant with f, "-" when absent.
func orDash(f func(time.Time) string, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return f(*t)
}

func strPtr(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// trackNames are the tier tracks as people read them, by track id.
var trackNames = map[string]string{
	domain.TrackMBS:     "billed sales (MBS)",
	domain.TrackSeats:   "seats",
	domain.TrackMAU:     "Teams MAU",
	domain.TrackBizApps: "BizApps value",
}

// basisNames say over which span each basis counts the tracks.
var basisNames = map[string]string{
	domain.BasisCumulative: "cumulative: all counted sales and reports up to this instant",
	domain.BasisTTM:        "TTM: the trailing twelve months up to this instant (Teams MAU: the highest report in them)",
}

func printTier(w io.Writer, raw []byte) error {
	var d domain.TierDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	t := table(w)
	era := "none (the instant is before the program's first policy era)"
	if d.Era != nil {
		era = *d.Era + " (the policy's set of rules in force at this instant)"
	}
	basis := basisNames[domain.BasisCumulative] + " (no policy era in force)"
	if d.Basis != nil {
		basis = *d.Basis
		if n, ok := basisNames[basis]; ok {
			basis = n
		}
	}
	earned := "-"
	switch {
	case d.Tier.Rank == 0:
	case len(d.EarnedBy) > 0:
		names := make([]string, len(d.EarnedBy))
		for i, id := range d.EarnedBy {
			names[i] = trackNames[id]
			if names[i] == "" {
				names[i] = id
			}
		}
		earned = strings.Join(names, ", ")
	default:
		earned = "reached earlier in this benefit period (a TTM tier falls only at the next anniversary)"
	}
	period := "-"
	if d.Period != nil {
		f := timeColumn(d.Period.Start, d.Period.End)
		period = fmt.Sprintf("%s %s → %s", d.Period.Kind, f(d.Period.Start), f(d.Period.End))
	}
	fmt.Fprintf(t, "partner\t%s\n", d.PartnerID)
	fmt.Fprintf(t, "at\t%s\t(as known at sequence %d)\n", d.At.Format(time.RFC3339), d.KnownSeq)
	fmt.Fprintf(t, "tier\t%s\t(rank %d)\n", d.Tier.Name, d.Tier.Rank)
	fmt.Fprintf(t, "earned by\t%s\n", earned)
	fmt.Fprintf(t, "sanctioned\t%s\n", yesNo(d.Sanctioned))
	fmt.Fprintf(t, "policy era\t%s\n", era)
	fmt.Fprintf(t, "benefit period\t%s\n", period)
	fmt.Fprintf(t, "first tier reached\t%s\n", orDash(day, d.FirstReceipt)+" (the \"first receipt\": TTM benefit periods run a year each from this day)")
	fmt.Fprintf(t, "\t\n")
	fmt.Fprintf(t, "tracks\t%s\n", basis)
	fmt.Fprintf(t, "billed sales (MBS)\t%s\n", money(d.Tracks.MBS))
	fmt.Fprintf(t, "seats\t%d\n", d.Tracks.Seats)
	fmt.Fprintf(t, "Teams MAU\t%d\n", d.Tracks.MAU)
	fmt.Fprintf(t, "BizApps value\t%s\n", money(d.Tracks.BizApps))
	fmt.Fprintf(t, "excluded as fraud\t%s\n", money(d.Excluded.Fraud))
	fmt.Fprintf(t, "excluded as cancelled\t%s\n", money(d.Excluded.Cancelled))
	return t.Flush()
}

func printBenefits(w io.Writer, raw []byte) error {
	var d domain.BenefitsDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s at %s (as known at sequence %d)", d.PartnerID, d.At.Format(time.RFC3339), d.KnownSeq)
	if d.Sanctioned {
		fmt.Fprint(w, " — sanctioned: nothing is entitled")
	}
	fmt.Fprintln(w)
	t := table(w)
	untils := make([]*time.Time, len(d.Entitled))
	for i, g := range d.Entitled {
		untils[i] = g.Until
	}
	until := timeColumn(untils...)
	fmt.Fprintln(t, "\nENTITLED\tCATEGORY\tGRANTED BY\tOFFER\tUNTIL")
	for _, g := range d.Entitled {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", g.BenefitID, g.Category, g.GrantedBy, strPtr(g.OfferID), orDash(until, g.Until))
	}
	if len(d.Entitled) == 0 {
		fmt.Fprintln(t, "(none)\t\t\t\t")
	}
	var activated, periods []time.Time
	for _, a := range d.Activations {
		activated = append(activated, a.ActivatedAt)
		periods = append(periods, a.Period.Start, a.Period.End)
	}
	at, per := timeColumn(activated...), timeColumn(periods...)
	fmt.Fprintln(t, "\nSEQ\tACTIVATION\tOFFER\tACTIVATED\tPERIOD\tSTATUS\tREASONS\tCONTACTED")
	for _, a := range d.Activations {
		fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s → %s\t%s\t%s\t%s\n", a.Seq, a.BenefitID, strPtr(a.OfferID), at(a.ActivatedAt),
			per(a.Period.Start), per(a.Period.End), a.Status, strings.Join(a.Reasons, ","), yesNo(a.Contacted))
	}
	if len(d.Activations) == 0 {
		fmt.Fprintln(t, "(none)\t\t\t\t\t\t\t")
	}
	return t.Flush()
}

// printHistory prints a held-tier history; changes after now are marked
// projected: the calendar's effect (an anniversary, a track's end) on what
// is recorded so far, which later events may still change.
func printHistory(w io.Writer, raw []byte, now time.Time) error {
	var d domain.HistoryDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s held-tier history (as known at sequence %d, policy %s)\n\n", d.PartnerID, d.KnownSeq, d.Policy)
	t := table(w)
	ats := make([]time.Time, len(d.Changes))
	for i, c := range d.Changes {
		ats[i] = c.At
	}
	at := timeColumn(ats...)
	projected := false
	fmt.Fprintln(t, "AT\tFROM\tTO\tCAUSE")
	for _, c := range d.Changes {
		mark := ""
		if c.At.After(now) {
			mark, projected = "  (projected)", true
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s%s\n", at(c.At), c.From.Name, c.To.Name, cause(c.Cause), mark)
	}
	if len(d.Changes) == 0 {
		fmt.Fprintln(t, "(never held a tier)\t\t\t")
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if projected {
		fmt.Fprintf(w, "\n(projected): after now (%s), what the calendar does to the events recorded so far; later events can change it\n", now.UTC().Format(time.RFC3339))
	}
	if len(d.Corrections) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nCorrections that rewrote the past when they were recorded (latest %d of %d analysed):\n", d.CorrectionsAnalysed, d.CorrectionsTotal)
	t = table(w)
	var spans []*time.Time
	for _, c := range d.Corrections {
		for _, e := range c.Effects {
			spans = append(spans, &e.From, e.Until)
		}
	}
	span := timeColumn(spans...)
	fmt.Fprintln(t, "SEQ\tEVENT\tID\tFROM\tUNTIL\tWAS\tBECAME")
	for _, c := range d.Corrections {
		for _, e := range c.Effects {
			fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Seq, c.Type, c.ID, span(e.From), orDash(span, e.Until), e.Before.Name, e.After.Name)
		}
	}
	return t.Flush()
}

// mib renders a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func cause(c domain.Cause) string {
	if c.Kind == domain.CauseEvent {
		return fmt.Sprintf("%s %s (seq %d)", c.Type, c.ID, c.Seq)
	}
	return c.Kind
}

func printStats(w io.Writer, raw []byte) error {
	var d ledger.StatsDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	t := table(w)
	fmt.Fprintf(t, "events\t%d\n", d.Events)
	fmt.Fprintf(t, "partners\t%d\n", d.Partners)
	fmt.Fprintf(t, "log last sequence\t%d\n", d.StreamLastSeq)
	fmt.Fprintf(t, "read models at\t%d\t(lag %d)\n", d.Checkpoint, d.ProjectionLag)
	fmt.Fprintf(t, "read model file\t%s on disk, %s of it in pages\t(bbolt grows the file ahead of its pages)\n", mib(d.FileBytes), mib(d.ReadModelBytes))
	fmt.Fprintf(t, "policy\t%s\n", d.Policy)
	if d.ForeignEvents > 0 {
		fmt.Fprintf(t, "foreign records skipped\t%d\t(last at sequence %d: not written by the ledger)\n", d.ForeignEvents, d.LastForeignSeq)
	}
	if d.ProjectorError != "" {
		fmt.Fprintf(t, "PROJECTOR STOPPED\t%s\n", d.ProjectorError)
	}
	return t.Flush()
}
