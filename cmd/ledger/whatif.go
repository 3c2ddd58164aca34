package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// Scans over every partner (what-if, export) page through the ledger.
const (
	// scanPageTimeout bounds one page's request: a page examines at most
	// ledger.MaxScanPage partners.
	scanPageTimeout = 2 * time.Minute
	// busyRetries is how often a what-if page answered busy (another
	// what-if is computing a page) is asked again, waiting busyBackoff
	// longer each time, before the command gives up with the busy error.
	busyRetries = 20
	busyBackoff = 250 * time.Millisecond
)

// runPolicy: `ledger policy show` prints the running ledger's policy file;
// `ledger policy check FILE` validates one locally.
func runPolicy(e *env, args []string) int {
	if len(args) > 0 && isHelp(args[0]) {
		return subcommandHelp("policy", "show", "check")
	}
	if len(args) == 0 {
		return fail(e, exitError, usageError{"policy takes a subcommand: show | check FILE"})
	}
	fs := flag.NewFlagSet("policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return fail(e, exitError, err)
	}
	switch args[0] {
	case "show":
		if len(pos) != 0 {
			return fail(e, exitError, usageError{"policy show takes no arguments"})
		}
		client, closeConn, err := cf.connect(e)
		if err != nil {
			return fail(e, exitError, err)
		}
		defer closeConn()
		ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
		defer cancel()
		b, err := client.Call(ctx, rpc.EndpointPolicy, nil)
		if err != nil {
			return fail(e, exitError, err)
		}
		e.stdout.Write(b) // byte for byte: the file to edit
		return exitOK
	case "check":
		if len(pos) != 1 {
			return fail(e, exitError, usageError{"policy check takes one FILE"})
		}
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return fail(e, exitError, err)
		}
		pol, err := domain.ParsePolicy(b)
		if cf.json {
			doc := map[string]any{"file": pos[0], "ok": err == nil}
			if err != nil {
				doc["error"] = err.Error()
			} else {
				doc["version"], doc["digest"] = pol.Version, pol.Digest()
			}
			out, _ := json.Marshal(doc)
			fmt.Fprintln(e.stdout, string(out))
		}
		if err != nil {
			return fail(e, exitRejected, fmt.Errorf("%s: %w", pos[0], err))
		}
		if !cf.json {
			fmt.Fprintf(e.stdout, "%s: policy %s (digest %s) is valid\n", pos[0], pol.Version, pol.Digest())
		}
		return exitOK
	}
	return fail(e, exitError, usageError{fmt.Sprintf("policy: unknown subcommand %q (show | check FILE)", args[0])})
}

// scanInstant parses --at: RFC 3339 or a plain date (00:00:00Z).
func scanInstant(flagName, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	t, err := ledger.ParseInstant(strings.TrimLeft(flagName, "-"), s)
	if err != nil {
		return "", usageError{fmt.Sprintf("%s %q: want an RFC 3339 time such as 2024-05-10T00:00:00Z, or a date 2024-05-10", flagName, s)}
	}
	return t.Format(time.RFC3339Nano), nil
}

// scanError maps a page's error to the exit status: a coded rejection of
// the request is 1, anything else 2.
func scanError(e *env, err error) int {
	if code := domain.CodeOf(err); code != "" && code != domain.CodeInternal && code != domain.CodeProjectionBehind &&
		code != domain.CodeLogDamaged && code != domain.CodeBusy && code != domain.CodeTimeout {
		return fail(e, exitRejected, fmt.Errorf("%s: %v", code, err))
	}
	return fail(e, exitError, err)
}

// page calls one page of a scan, asking again while the ledger is busy.
func page(client *rpc.Client, endpoint string, req any, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), scanPageTimeout)
		raw, err := client.Call(ctx, endpoint, body)
		cancel()
		if domain.CodeOf(err) == domain.CodeBusy && attempt < busyRetries {
			time.Sleep(time.Duration(attempt+1) * busyBackoff)
			continue
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, out)
	}
}

