package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// queryCmd describes a query command: its endpoint, whether it takes a
// partner, --at and --known-seq, and how to print its document for people.
type queryCmd struct {
	endpoint string
	partner  bool
	at       bool
	known    bool
	human    func(w io.Writer, doc []byte) error
	// Paged documents (pages.go): flags of their own, and the request of
	// the next page (false on the last).
	flags func(fs *flag.FlagSet) func(q *ledger.Query) error
	next  func(q *ledger.Query, doc []byte) (bool, error)
}

func runTier(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointTier, partner: true, at: true, known: true, human: printTier})
}
func runBenefits(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointBenefits, partner: true, at: true, known: true, human: printBenefits})
}
func runHistory(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointHistory, partner: true, at: false, known: true,
		human: func(w io.Writer, doc []byte) error { return printHistory(w, doc, time.Now()) }})
}
func runAudit(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointAudit, partner: true, human: newAuditPrinter(), flags: auditFlags, next: nextAuditPage})
}
func runAttention(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointAttention, at: true, known: true, human: newAttentionPrinter(),
		flags: attentionFlags, next: nextAttentionPage})
}
func runStats(e *env, args []string) int {
	return runQuery(e, args, queryCmd{endpoint: rpc.EndpointStats, partner: false, at: false, known: false, human: printStats})
}

func runQuery(e *env, args []string, qc queryCmd) int {
	fs := flag.NewFlagSet(qc.endpoint, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	var at, knownAt string
	var known uint64
	if qc.at {
		fs.StringVar(&at, "at", "", "instant to answer for, RFC 3339 or YYYY-MM-DD (default now)")
	}
	if qc.known {
		fs.Uint64Var(&known, "known-seq", 0, "answer as the ledger knew things at this sequence (default: everything)")
		fs.StringVar(&knownAt, "known-at", "", "answer as the ledger knew things at this instant of its recorded clock, RFC 3339 or YYYY-MM-DD")
	}
	var corrections int
	if qc.endpoint == rpc.EndpointHistory {
		fs.IntVar(&corrections, "corrections", ledger.DefaultHistoryCorrections, "how many of the latest corrections to analyse (-1: all)")
	}
	var pageFlags func(q *ledger.Query) error
	if qc.flags != nil {
		pageFlags = qc.flags(fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	var q ledger.Query
	if pageFlags != nil {
		if err := pageFlags(&q); err != nil {
			return fail(e, exitError, err)
		}
	}
	switch {
	case qc.partner && len(pos) != 1:
		return fail(e, exitError, usageError{fmt.Sprintf("%s takes one PARTNER", qc.endpoint)})
	case !qc.partner && len(pos) != 0:
		return fail(e, exitError, usageError{fmt.Sprintf("%s takes no arguments", qc.endpoint)})
	case qc.partner:
		q.PartnerID = pos[0]
	}
	for _, f := range []struct {
		flag, value string
		to          *string
	}{{"at", at, &q.At}, {"known-at", knownAt, &q.KnownAt}} {
		if f.value == "" {
			continue
		}
		t, err := ledger.ParseInstant(f.flag, f.value)
		if err != nil {
			return fail(e, exitError, usageError{fmt.Sprintf("--%s %q: want an RFC 3339 time such as 2024-05-10T00:00:00Z or a date such as 2024-05-10", f.flag, f.value)})
		}
		*f.to = t.Format(time.RFC3339Nano)
	}
	q.KnownSeq, q.Corrections = known, corrections
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	for {
		more, status := queryPage(e, client, qc, &cf, &q)
		if !more {
			return status
		}
	}
}

// queryPage asks for one document (one page of a paged one) and prints it;
// more says whether a next page follows, with q set to ask for it.
func queryPage(e *env, client *rpc.Client, qc queryCmd, cf *clientFlags, q *ledger.Query) (more bool, status int) {
	ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
	defer cancel()
	doc, err := client.Query(ctx, qc.endpoint, *q)
	if err != nil {
		if code := domain.CodeOf(err); code != "" && code != domain.CodeInternal && code != domain.CodeProjectionBehind && code != domain.CodeLogDamaged {
			if cf.json {
				b, _ := json.Marshal(rpc.ErrorBody{Code: code, Error: err.Error()})
				fmt.Fprintln(e.stdout, string(b))
			}
			return false, fail(e, exitRejected, fmt.Errorf("%s: %v", code, err))
		}
		return false, fail(e, exitError, err)
	}
	if cf.json {
		fmt.Fprintln(e.stdout, string(doc))
	} else if err := qc.human(e.stdout, doc); err != nil {
		return false, fail(e, exitError, err)
	}
	if qc.next == nil {
		return false, exitOK
	}
	more, err = qc.next(q, doc)
	if err != nil {
		return false, fail(e, exitError, err)
	}
	return more, exitOK
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
