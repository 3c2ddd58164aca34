package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// TestReadChunks splits inputs holding lines over the ledger's line limit
// (one over the NATS max payload among them) and checks: every non-blank
// line becomes one item, in order, with its own line number; a line over
// ledger.MaxLineBytes is answered line_too_long by submit itself and not
// sent; no request body is over the limit or holds more than chunkLines
// lines; and the lines sent are exactly the input's other lines.
func TestReadChunks(t *testing.T) {
	short := func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) }
	edge := strings.Repeat("e", ledger.MaxLineBytes)   // sent: at the limit
	over := strings.Repeat("o", ledger.MaxLineBytes+1) // answered line_too_long
	huge := strings.Repeat("h", 9<<20)                 // over the server's 8 MiB max payload
	many := make([]string, 2*chunkLines+5)
	for i := range many {
		many[i] = short(i)
	}
	tests := []struct {
		name    string
		input   string
		maxBody int
		tooLong map[int]int // line number → size
	}{
		{"huge line in the middle", short(1) + "\n" + huge + "\n" + short(3) + "\n", chunkBytes, map[int]int{2: len(huge)}},
		{"crlf, blank lines, no final newline", short(1) + "\r\n\r\n  \n" + over + "\r\n" + short(5), chunkBytes, map[int]int{4: len(over)}},
		{"at the limit is sent", edge + "\n" + over + "\n" + edge, chunkBytes, map[int]int{2: len(over)}},
		{"huge blank line skipped", short(1) + "\n" + strings.Repeat(" ", 2<<20) + "\n" + short(3) + "\n", chunkBytes, nil},
		{"small request limit", strings.Repeat(edge+"\n", 7) + huge + "\n" + strings.Repeat(edge+"\n", 3), 3*ledger.MaxLineBytes + 2, map[int]int{8: len(huge)}},
		{"line count", strings.Join(many, "\n") + "\n", chunkBytes, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []int    // numbers of the non-blank lines
			var sent []string // the lines that should be sent
			for i, l := range strings.Split(strings.TrimSuffix(tc.input, "\n"), "\n") {
				l = strings.TrimRight(l, "\r")
				if strings.TrimSpace(l) == "" {
					continue
				}
				want = append(want, i+1)
				if _, long := tc.tooLong[i+1]; !long {
					sent = append(sent, l)
				}
			}
			var got []int
			var gotSent []string
			raw := 0
			err := readChunks(strings.NewReader(tc.input), tc.maxBody, func(c chunk) error {
				raw += c.raw
				var lines [][]byte
				for _, it := range c.items {
					got = append(got, it.n)
					if size, long := tc.tooLong[it.n]; long {
						if it.local == nil || it.line != nil || it.local.Code != domain.CodeLineTooLong ||
							it.local.Error != fmt.Sprintf("line is %d bytes, at most %d", size, ledger.MaxLineBytes) {
							t.Errorf("line %d: want line_too_long (%d bytes) decided by submit, got %+v", it.n, size, it.local)
						}
						continue
					}
					if it.local != nil {
						t.Errorf("line %d answered by submit: %+v", it.n, it.local)
						continue
					}
					lines = append(lines, it.line)
					gotSent = append(gotSent, string(it.line))
				}
				if body := len(bytes.Join(lines, []byte("\n"))); body != c.body || body > tc.maxBody {
					t.Errorf("request body %d bytes (chunk says %d), limit %d", body, c.body, tc.maxBody)
				}
				if len(c.items) > chunkLines {
					t.Errorf("%d lines in one request", len(c.items))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("line numbers %v, want %v", clip(got), clip(want))
			}
			if len(gotSent) != len(sent) || strings.Join(gotSent, "\n") != strings.Join(sent, "\n") {
				t.Errorf("sent %d lines, want %d (or their bytes differ)", len(gotSent), len(sent))
			}
			if raw != len(tc.input) {
				t.Errorf("progress counted %d bytes of %d", raw, len(tc.input))
			}
		})
	}
}

func clip(ns []int) []int { return ns[:min(len(ns), 20)] }

