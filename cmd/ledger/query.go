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
}

func runTier(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointTier, true, true, true, printTier})
}
func runBenefits(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointBenefits, true, true, true, printBenefits})
}
func runHistory(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointHistory, true, false, true, printHistory})
}
func runAudit(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointAudit, true, false, false, printAudit})
}
func runAttention(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointAttention, false, true, true, printAttention})
}
func runStats(e *env, args []string) int {
	return runQuery(e, args, queryCmd{rpc.EndpointStats, false, false, false, printStats})
}

func runQuery(e *env, args []string, qc queryCmd) int {
	fs := flag.NewFlagSet(qc.endpoint, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	var at string
	var known uint64
	if qc.at {
		fs.StringVar(&at, "at", "", "instant to answer for, RFC 3339 (default now)")
	}
	if qc.known {
		fs.Uint64Var(&known, "known-seq", 0, "answer as the ledger knew things at this sequence (default: everything)")
	}
	var corrections int
	if qc.endpoint == rpc.EndpointHistory {
		fs.IntVar(&corrections, "corrections", ledger.DefaultHistoryCorrections, "how many of the latest corrections to analyse (-1: all)")
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	var q ledger.Query
	switch {
	case qc.partner && len(pos) != 1:
		return fail(e, exitError, usageError{fmt.Sprintf("%s takes one PARTNER", qc.endpoint)})
	case !qc.partner && len(pos) != 0:
		return fail(e, exitError, usageError{fmt.Sprintf("%s takes no arguments", qc.endpoint)})
	case qc.partner:
		q.PartnerID = pos[0]
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return fail(e, exitError, usageError{fmt.Sprintf("--at %q: want an RFC 3339 time such as 2024-05-10T00:00:00Z", at)})
		}
		q.At = t.UTC().Format(time.RFC3339Nano)
	}
	q.KnownSeq, q.Corrections = known, corrections
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
	defer cancel()
	doc, err := client.Query(ctx, qc.endpoint, q)
	if err != nil {
		if code := domain.CodeOf(err); code != "" && code != rpc.CodeInternal && code != ledger.CodeProjectionBehind && code != ledger.CodeDamaged {
			if cf.json {
				b, _ := json.Marshal(rpc.ErrorBody{Code: code, Error: err.Error()})
				fmt.Fprintln(e.stdout, string(b))
			}
			return fail(e, exitRejected, fmt.Errorf("%s: %v", code, err))
		}
		return fail(e, exitError, err)
	}
	if cf.json {
		fmt.Fprintln(e.stdout, string(doc))
		return exitOK
	}
	if err := qc.human(e.stdout, doc); err != nil {
		return fail(e, exitError, err)
	}
	return exitOK
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
