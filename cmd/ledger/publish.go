package main

// The publisher's commands (CONTRACT.md "The intake", "Outcomes"):
// `ledger publish` queues events on the intake with PubAcks, `ledger
// outcomes` reads the role's outcomes, `ledger intake` shows the queue.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Limits of the publisher.
const (
	// publishMaxPending bounds the publishes awaiting their PubAck: enough
	// to keep the server's fsyncs full, few enough to stop quickly on a
	// full intake.
	publishMaxPending = 256
	// publishAckWait bounds the wait for one PubAck.
	publishAckWait = 30 * time.Second
	// publishMaxLine bounds an input line (above it the ledger refuses the
	// event anyway, line_too_long; the line is still published).
	publishMaxLine = 4 << 20
)

// roleOfCreds is the role of the credentials a client command uses, from
// the file's name (DATA/credentials/ROLE.creds), unless --role names it.
func roleOfCreds(e *env, cf *clientFlags, flagRole string) (auth.Role, error) {
	if flagRole != "" {
		return auth.ParseRole(flagRole)
	}
	creds := firstOf(cf.creds, e.getenv("LEDGER_CREDS"))
	if creds == "" {
		return auth.Admin, nil // the default credentials are the admin's
	}
	r, err := auth.ParseRole(strings.TrimSuffix(filepath.Base(creds), ".creds"))
	if err != nil {
		return "", usageError{fmt.Sprintf("cannot tell the role of credentials %s from its name: pass --role", creds)}
	}
	return r, nil
}

// publishSummary counts what a publish queued and, with --wait, decided.
type publishSummary struct {
	Published  int            `json:"published"`
	Duplicates int            `json:"duplicate_publishes"` // Nats-Msg-Id seen within the intake's window
	Failed     int            `json:"failed"`
	Accepted   int            `json:"accepted,omitempty"`
	Duplicate  int            `json:"duplicates,omitempty"`
	Rejected   int            `json:"rejected,omitempty"`
	ByCode     map[string]int `json:"codes,omitempty"`
}

func runPublish(e *env, args []string) int {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	mode := fs.String("mode", "structured", "CloudEvents mode of each message: structured (the line as the body) or binary (ce-* headers, data as the body)")
	wait := fs.Bool("wait", false, "wait for every event's outcome and summarise them (exit 1 when any was rejected)")
	token := fs.String("token", "cli", "the publisher's name: messages go to ledger.intake.TOKEN")
	role := fs.String("role", "", "the role of --creds, for --wait (default: the credentials file's name)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) > 1 {
		return fail(e, exitError, usageError{"publish takes one FILE or -"})
	}
	if *mode != "structured" && *mode != "binary" {
		return fail(e, exitError, usageError{"--mode is structured or binary"})
	}
	if *token == "" || strings.ContainsAny(*token, " \t*>") {
		return fail(e, exitError, usageError{"--token must be a subject token (no spaces, * or >); dots make several"})
	}
	r, err := roleOfCreds(e, &cf, *role)
	if err != nil {
		return fail(e, exitError, err)
	}
	in, name := e.stdin, "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(e, exitError, err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	nc, err := cf.dial(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishMaxPending))
	if err != nil {
		return fail(e, exitError, err)
	}
	start := time.Now()
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	sum := publishSummary{ByCode: map[string]int{}}
	prog := newProgress(e.stderr, name, "events", size(in))
	seqs := map[uint64]int{} // intake sequence → input line
	type pending struct {
		line int
		f    jetstream.PubAckFuture
	}
	var inflight []pending
	settle := func(all bool) {
		for len(inflight) > 0 && (all || len(inflight) >= publishMaxPending) {
			p := inflight[0]
			inflight = inflight[1:]
			select {
			case ack := <-p.f.Ok():
				sum.Published++
				if ack.Duplicate {
					sum.Duplicates++
				}
				seqs[ack.Sequence] = p.line
			case err := <-p.f.Err():
				sum.Failed++
				fmt.Fprintf(e.stderr, "ledger: line %d not queued: %v\n", p.line, err)
			case <-time.After(publishAckWait):
				sum.Failed++
				fmt.Fprintf(e.stderr, "ledger: line %d: no PubAck within %s\n", p.line, publishAckWait)
			}
		}
	}
	br := bufio.NewReaderSize(in, 1<<20)
	line := 0
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			raw = []byte(strings.TrimRight(string(raw), "\r\n"))
			if len(strings.TrimSpace(string(raw))) > 0 {
				if len(raw) > publishMaxLine {
					raw = raw[:publishMaxLine]
				}
				f, perr := js.PublishMsgAsync(eventMsg(auth.SubjectIntake+"."+*token, raw, *mode == "binary"))
				if perr != nil {
					sum.Failed++
					fmt.Fprintf(e.stderr, "ledger: line %d not queued: %v\n", line, perr)
				} else {
					inflight = append(inflight, pending{line, f})
				}
				settle(false)
				prog.add(int64(len(raw)+1), 1)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(e, exitError, err)
		}
	}
	settle(true)
	prog.finish()
	status := exitOK
	if *wait && len(seqs) > 0 {
		if err := waitOutcomes(e, js, r, start, seqs, &sum, cf.json, out); err != nil {
			return fail(e, exitError, err)
		}
		if sum.Rejected > 0 {
			status = exitRejected
		}
	}
	if cf.json {
		b, _ := json.Marshal(sum)
		out.Write(append(b, '\n'))
	} else {
		fmt.Fprintf(out, "published %d (duplicate publishes %d), failed %d\n", sum.Published, sum.Duplicates, sum.Failed)
		if *wait {
			fmt.Fprintf(out, "accepted %d, duplicates %d, rejected %d\n", sum.Accepted, sum.Duplicate, sum.Rejected)
			for c, n := range sum.ByCode {
				fmt.Fprintf(out, "  %-24s %d\n", c, n)
			}
		}
	}
	if sum.Failed > 0 {
		return exitError
	}
	return status
}

