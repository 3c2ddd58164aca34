package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/internal/epoch"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// Requests stay under the server's default max payload (1 MiB), so submit
// works against any NATS server, and under one atomic batch of lines. No
// request is ever built over requestBytes: a line over the ledger's line
// limit is answered by submit itself (line_too_long, as the ledger would),
// so every line sent fits a request on its own.
const (
	chunkBytes   = 900 << 10
	chunkLines   = ledger.MaxLines
	requestLimit = 60 * time.Second
	// payloadHeadroom is kept under the server's max_payload for what NATS
	// adds to a request (subject, reply inbox, headers).
	payloadHeadroom = 64 << 10
)

// Resending lines the ledger has not settled. The budget is time, not a
// number of tries: a ledger restarting (recovering its store, folding the log
// into fresh read models) answers "no responders" until it is ready, which
// can take well over the few seconds a handful of quick tries would cover.
// It is one budget for the whole run (see budget).
const (
	defaultRetryFor = 2 * time.Minute
	retryWaitMin    = 100 * time.Millisecond
	retryWaitMax    = time.Second
	reconnectWait   = 250 * time.Millisecond
	// minTryTimeout bounds from below the deadline of a resend near the end
	// of the budget: a ledger that has just come back gets a moment to answer.
	minTryTimeout = time.Second
)

func runSubmit(e *env, args []string) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	retryFor := fs.Duration("retry-for", defaultRetryFor, "time, over the whole run, to keep connecting and resending lines the ledger has not settled (ledger down, restarting, lines answered unavailable); 0: send once")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) > 1 {
		return fail(e, exitError, usageError{"submit takes one FILE or -"})
	}
	in := e.stdin
	name := "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(e, exitError, err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	sum := summary{byCode: map[domain.Code]int{}}
	stopped := func(se *stopError) int {
		if cf.json {
			b, _ := json.Marshal(se)
			out.Write(append(b, '\n'))
		} else {
			sum.print(out)
		}
		out.Flush()
		fmt.Fprintf(e.stderr, "ledger: submit stopped at line %d: %s: %s\n", se.Line, se.Code, se.Msg)
		fmt.Fprintf(e.stderr, "ledger: every line before line %d is settled (recorded or rejected, its result printed); resume from line %d (resending lines that were recorded is safe: they are answered as duplicates)\n", se.Line, se.Line)
		return exitError
	}

	// Across a ledger restart the connection reconnects for as long as
	// submit is willing to resend, and a request in flight when it drops is
	// resent at once: its answer can no longer come.
	budget := &budget{total: *retryFor}
	// The link's epoch ends when the connection drops: nats.go keeps
	// waiting for the answers of requests in flight (the subscription is
	// restored on reconnect), but the server that was to answer is gone.
	link := epoch.New()
	nc, err := connectRetrying(e, &cf, budget, nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { link.Next() }))
	if se := (*stopError)(nil); errors.As(err, &se) {
		return stopped(se)
	}
	if err != nil {
		return fail(e, exitError, err)
	}
	defer nc.Close()
	snd := &sender{nc: nc, client: rpc.NewClient(nc), link: link, budget: budget, stderr: e.stderr}
	prog := newProgress(e.stderr, name, "lines", size(in))
	prog.enabled = prog.enabled && prog.total > 1<<20
	emit := func(r ledger.LineResult) {
		sum.add(r)
		if cf.json {
			b, _ := json.Marshal(r)
			out.Write(append(b, '\n'))
		} else if !r.OK {
			fmt.Fprintf(out, "line %d: %s: %s\n", r.Line, r.Code, r.Error)
		}
	}
	err = readChunks(in, requestBytes(nc.MaxPayload()), func(c chunk) error {
		err := snd.settle(c, emit)
		out.Flush() // what is settled is shown, also when a later chunk stops the run
		prog.add(int64(c.raw), int64(len(c.items)))
		return err
	})
	prog.finish()
	if se := (*stopError)(nil); errors.As(err, &se) {
		return stopped(se)
	}
	if err != nil {
		out.Flush()
		return fail(e, exitError, err)
	}
	if !cf.json {
		sum.print(out)
	}
	if sum.rejected > 0 {
		return exitRejected
	}
	return exitOK
}

// requestBytes is the largest request body submit builds: its own chunk
// size, under the ledger's limit and the connected server's max_payload.
func requestBytes(maxPayload int64) int {
	return int(min(int64(chunkBytes), int64(rpc.MaxRequestBytes), maxPayload-payloadHeadroom))
}