// TestReadChunksStopsOnReadError: lines read before a read error are
// settled, and the stop names the line the error broke.
func TestReadChunksStopsOnReadError(t *testing.T) {
	r := &failingReader{data: []byte("{\"n\":1}\n{\"n\":2}\n{\"n\""), err: errors.New("disk gone")}
	var got []int
	err := readChunks(r, chunkBytes, func(c chunk) error {
		for _, it := range c.items {
			got = append(got, it.n)
		}
		return nil
	})
	var se *stopError
	if !errors.As(err, &se) || se.Line != 3 || se.Code != domain.CodeInputError {
		t.Fatalf("err %v, want a stop at line 3 with %s", err, domain.CodeInputError)
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Errorf("settled lines %v, want [1 2]", got)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestSettled: a chunk is settled up to its first line the ledger did not
// decide (unavailable, timeout); from there on everything is resent, also
// lines after it that were rejected (they may depend on it) or recorded
// (they come back as duplicates). log_damaged and requests refused as such
// stop at once; transport failures are resent.
func TestSettled(t *testing.T) {
	ok := ledger.LineResult{OK: true, Seq: 1}
	rej := ledger.LineResult{Code: domain.CodeUnknownSale, Error: "sale S-1 is not known"}
	unav := ledger.LineResult{Code: domain.CodeUnavailable, Error: "append failed"}
	tmo := ledger.LineResult{Code: domain.CodeTimeout, Error: "not confirmed"}
	dmg := ledger.LineResult{Code: domain.CodeLogDamaged, Error: "log damaged"}
	tests := []struct {
		name    string
		results []ledger.LineResult
		err     error
		n       int
		resend  bool
		code    domain.Code
	}{
		{"all decided", []ledger.LineResult{ok, rej, ok}, nil, 3, false, ""},
		{"unavailable in the middle", []ledger.LineResult{ok, rej, unav, rej, ok}, nil, 2, true, domain.CodeUnavailable},
		{"timeout first", []ledger.LineResult{tmo, ok}, nil, 0, true, domain.CodeTimeout},
		{"damaged", []ledger.LineResult{ok, dmg}, nil, 1, false, domain.CodeLogDamaged},
		{"link lost", nil, errLinkLost, 0, true, domain.CodeUnavailable},
		{"no responders", nil, fmt.Errorf("rpc: submit: %w", nats.ErrNoResponders), 0, true, domain.CodeUnavailable},
		{"deadline", nil, fmt.Errorf("rpc: submit: %w", nats.ErrTimeout), 0, true, domain.CodeTimeout},
		{"request timeout", nil, &domain.Error{Code: domain.CodeTimeout, Msg: "submission not confirmed"}, 0, true, domain.CodeTimeout},
		{"request too large", nil, &domain.Error{Code: domain.CodeRequestTooLarge, Msg: "too big"}, 0, false, domain.CodeRequestTooLarge},
		{"forbidden request", nil, &domain.Error{Code: domain.CodeForbidden, Msg: "may not"}, 0, false, domain.CodeForbidden},
		{"bad reply", nil, errors.New("rpc: bad submit reply"), 0, false, domain.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, resend, code, _ := settled(tc.results, tc.err)
			if n != tc.n || resend != tc.resend || code != tc.code {
				t.Errorf("settled = %d, resend %v, %q; want %d, %v, %q", n, resend, code, tc.n, tc.resend, tc.code)
			}
		})
	}
}

// TestBudget: --retry-for is spent by outages over the whole run, not per
// chunk, and time in requests answered in full is not counted.
func TestBudget(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	b := &budget{total: 10 * time.Second}
	steps := []struct {
		name string
		do   func()
		now  int
		left time.Duration
	}{
		{"fresh", func() {}, 0, 10 * time.Second},
		{"outage from 5s", func() { b.failed(at(5)) }, 8, 7 * time.Second},
		{"a second failure keeps the outage's start", func() { b.failed(at(8)) }, 9, 6 * time.Second},
		{"recovered at 9s", func() { b.recovered(at(9)) }, 100, 6 * time.Second},
		{"next outage spends the rest", func() { b.failed(at(200)) }, 206, 0},
		{"and beyond", func() {}, 207, -time.Second},
	}
	for _, s := range steps {
		s.do()
		if got := b.left(at(s.now)); got != s.left {
			t.Fatalf("%s: left %v at %ds, want %v", s.name, got, s.now, s.left)
		}
	}
}

// TestRequestBytes: a request fits the connected server's max_payload as
// well as the ledger's limit.
func TestRequestBytes(t *testing.T) {
	for _, tc := range []struct {
		maxPayload int64
		want       int
	}{
		{8 << 20, chunkBytes},
		{1 << 20, chunkBytes},
		{512 << 10, 512<<10 - payloadHeadroom},
	} {
		if got := requestBytes(tc.maxPayload); got != tc.want {
			t.Errorf("requestBytes(%d) = %d, want %d", tc.maxPayload, got, tc.want)
		}
	}
	if ledger.MaxLineBytes > requestBytes(1<<20) || chunkBytes > rpc.MaxRequestBytes {
		t.Errorf("a line of %d bytes must fit one request to a 1 MiB server (%d)", ledger.MaxLineBytes, requestBytes(1<<20))
	}
}
