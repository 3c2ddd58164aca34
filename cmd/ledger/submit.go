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
	"sync"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// Requests stay under the server's default max payload (1 MiB), so submit
// works against any NATS server, and under one atomic batch of lines.
const (
	chunkBytes   = 900 << 10
	chunkLines   = ledger.MaxLines
	requestLimit = 60 * time.Second
)

// Resending a chunk the ledger has not confirmed. The budget is time, not a
// number of tries: a ledger restarting (recovering its store, folding the log
// into fresh read models) answers "no responders" until it is ready, which
// can take well over the few seconds a handful of quick tries would cover.
const (
	defaultRetryFor = 2 * time.Minute
	retryWaitMin    = 100 * time.Millisecond
	retryWaitMax    = time.Second
	reconnectWait   = 250 * time.Millisecond
)

func runSubmit(e *env, args []string) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	retryFor := fs.Duration("retry-for", defaultRetryFor, "keep resending a batch the ledger has not confirmed (lost connection, ledger restarting) for this long; 0: send once")
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
	// Across a ledger restart the connection reconnects for as long as
	// submit is willing to resend, and a request in flight when it drops is
	// resent at once: its answer can no longer come.
	link := newLinkWatch()
	client, closeConn, err := cf.connect(e, nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait),
		nats.DisconnectErrHandler(link.disconnected))
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	snd := &sender{client: client, link: link, retryFor: *retryFor, stderr: e.stderr}
	sum := summary{byCode: map[domain.Code]int{}}
	prog := newProgress(e.stderr, name, "lines", size(in))
	prog.enabled = prog.enabled && prog.total > 1<<20
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	err = readChunks(in, func(c chunk) error {
		results, err := snd.send(c)
		if err != nil {
			return err
		}
		for i, r := range results {
			r.Line = c.numbers[i]
			sum.add(r)
			if cf.json {
				b, _ := json.Marshal(r)
				out.Write(append(b, '\n'))
			} else if !r.OK {
				fmt.Fprintf(out, "line %d: %s: %s\n", r.Line, r.Code, r.Error)
			}
		}
		prog.add(int64(c.bytes), int64(len(c.lines)))
		return nil
	})
	prog.finish()
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

// sender sends chunks, resending those the ledger has not confirmed: the
// ledger is idempotent, so a resent line that was in fact recorded is
// answered as a duplicate with its original sequence.
type sender struct {
	client   *rpc.Client
	link     *linkWatch
	retryFor time.Duration
	stderr   io.Writer
}

// errLinkLost: the connection dropped while a request was in flight.
var errLinkLost = errors.New("connection to the ledger lost")

// errUnavailableLines: the ledger answered, but could not append some lines.
var errUnavailableLines = errors.New("lines answered " + string(ledger.CodeUnavailable))

// send sends one chunk and returns its results, resending it on transport
// failures, and when the ledger answers lines "unavailable" (it could not
// append them: its JetStream restarting, a cluster electing a leader), until
// retryFor has passed since the first try. Each resend is reported on stderr
// with the chunk's line numbers.
func (s *sender) send(c chunk) ([]ledger.LineResult, error) {
	deadline := time.Now().Add(s.retryFor)
	wait := retryWaitMin
	for try := 1; ; try++ {
		results, err := s.try(c.lines)
		if err == nil {
			n := 0
			for _, r := range results {
				if r.Code == ledger.CodeUnavailable {
					n++
				}
			}
			if n == 0 || time.Now().After(deadline) {
				return results, nil
			}
			err = fmt.Errorf("%d %w", n, errUnavailableLines)
		}
		first, last := c.numbers[0], c.numbers[len(c.numbers)-1]
		if !retryable(err) {
			return nil, fmt.Errorf("lines %d-%d: %w", first, last, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lines %d-%d not confirmed after %d tries in %s: %w (resubmitting is safe: recorded lines are answered as duplicates)",
				first, last, try, s.retryFor, err)
		}
		// A lost connection needs no pause: the resend waits in the
		// reconnect buffer. Otherwise (no responders while the ledger
		// starts, a timeout) back off.
		pause := time.Duration(0)
		if !errors.Is(err, errLinkLost) {
			pause, wait = wait, min(2*wait, retryWaitMax)
		}
		fmt.Fprintf(s.stderr, "ledger: lines %d-%d not confirmed (%v); resending (try %d)\n", first, last, err, try+1)
		time.Sleep(pause)
	}
}

// try sends one request; it fails with errLinkLost as soon as the
// connection drops.
func (s *sender) try(lines [][]byte) ([]ledger.LineResult, error) {
	lost := s.link.current()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, requestLimit)
	defer stop()
	go func() {
		select {
		case <-lost:
			cancel(errLinkLost)
		case <-ctx.Done():
		}
	}()
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
	return code == rpc.CodeTimeout || code == ledger.CodeUnavailable || code == rpc.CodeBusy ||
		errors.Is(err, errLinkLost) || errors.Is(err, errUnavailableLines) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// linkWatch tells requests in flight that the connection dropped: nats.go
// keeps waiting for their answers (the subscription is restored on
// reconnect), but the server that was to answer is gone.
type linkWatch struct {
	mu   sync.Mutex
	lost chan struct{} // closed at the next disconnection
}

func newLinkWatch() *linkWatch { return &linkWatch{lost: make(chan struct{})} }

// current is closed when the connection next drops.
func (w *linkWatch) current() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lost
}

// disconnected is the connection's DisconnectErrHandler.
func (w *linkWatch) disconnected(*nats.Conn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.lost)
	w.lost = make(chan struct{})
}

// chunk is a run of non-blank input lines with their line numbers.
type chunk struct {
	lines   [][]byte
	numbers []int
	bytes   int
}

// readChunks splits the input into requests by line count and size. Blank
// lines are skipped but counted, so results name the file's own line numbers.
func readChunks(r io.Reader, fn func(chunk) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var c chunk
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			n++
			raw := len(line)
			line = bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(line)) > 0 {
				if len(c.lines) == chunkLines || (c.bytes+len(line) > chunkBytes && len(c.lines) > 0) {
					if ferr := fn(c); ferr != nil {
						return ferr
					}
					c = chunk{}
				}
				c.lines = append(c.lines, line)
				c.numbers = append(c.numbers, n)
			}
			c.bytes += raw
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if len(c.lines) > 0 {
		return fn(c)
	}
	return nil
}

type summary struct {
	accepted, duplicates, rejected int
	byCode                         map[domain.Code]int
}

func (s *summary) add(r ledger.LineResult) {
	switch {
	case !r.OK:
		s.rejected++
		s.byCode[r.Code]++
	case r.Duplicate:
		s.duplicates++
	default:
		s.accepted++
	}
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "accepted %d, duplicates %d, rejected %d\n", s.accepted, s.duplicates, s.rejected)
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