// stopError is why submit gave up, and where to resume: every line before
// Line is settled. With --json it is submit's last line,
// {"stopped_at_line":N,"code":"…","error":"…"}.
type stopError struct {
	Line int         `json:"stopped_at_line"`
	Code domain.Code `json:"code"`
	Msg  string      `json:"error"`
}

func (s *stopError) Error() string {
	return fmt.Sprintf("stopped at line %d: %s: %s", s.Line, s.Code, s.Msg)
}

// budget is --retry-for, for the whole run: the time submit may spend in
// outages, each from the start of the connection attempt or request that
// left lines unsettled to the end of the next request that settles every
// line it sent. Time spent on requests the ledger answers in full is not
// counted, however long the run.
type budget struct {
	total time.Duration
	spent time.Duration // in outages that ended
	since time.Time     // start of the current outage; zero outside one
}

// failed notes that an attempt begun at begin left lines unsettled.
func (b *budget) failed(begin time.Time) {
	if b.since.IsZero() {
		b.since = begin
	}
}

// recovered ends the current outage, if any.
func (b *budget) recovered(now time.Time) {
	if !b.since.IsZero() {
		b.spent += now.Sub(b.since)
		b.since = time.Time{}
	}
}

// left is what remains of the budget at now.
func (b *budget) left(now time.Time) time.Duration {
	l := b.total - b.spent
	if !b.since.IsZero() {
		l -= now.Sub(b.since)
	}
	return l
}

// inOutage: the last attempt left lines unsettled.
func (b *budget) inOutage() bool { return !b.since.IsZero() }

// connectRetrying connects to the ledger. A ledger not reachable yet (down,
// still starting: connection refused or timed out) is tried again, noted on
// stderr, until the budget is spent; that ends in a stopError at line 1.
// Other failures (credentials refused, TLS) are returned at once.
func connectRetrying(e *env, cf *clientFlags, b *budget, opts ...nats.Option) (*nats.Conn, error) {
	begin := time.Now()
	wait := retryWaitMin
	noted := false
	for {
		nc, err := cf.dial(e, opts...)
		if err == nil {
			b.recovered(time.Now())
			if noted {
				fmt.Fprintln(e.stderr, "ledger: connected")
			}
			return nc, nil
		}
		if !errors.Is(err, nats.ErrNoServers) && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		b.failed(begin)
		left := b.left(time.Now())
		if left <= 0 {
			return nil, &stopError{Line: 1, Code: domain.CodeUnavailable, Msg: fmt.Sprintf("%v (--retry-for %s spent)", err, b.total)}
		}
		if !noted {
			fmt.Fprintf(e.stderr, "ledger: %v; retrying for up to %s\n", err, left.Round(time.Millisecond))
			noted = true
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, retryWaitMax)
	}
}

// sender settles chunks: it resends lines the ledger has not settled. The
// ledger is idempotent, so a resent line that was in fact recorded is
// answered as a duplicate with its original sequence.
type sender struct {
	nc     *nats.Conn
	client *rpc.Client
	link   *epoch.Watch
	budget *budget
	stderr io.Writer
}

// errLinkLost: the connection dropped while a request was in flight.
var errLinkLost = errors.New("connection to the ledger lost")

// settle sends a chunk until every line of it is settled — recorded, or
// rejected with a decision code — and emits the results in order as they
// settle. Lines answered unavailable or timeout, or whose request failed in
// transport (connection lost, no responders, no answer), are not settled:
// they are resent, from the first unsettled line on (a later line's result
// may depend on it), while the budget lasts; nothing after the chunk is sent
// before. Giving up, or an answer no resend can change (log_damaged, a
// request refused as such), ends in a stopError naming the first unsettled
// line. Each resend is noted on stderr with the line numbers resent.
func (s *sender) settle(c chunk, emit func(ledger.LineResult)) error {
	items := c.items
	wait := retryWaitMin
	for try := 1; ; try++ {
		begin := time.Now()
		results, err := s.try(items)
		n, resend, code, reason := settled(results, err)
		if err != nil && resend && !errors.Is(err, errLinkLost) && !s.nc.IsConnected() {
			// No answer because there is no connection (the ledger is
			// down or restarting), not because the ledger was slow.
			code, reason = domain.CodeUnavailable, "no connection to the ledger: "+reason
		}
		for _, r := range results[:n] {
			emit(r)
		}
		items = items[n:]
		if len(items) == 0 {
			s.budget.recovered(time.Now())
			return nil
		}
		if !resend {
			return &stopError{Line: items[0].n, Code: code, Msg: reason}
		}
		s.budget.failed(begin)
		left := s.budget.left(time.Now())
		if left <= 0 {
			return &stopError{Line: items[0].n, Code: code, Msg: fmt.Sprintf("%s; not settled after %d tries: --retry-for %s spent", reason, try, s.budget.total)}
		}
		// A lost connection needs no pause: the resend waits in the
		// reconnect buffer. Otherwise (no responders while the ledger
		// starts, a timeout, lines answered unavailable) back off.
		pause := time.Duration(0)
		if !errors.Is(err, errLinkLost) {
			pause, wait = min(wait, left), min(2*wait, retryWaitMax)
		}
		fmt.Fprintf(s.stderr, "ledger: lines %d-%d not confirmed (%s: %s); resending (try %d, %s of --retry-for left)\n",
			items[0].n, items[len(items)-1].n, code, reason, try+1, left.Round(time.Millisecond))
		time.Sleep(pause)
	}
}