// eventMsg is one intake message of an input line: the line as the body
// (structured), or its binary form (structured when it has none). The
// event id, when it can be read, is the Nats-Msg-Id.
func eventMsg(subject string, raw []byte, binary bool) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = raw
	if binary {
		if h, data, ok := cloudevents.ToBinary(raw); ok {
			for k, v := range h {
				m.Header.Set(k, v)
			}
			m.Data = data
		}
	}
	var env struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &env) == nil && domain.ValidID(env.ID) {
		m.Header.Set(jetstream.MsgIDHeader, env.ID)
	}
	return m
}

// waitOutcomes reads the role's outcomes from since until every published
// sequence has one, printing them (--json: each outcome document, with the
// input line) and counting them.
func waitOutcomes(e *env, js jetstream.JetStream, r auth.Role, since time.Time, seqs map[uint64]int, sum *publishSummary, asJSON bool, out *bufio.Writer) error {
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{auth.OutcomesSubject(r)}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
	if err != nil {
		return fmt.Errorf("reading outcomes: %w", err)
	}
	left := len(seqs)
	fmt.Fprintf(e.stderr, "waiting for %d outcomes…\n", left)
	for left > 0 {
		m, err := c.Next(jetstream.FetchMaxWait(time.Minute))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			fmt.Fprintf(e.stderr, "still waiting for %d outcomes (is the ledger running?)\n", left)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading outcomes: %w", err)
		}
		var o intake.Outcome
		if json.Unmarshal(m.Data(), &o) != nil {
			continue
		}
		line, mine := seqs[o.IntakeSeq]
		if !mine {
			continue
		}
		delete(seqs, o.IntakeSeq)
		left--
		switch {
		case !o.OK:
			sum.Rejected++
			sum.ByCode[string(o.Code)]++
		case o.Duplicate:
			sum.Duplicate++
		default:
			sum.Accepted++
		}
		if asJSON {
			o.Line = line
			b, _ := json.Marshal(o)
			out.Write(append(b, '\n'))
		} else if !o.OK {
			fmt.Fprintf(out, "line %d: %s: %s\n", line, o.Code, o.Error)
		}
	}
	return nil
}

