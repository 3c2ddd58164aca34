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
	submitTries  = 8
	requestLimit = 60 * time.Second
)

func runSubmit(e *env, args []string) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
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
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	sum := summary{byCode: map[domain.Code]int{}}
	prog := newProgress(e.stderr, name, "lines", size(in))
	prog.enabled = prog.enabled && prog.total > 1<<20
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	err = readChunks(in, func(c chunk) error {
		results, err := submitChunk(client, c.lines)
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

// submitChunk sends one request, retrying transport failures: the ledger is
// idempotent, so a retry of lines that were in fact recorded answers them as
// duplicates with their original sequences.
func submitChunk(client *rpc.Client, lines [][]byte) ([]ledger.LineResult, error) {
	var err error
	backoff := 200 * time.Millisecond
	for try := 1; try <= submitTries; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
		var results []ledger.LineResult
		results, err = client.Submit(ctx, lines)
		cancel()
		if err == nil {
			return results, nil
		}
		if !retryable(err) {
			return nil, err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil, fmt.Errorf("giving up after %d tries: %w", submitTries, err)
}

// retryable: the request may not have been processed (or its answer was
// lost); resubmitting is safe.
func retryable(err error) bool {
	code := domain.CodeOf(err)
	return code == rpc.CodeTimeout || code == ledger.CodeUnavailable ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
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
