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

func day(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format(time.RFC3339)
}

func dayPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return day(*t)
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

func printTier(w io.Writer, raw []byte) error {
	var d domain.TierDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	t := table(w)
	era := "(before the program)"
	if d.Era != nil {
		era = *d.Era
	}
	period := "-"
	if d.Period != nil {
		period = fmt.Sprintf("%s %s → %s", d.Period.Kind, day(d.Period.Start), day(d.Period.End))
	}
	fmt.Fprintf(t, "partner\t%s\n", d.PartnerID)
	fmt.Fprintf(t, "at\t%s\t(as known at sequence %d)\n", d.At.Format(time.RFC3339), d.KnownSeq)
	fmt.Fprintf(t, "era\t%s\n", era)
	fmt.Fprintf(t, "tier\t%s\t(rank %d)\n", d.Tier.Name, d.Tier.Rank)
	fmt.Fprintf(t, "sanctioned\t%s\n", yesNo(d.Sanctioned))
	fmt.Fprintf(t, "benefit period\t%s\n", period)
	fmt.Fprintf(t, "first receipt\t%s\n", dayPtr(d.FirstReceipt))
	fmt.Fprintf(t, "\t\n")
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
	fmt.Fprintln(t, "\nENTITLED\tCATEGORY\tGRANTED BY\tOFFER\tUNTIL")
	for _, g := range d.Entitled {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", g.BenefitID, g.Category, g.GrantedBy, strPtr(g.OfferID), dayPtr(g.Until))
	}
	if len(d.Entitled) == 0 {
		fmt.Fprintln(t, "(none)\t\t\t\t")
	}
	fmt.Fprintln(t, "\nSEQ\tACTIVATION\tOFFER\tACTIVATED\tSTATUS\tREASONS\tCONTACTED")
	for _, a := range d.Activations {
		fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Seq, a.BenefitID, strPtr(a.OfferID), day(a.ActivatedAt), a.Status,
			strings.Join(a.Reasons, ","), yesNo(a.Contacted))
	}
	if len(d.Activations) == 0 {
		fmt.Fprintln(t, "(none)\t\t\t\t\t\t")
	}
	return t.Flush()
}

func printHistory(w io.Writer, raw []byte) error {
	var d domain.HistoryDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s held-tier history (as known at sequence %d, policy %s)\n\n", d.PartnerID, d.KnownSeq, d.Policy)
	t := table(w)
	fmt.Fprintln(t, "AT\tFROM\tTO\tCAUSE")
	for _, c := range d.Changes {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\n", day(c.At), c.From.Name, c.To.Name, cause(c.Cause))
	}
	if len(d.Changes) == 0 {
		fmt.Fprintln(t, "(never held a tier)\t\t\t")
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(d.Corrections) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nCorrections that rewrote the past when they were recorded (latest %d of %d analysed):\n", d.CorrectionsAnalysed, d.CorrectionsTotal)
	t = table(w)
	fmt.Fprintln(t, "SEQ\tEVENT\tID\tFROM\tUNTIL\tWAS\tBECAME")
	for _, c := range d.Corrections {
		for _, e := range c.Effects {
			fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Seq, c.Type, c.ID, day(e.From), dayPtr(e.Until), e.Before.Name, e.After.Name)
		}
	}
	return t.Flush()
}

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
	fmt.Fprintf(t, "read model file\t%.1f MiB\n", float64(d.ReadModelBytes)/(1<<20))
	fmt.Fprintf(t, "policy\t%s\n", d.Policy)
	if d.ForeignEvents > 0 {
		fmt.Fprintf(t, "foreign records skipped\t%d\t(last at sequence %d: not written by the ledger)\n", d.ForeignEvents, d.LastForeignSeq)
	}
	if d.ProjectorError != "" {
		fmt.Fprintf(t, "PROJECTOR STOPPED\t%s\n", d.ProjectorError)
	}
	return t.Flush()
}