func runOutcomes(e *env, args []string) int {
	fs := flag.NewFlagSet("outcomes", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	rejected := fs.Bool("rejected", false, "only rejected events")
	follow := fs.Bool("follow", false, "keep printing new outcomes as they come")
	role := fs.String("role", "", "whose outcomes (default: the credentials' role; admin and auditor: everyone's)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) > 0 {
		return fail(e, exitError, usageError{"outcomes takes no arguments"})
	}
	own, err := roleOfCreds(e, &cf, "")
	if err != nil && *role == "" {
		return fail(e, exitError, err)
	}
	filter := auth.SubjectOutcomes + ".*"
	if *role != "" {
		r, err := auth.ParseRole(*role)
		if err != nil {
			return fail(e, exitError, usageError{err.Error()})
		}
		filter = auth.OutcomesSubject(r)
	} else if !own.Reads() {
		filter = auth.OutcomesSubject(own)
	}
	nc, err := cf.dial(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(e, exitError, err)
	}
	ctx := context.Background()
	c, err := js.OrderedConsumer(ctx, auth.OutcomesStreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		return fail(e, exitError, fmt.Errorf("reading outcomes: %w", err))
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if !cf.json {
		fmt.Fprintln(tw, "INTAKE\tLINE\tID\tOUTCOME\tSEQ\tSOURCE\tERROR")
	}
	for {
		wait := 2 * time.Second
		if *follow {
			wait = time.Minute
		}
		m, err := c.Next(jetstream.FetchMaxWait(wait))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, nats.ErrTimeout) {
			if *follow {
				continue
			}
			break
		}
		if err != nil {
			tw.Flush()
			return fail(e, exitError, fmt.Errorf("reading outcomes: %w", err))
		}
		var o intake.Outcome
		if json.Unmarshal(m.Data(), &o) != nil || (*rejected && o.OK) {
			continue
		}
		if cf.json {
			out.Write(append(m.Data(), '\n'))
		} else {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", o.IntakeSeq, o.Line, o.ID, outcomeWord(o.LineResult), seqText(o.Seq), o.Source, o.Error)
		}
		if *follow {
			tw.Flush()
			out.Flush()
		}
		if md, err := m.Metadata(); err == nil && md.NumPending == 0 && !*follow {
			break
		}
	}
	tw.Flush()
	return exitOK
}

func outcomeWord(r ledger.LineResult) string {
	switch {
	case !r.OK:
		return string(r.Code)
	case r.Duplicate:
		return "duplicate"
	}
	return "recorded"
}

func seqText(seq uint64) string {
	if seq == 0 {
		return "-"
	}
	return fmt.Sprint(seq)
}

func runIntake(e *env, args []string) int {
	fs := flag.NewFlagSet("intake", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) > 0 {
		return fail(e, exitError, usageError{"intake takes no arguments"})
	}
	c, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, err := c.Call(ctx, rpc.EndpointIntake, nil)
	if err != nil {
		return fail(e, exitError, err)
	}
	if cf.json {
		fmt.Fprintln(e.stdout, string(body))
		return exitOK
	}
	var doc app.IntakeDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return fail(e, exitError, err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "queued\t%d events (%d bytes)\n", doc.Queued, doc.Bytes)
	age := "-"
	if doc.OldestQueuedAge != nil {
		age = (time.Duration(*doc.OldestQueuedAge * float64(time.Second))).Round(time.Millisecond).String()
	}
	fmt.Fprintf(tw, "oldest queued\t%s\n", age)
	fmt.Fprintf(tw, "decided\t%.1f events/s (last minute, this ledger)\n", doc.DecidedPerSec)
	fmt.Fprintf(tw, "limits\t%d bytes, %d messages, %d bytes a message\n", doc.Settings.MaxBytes, doc.Settings.MaxMsgs, doc.Settings.MaxMsgSize)
	tw.Flush()
	return exitOK
}