// settled reads a try's outcome: how many leading results are settled, and
// for the rest whether resending may settle them, with the code and reason.
func settled(results []ledger.LineResult, err error) (n int, resend bool, code domain.Code, reason string) {
	if err != nil {
		return 0, retryable(err), failureCode(err), err.Error()
	}
	for i, r := range results {
		switch {
		case r.OK:
		case r.Code == domain.CodeUnavailable || r.Code == domain.CodeTimeout || r.Code == domain.CodeBusy:
			return i, true, r.Code, r.Error
		case r.Code == domain.CodeLogDamaged:
			return i, false, r.Code, r.Error
		}
	}
	return len(results), false, "", ""
}

// failureCode is the code of a failed request: the ledger's, or unavailable
// (transport) or timeout.
func failureCode(err error) domain.Code {
	if c := domain.CodeOf(err); c != "" {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return domain.CodeTimeout
	}
	if retryable(err) {
		return domain.CodeUnavailable
	}
	return domain.CodeInternal
}

// try sends the lines of items that submit does not decide itself as one
// request, and returns one result per item, numbered as in the input. It
// fails with errLinkLost as soon as the connection drops. In an outage its
// deadline is what is left of the budget (at least minTryTimeout).
func (s *sender) try(items []item) ([]ledger.LineResult, error) {
	var lines [][]byte
	for _, it := range items {
		if it.local == nil {
			lines = append(lines, it.line)
		}
	}
	var answers []ledger.LineResult
	if len(lines) > 0 {
		timeout := requestLimit
		if s.budget.inOutage() {
			timeout = min(timeout, max(s.budget.left(time.Now()), minTryTimeout))
		}
		var err error
		if answers, err = s.request(lines, timeout); err != nil {
			return nil, err
		}
	}
	out := make([]ledger.LineResult, len(items))
	j := 0
	for i, it := range items {
		if it.local != nil {
			out[i] = *it.local
		} else {
			out[i] = answers[j]
			j++
		}
		out[i].Line = it.n
	}
	return out, nil
}

// request sends one submit request.
func (s *sender) request(lines [][]byte, timeout time.Duration) ([]ledger.LineResult, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	defer context.AfterFunc(s.link.Current(), func() { cancel(errLinkLost) })()
	ctx, stop := context.WithTimeout(ctx, timeout)
	defer stop()
	results, err := s.client.Submit(ctx, lines)
	if err != nil && errors.Is(context.Cause(ctx), errLinkLost) {
		return nil, errLinkLost
	}
	return results, err
}