// runWhatIf compares, for every partner, the live policy's answers with a
// policy file's: one page of partners at a time, printed as it arrives.
func runWhatIf(e *env, args []string) int {
	fs := flag.NewFlagSet("whatif", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	policyFile := fs.String("policy", "", "the what-if policy file (required)")
	at := fs.String("at", "", "instant to compare at, RFC 3339 or YYYY-MM-DD (default now)")
	known := fs.Uint64("known-seq", 0, "compare as the ledger knew things at this sequence (default: everything)")
	history := fs.Bool("history", false, "also compare held-tier histories: the first instant they differ")
	limit := fs.Int("limit", ledger.MaxScanPage, fmt.Sprintf("partners per page (at most %d)", ledger.MaxScanPage))
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) != 0 || *policyFile == "" {
		return fail(e, exitError, usageError{"whatif takes --policy FILE and no arguments"})
	}
	b, err := os.ReadFile(*policyFile)
	if err != nil {
		return fail(e, exitError, err)
	}
	req := ledger.WhatIfRequest{PolicyFile: string(b), KnownSeq: *known, History: *history, Limit: *limit}
	if req.At, err = scanInstant("--at", *at); err != nil {
		return fail(e, exitError, err)
	}
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	partners, changed := 0, 0
	for first := true; ; first = false {
		var doc ledger.WhatIfDoc
		if err := page(client, rpc.EndpointWhatIf, req, &doc); err != nil {
			w.Flush()
			return scanError(e, err)
		}
		if first {
			// Every next page answers the same instant and knowledge.
			req.At, req.KnownSeq = doc.At.Format(time.RFC3339Nano), doc.KnownSeq
			whatIfHeader(w, doc, cf.json)
		}
		for _, c := range doc.Changes {
			whatIfChange(w, c, cf.json, changed == 0)
			changed++
		}
		partners += doc.Partners
		w.Flush()
		if doc.NextPartner == nil {
			break
		}
		req.AfterPartner = *doc.NextPartner
	}
	if cf.json {
		fmt.Fprintf(w, `],"partners":%d,"changed":%d}`+"\n", partners, changed)
		return exitOK
	}
	if changed == 0 {
		fmt.Fprintln(w, "  (no partner changes)")
	}
	fmt.Fprintf(w, "\npartners examined %d, changed %d\n", partners, changed)
	return exitOK
}

// whatIfHeader starts the output: the document's opening (JSON), or the
// title and column heads (people).
func whatIfHeader(w io.Writer, d ledger.WhatIfDoc, asJSON bool) {
	if asJSON {
		head, _ := json.Marshal(map[string]any{"at": d.At, "known_seq": d.KnownSeq, "policy": d.Policy, "policy_digest": d.PolicyDigest,
			"whatif_policy": d.WhatIfPolicy, "whatif_policy_digest": d.WhatIfPolicyDigest})
		fmt.Fprintf(w, `%s,"changes":[`, strings.TrimSuffix(string(head), "}"))
		return
	}
	fmt.Fprintf(w, "what-if at %s, as known at sequence %d: live policy %s (%s) vs %s (%s)\n\n",
		d.At.Format(time.RFC3339), d.KnownSeq, d.Policy, d.PolicyDigest, d.WhatIfPolicy, d.WhatIfPolicyDigest)
	fmt.Fprintf(w, "%-16s %-8s %-40s %-40s %s\n", "PARTNER", "TIER", "GAINED", "LOST", "ACTIVATIONS / HISTORY")
}

