package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/nats-io/nats.go/jetstream"
)

// headDoc is `ledger chain --json`: the head of the log at a sequence.
type headDoc struct {
	Seq      uint64 `json:"seq"`
	Partners int    `json:"partners"`
	Head     string `json:"head"`
}

// logCheckDoc is `ledger verify --log --json`.
type logCheckDoc struct {
	Events    uint64                 `json:"events"`
	Last      uint64                 `json:"last_seq"`
	Unchained uint64                 `json:"unchained"` // events recorded before the chain existed
	Intact    bool                   `json:"intact"`
	Break     *eventstore.ChainBreak `json:"break"`
	Head      *headDoc               `json:"head"`                 // the head at the end of the log
	Expected  *headDoc               `json:"expected,omitempty"`   // the head written down earlier (--head)
	Found     *headDoc               `json:"found,omitempty"`      // the head the log gives at the expected sequence
	HeadMatch *bool                  `json:"head_match,omitempty"` // whether the log still holds the expected head
}

// walkChain reads the stream from its first event with the credentials of
// the client (an auditor's suffice) and recomputes every partner's chain,
// up to seq (0: the log's last when the walk starts); at is called with the
// check after each event.
func walkChain(e *env, cf *clientFlags, seq uint64, at func(*eventstore.ChainCheck)) (*eventstore.ChainCheck, error) {
	nc, err := cf.dial(e)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	es, err := eventstore.Open(ctx, js, eventstore.ReadOnly())
	if err != nil {
		return nil, err
	}
	last, err := es.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	if seq == 0 || seq > last {
		if seq > last {
			return nil, fmt.Errorf("the log ends at sequence %d, before %d", last, seq)
		}
		seq = last
	}
	var c eventstore.ChainCheck
	prog := newProgress(e.stderr, "chain", "events", 0)
	err = es.Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			c.Add(r)
			if at != nil {
				at(&c)
			}
		}
		prog.set(int64(c.Last), int64(c.Last), int64(seq))
		return nil
	}, eventstore.UpTo(seq))
	prog.finish()
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// runChain prints the head of the log: the one value an auditor writes down
// or publishes elsewhere, to prove later that the log still holds it.
func runChain(e *env, args []string) int {
	fs := flag.NewFlagSet("chain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	seq := fs.Uint64("seq", 0, "the head at this sequence (default: the log's last)")
	if pos, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	} else if len(pos) > 0 {
		return fail(e, exitError, usageError{"chain takes flags only: [--seq S] [--json]"})
	}
	c, err := walkChain(e, &cf, *seq, nil)
	if err != nil {
		return fail(e, exitError, err)
	}
	n, head := c.Head()
	doc := headDoc{Seq: c.Last, Partners: n, Head: head}
	if cf.json {
		b, _ := json.Marshal(doc)
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "head at sequence %d over %d partners: %s\n", doc.Seq, doc.Partners, doc.Head)
	fmt.Fprintf(e.stdout, "write it down as %s@%d and check it later with 'ledger verify --log --head %s@%d'\n", doc.Head, doc.Seq, doc.Head, doc.Seq)
	return exitOK
}

// parseHead reads HEX@SEQ.
func parseHead(s string) (*headDoc, error) {
	hex, seqText, ok := strings.Cut(s, "@")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || seq == 0 || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return nil, usageError{fmt.Sprintf("--head %.80q: want HEX@SEQ, 64 lowercase hex digits and a sequence ≥ 1 (as 'ledger chain' prints)", s)}
	}
	return &headDoc{Seq: seq, Head: hex}, nil
}

// runVerifyLog recomputes every chain from the stream, names the first
// event that breaks it, and checks a head written down earlier.
func runVerifyLog(e *env, args []string) int {
	fs := flag.NewFlagSet("verify --log", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	fs.Bool("log", true, "verify the log's chain (instead of the read models)")
	headArg := fs.String("head", "", "also check that the log still holds this head, HEX@SEQ (from 'ledger chain')")
	if pos, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	} else if len(pos) > 0 {
		return fail(e, exitError, usageError{"verify --log takes flags only: [--head HEX@SEQ] [--json]"})
	}
	doc := logCheckDoc{}
	if *headArg != "" {
		h, err := parseHead(*headArg)
		if err != nil {
			return fail(e, exitError, err)
		}
		doc.Expected = h
	}
	c, err := walkChain(e, &cf, 0, func(c *eventstore.ChainCheck) {
		if doc.Expected != nil && c.Last == doc.Expected.Seq {
			n, head := c.Head()
			doc.Found = &headDoc{Seq: c.Last, Partners: n, Head: head}
		}
	})
	if err != nil {
		return fail(e, exitError, err)
	}
	n, head := c.Head()
	doc.Events, doc.Last, doc.Unchained, doc.Break = c.Events, c.Last, c.Unchained, c.Break
	doc.Head = &headDoc{Seq: c.Last, Partners: n, Head: head}
	doc.Intact = c.Break == nil
	if doc.Expected != nil {
		match := doc.Found != nil && doc.Found.Head == doc.Expected.Head
		doc.HeadMatch = &match
		doc.Intact = doc.Intact && match
	}
	if cf.json {
		b, _ := json.Marshal(doc)
		fmt.Fprintln(e.stdout, string(b))
	} else {
		printLogCheck(e, doc)
	}
	if !doc.Intact {
		return exitRejected
	}
	return exitOK
}

func printLogCheck(e *env, doc logCheckDoc) {
	if b := doc.Break; b != nil {
		fmt.Fprintf(e.stdout, "CHAIN BROKEN at sequence %d (partner %s, %s):\n  stored   %s\n  computed %s\n"+
			"the event, or one of the partner's events before it, is not what the ledger recorded\n",
			b.Seq, b.Partner, b.Subject, b.Stored, b.Want)
	} else {
		fmt.Fprintf(e.stdout, "chain intact: %d events up to sequence %d", doc.Events, doc.Last)
		if doc.Unchained > 0 {
			fmt.Fprintf(e.stdout, " (%d recorded before the chain existed)", doc.Unchained)
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "head at sequence %d over %d partners: %s\n", doc.Head.Seq, doc.Head.Partners, doc.Head.Head)
	switch {
	case doc.Expected == nil:
	case doc.Found == nil:
		fmt.Fprintf(e.stdout, "HEAD NOT FOUND: the log ends at sequence %d, before the expected head's %d\n", doc.Last, doc.Expected.Seq)
	case *doc.HeadMatch:
		fmt.Fprintf(e.stdout, "the log still holds head %s@%d\n", doc.Expected.Head, doc.Expected.Seq)
	default:
		fmt.Fprintf(e.stdout, "HEAD DIFFERS at sequence %d: expected %s, the log gives %s — the history up to it was rewritten\n",
			doc.Expected.Seq, doc.Expected.Head, doc.Found.Head)
	}
}