// retryable: the request may not have been processed (or its answer was
// lost), or the ledger could not append its lines, or it was refused busy
// (nothing done); resubmitting is safe.
func retryable(err error) bool {
	code := domain.CodeOf(err)
	return code == domain.CodeTimeout || code == domain.CodeUnavailable || code == domain.CodeBusy ||
		errors.Is(err, errLinkLost) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// item is one non-blank input line: its number, and its bytes, or, for a
// line over ledger.MaxLineBytes, the result submit answers for it itself
// (line_too_long, the ledger's own answer; its bytes are never held whole).
type item struct {
	n     int
	line  []byte
	local *ledger.LineResult
}

// chunk is a run of items sent as one request: at most chunkLines items,
// and the lines sent joined by newlines at most the request limit.
type chunk struct {
	items []item
	sent  int // items with a line to send
	body  int // bytes of the request body
	raw   int // input bytes read, blank lines and terminators included (progress)
}

// readChunks splits the input into requests by line count and size, each at
// most maxBody bytes. Blank lines are skipped but counted, so results name
// the file's own line numbers. A read error settles the lines read before
// it and ends in a stopError at the line it broke.
func readChunks(r io.Reader, maxBody int, fn func(chunk) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var c chunk
	flush := func() error {
		if len(c.items) == 0 {
			return nil
		}
		err := fn(c)
		c = chunk{}
		return err
	}
	n := 0
	for {
		l, err := readLine(br, ledger.MaxLineBytes)
		if l.raw > 0 {
			n++
			c.raw += l.raw
		}
		if err != nil && err != io.EOF {
			// The line it broke is not sent: it may be cut short.
			if ferr := flush(); ferr != nil {
				return ferr
			}
			at := n + 1
			if l.raw > 0 {
				at = n
			}
			return &stopError{Line: at, Code: domain.CodeInputError, Msg: "reading the input: " + err.Error()}
		}
		if l.raw > 0 && !l.blank {
			it := item{n: n, line: l.line}
			if l.size > ledger.MaxLineBytes {
				it.line = nil
				it.local = &ledger.LineResult{Line: n, Code: domain.CodeLineTooLong,
					Error: fmt.Sprintf("line is %d bytes, at most %d", l.size, ledger.MaxLineBytes)}
			}
			grow := 0
			if it.local == nil {
				grow = len(it.line)
				if c.sent > 0 {
					grow++ // the newline before it
				}
			}
			if len(c.items) == chunkLines || (it.local == nil && c.sent > 0 && c.body+grow > maxBody) {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				if it.local == nil {
					grow = len(it.line)
				}
			}
			c.items = append(c.items, it)
			if it.local == nil {
				c.sent++
				c.body += grow
			}
		}
		if err == io.EOF {
			return flush()
		}
	}
}

// line is one input line as readLine read it.
type line struct {
	line  []byte // without trailing CR/LF; nil when the line is over keep bytes
	size  int    // bytes without the newline and a CR before it (over keep when line is nil)
	raw   int    // bytes read, terminator included
	blank bool   // only white space
}

// readLine reads one line, keeping its bytes only up to keep (plus its
// terminator): a longer line is measured and skipped, so one huge line
// costs no more memory than the reader's buffer.
func readLine(br *bufio.Reader, keep int) (line, error) {
	l := line{blank: true}
	long := false
	var last, prev byte // the line's last two bytes
	for {
		frag, err := br.ReadSlice('\n')
		l.raw += len(frag)
		if l.blank && len(bytes.TrimSpace(frag)) > 0 {
			l.blank = false
		}
		switch len(frag) {
		case 0:
		case 1:
			prev, last = last, frag[0]
		default:
			prev, last = frag[len(frag)-2], frag[len(frag)-1]
		}
		if !long {
			if len(l.line)+len(frag) <= keep+2 {
				l.line = append(l.line, frag...)
			} else {
				long, l.line = true, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		// The size the ledger would measure: without the newline and one
		// carriage return before it.
		l.size = l.raw
		if l.size > 0 && last == '\n' {
			l.size--
			if l.size > 0 && prev == '\r' {
				l.size--
			}
		}
		if !long {
			l.line = bytes.TrimRight(l.line, "\r\n")
		}
		return l, err
	}
}

// namedDuplicates bounds how many duplicates the human summary names: a
// resubmitted file is all duplicates, and the summary stays a summary
// (--json answers every line).
const namedDuplicates = 10

type summary struct {
	accepted, duplicates, rejected int
	byCode                         map[domain.Code]int
	dups                           []ledger.LineResult // the first namedDuplicates duplicates
}

func (s *summary) add(r ledger.LineResult) {
	switch {
	case !r.OK:
		s.rejected++
		s.byCode[r.Code]++
	case r.Duplicate:
		s.duplicates++
		if len(s.dups) < namedDuplicates {
			s.dups = append(s.dups, r)
		}
	default:
		s.accepted++
	}
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "accepted %d, duplicates %d, rejected %d\n", s.accepted, s.duplicates, s.rejected)
	if len(s.dups) > 0 {
		names := make([]string, len(s.dups))
		for i, r := range s.dups {
			names[i] = fmt.Sprintf("line %d (id %s, recorded before at sequence %d)", r.Line, r.ID, r.Seq)
		}
		more := ""
		if n := s.duplicates - len(s.dups); n > 0 {
			more = fmt.Sprintf(" and %d more (--json answers every line)", n)
		}
		fmt.Fprintf(w, "  duplicates, already recorded, not counted again: %s%s\n", strings.Join(names, ", "), more)
	}
	codes := make([]string, 0, len(s.byCode))
	for c := range s.byCode {
		codes = append(codes, string(c))
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  %-24s %d\n", c, s.byCode[domain.Code(c)])
	}
}

// size is the input's size when it is a regular file (for the progress bar).
func size(r io.Reader) int64 {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return 0
}