// whatIfChange prints one partner's change: a JSON array element, or a
// table row (fixed columns, so pages line up without buffering them).
func whatIfChange(w io.Writer, c ledger.WhatIfChange, asJSON, first bool) {
	if asJSON {
		b, _ := json.Marshal(c)
		if !first {
			w.Write([]byte(","))
		}
		w.Write(b)
		return
	}
	var notes []string
	for _, a := range c.Activations {
		notes = append(notes, fmt.Sprintf("#%d %s %s→%s", a.Seq, a.BenefitID, a.From, a.To))
	}
	if c.History != nil {
		notes = append(notes, fmt.Sprintf("history first differs %s (%d→%d)", day(c.History.FirstDifference), c.History.From, c.History.To))
	}
	tier := fmt.Sprintf("%d→%d", c.Tier.From, c.Tier.To)
	if c.Tier.From == c.Tier.To {
		tier = fmt.Sprintf("%d", c.Tier.From)
	}
	fmt.Fprintf(w, "%-16s %-8s %-40s %-40s %s\n", c.PartnerID, tier, list(c.Entitled.Gained), list(c.Entitled.Lost), list(notes))
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// runExport writes every partner's tier at an instant, or every held-tier
// change, as CSV or NDJSON, one page of partners at a time.
func runExport(e *env, args []string) int {
	if len(args) > 0 && isHelp(args[0]) {
		return subcommandHelp("export", ledger.ExportTiers, ledger.ExportHistory)
	}
	if len(args) == 0 || (args[0] != ledger.ExportTiers && args[0] != ledger.ExportHistory) {
		return fail(e, exitError, usageError{"export takes tiers or history: ledger export tiers|history [--at T] [--known-seq N] [--format csv|ndjson]"})
	}
	kind := args[0]
	fs := flag.NewFlagSet("export "+kind, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	var at string
	if kind == ledger.ExportTiers {
		fs.StringVar(&at, "at", "", "instant to export, RFC 3339 or YYYY-MM-DD (default now)")
	}
	known := fs.Uint64("known-seq", 0, "export as the ledger knew things at this sequence (default: everything)")
	format := fs.String("format", "csv", "csv or ndjson (column order: README)")
	limit := fs.Int("limit", ledger.MaxScanPage, fmt.Sprintf("partners per page (at most %d)", ledger.MaxScanPage))
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) != 0 {
		return fail(e, exitError, usageError{"export " + kind + " takes no further arguments"})
	}
	if cf.json {
		*format = "ndjson"
	}
	if *format != "csv" && *format != "ndjson" {
		return fail(e, exitError, usageError{fmt.Sprintf("--format %q: want csv or ndjson", *format)})
	}
	req := ledger.ExportRequest{Kind: kind, KnownSeq: *known, Limit: *limit}
	if req.At, err = scanInstant("--at", at); err != nil {
		return fail(e, exitError, err)
	}
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	cw := csv.NewWriter(w)
	if *format == "csv" {
		cols := ledger.TierColumns
		if kind == ledger.ExportHistory {
			cols = ledger.HistoryColumns
		}
		cw.Write(cols)
	}
	for first := true; ; first = false {
		var doc ledger.ExportDoc
		if err := page(client, rpc.EndpointExport, req, &doc); err != nil {
			cw.Flush()
			w.Flush()
			return scanError(e, err)
		}
		if first {
			req.At, req.KnownSeq = doc.At.Format(time.RFC3339Nano), doc.KnownSeq
		}
		for _, row := range doc.Rows {
			if *format == "ndjson" {
				w.Write(row)
				w.WriteByte('\n')
				continue
			}
			fields, err := csvFields(kind, row)
			if err != nil {
				return fail(e, exitError, err)
			}
			cw.Write(fields)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fail(e, exitError, err)
		}
		if doc.NextPartner == nil {
			return exitOK
		}
		req.AfterPartner = *doc.NextPartner
	}
}

func csvFields(kind string, row json.RawMessage) ([]string, error) {
	if kind == ledger.ExportTiers {
		var r ledger.TierRow
		err := json.Unmarshal(row, &r)
		return r.CSV(), err
	}
	var r ledger.HistoryRow
	err := json.Unmarshal(row, &r)
	return r.CSV(), err
}
