package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// salesID is the envelope id writeSales gives line n (from 1).
func salesID(partners, n int) string {
	if n <= partners {
		return fmt.Sprintf("pub-%d", n-1)
	}
	return fmt.Sprintf("sale-%d", n-1-partners)
}

// waitFor polls cond until it holds; false when limit passed first.
func waitFor(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// waitDone waits for a client to exit, within a generous limit.
func (c *clientProc) waitDone(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(limit):
		t.Fatalf("client did not finish in %v: at %d results; stderr:\n%s", limit, c.progress(), &c.stderr)
	}
	return c.cmd.ProcessState.ExitCode()
}

// signal sends sig to the client process.
func (c *clientProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// results parses submit --json lines.
func results(t *testing.T, raw []string) []ledger.LineResult {
	t.Helper()
	out := make([]ledger.LineResult, len(raw))
	for i, l := range raw {
		if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
			t.Fatalf("result %q: %v", l, err)
		}
	}
	return out
}

// checkRecordedInOrder checks, for writeSales input submitted to a fresh
// log: one accepted result per line, each line's own id, and line n at
// sequence n, while the stream holds exactly the input's lines. So every
// line was recorded exactly once, and no line before an earlier one.
func checkRecordedInOrder(t *testing.T, s *server, partners, lines int, seqOf map[string]uint64) {
	t.Helper()
	if len(seqOf) != lines {
		t.Errorf("%d ids answered for %d lines", len(seqOf), lines)
	}
	for n := 1; n <= lines; n++ {
		id := salesID(partners, n)
		if seq := seqOf[id]; seq != uint64(n) {
			t.Fatalf("line %d (%s) answered at sequence %d, want %d: recorded out of order or twice", n, id, seq, n)
		}
	}
	var st ledger.StatsDoc
	out, code := s.cli(nil, "stats", "--json")
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("stats exited %d: %s", code, out)
	}
	if st.StreamLastSeq != uint64(lines) {
		t.Errorf("the stream holds %d events for %d lines: %s", st.StreamLastSeq, lines, out)
	}
}

// acceptedSeqs checks submit results are accepted, numbered from 1 in
// order, and records each line's id → sequence (offset: the input line of

// checkOneSubmit checks one submit's --json output of the whole input:
// one result per line, every line accepted, and the log holding them once,
// in input order.
func checkOneSubmit(t *testing.T, srv *server, out []string, partners, lines int) {
	t.Helper()
	rs := results(t, out)
	if len(rs) != lines {
		t.Fatalf("%d results for %d lines", len(rs), lines)
	}
	seqOf := map[string]uint64{}
	acceptedSeqs(t, rs, partners, 0, seqOf)
	checkRecordedInOrder(t, srv, partners, lines, seqOf)
}

// result 1, minus 1).
func acceptedSeqs(t *testing.T, rs []ledger.LineResult, partners, offset int, seqOf map[string]uint64) {
	t.Helper()
	for i, r := range rs {
		n := offset + i + 1
		if r.Line != i+1 || !r.OK || r.ID != salesID(partners, n) {
			t.Fatalf("result %d (input line %d): %+v", i+1, n, r)
		}
		if prev, seen := seqOf[r.ID]; seen && prev != r.Seq {
			t.Fatalf("%s answered at sequences %d and %d", r.ID, prev, r.Seq)
		}
		seqOf[r.ID] = r.Seq
	}
}

// TestSubmitOutageResendsInOrder stops `ledger serve` (SIGKILL) while a
// submit is under way — the client itself frozen (SIGSTOP) for the moment
// of the kill, so the kill surely lands mid-run — and brings it back once
// the client has noted that lines are not confirmed. The client must not
// send anything past the unsettled lines until they are settled: it exits
// 0, and every line is recorded exactly once, at the sequence of its line
// number (nothing out of order), compared with the input.
func TestSubmitOutageResendsInOrder(t *testing.T) {
	skipShort(t)
	const partners, sales = 100, 20_000
	lines := partners + sales
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	writeSales(t, input, partners, sales)
	port := freePort(t)
	srv := startServerAt(t, data, port)
	client := startClient(t, srv, "submit", "--json", input)
	if !client.waitProgress(1000, 60*time.Second) {
		t.Fatalf("no progress; stderr:\n%s", &client.stderr)
	}
	client.signal(t, syscall.SIGSTOP)
	at := client.progress()
	srv.kill()
	client.signal(t, syscall.SIGCONT)
	if at >= lines {
		t.Fatalf("the client was done (%d lines) before the kill", at)
	}
	if !waitFor(60*time.Second, func() bool { return strings.Contains(client.stderr.String(), "not confirmed") }) {
		t.Fatalf("client did not note the outage; stderr:\n%s", &client.stderr)
	}
	srv = startServerAt(t, data, port)
	if code := client.waitDone(t, 3*time.Minute); code != exitOK {
		t.Fatalf("submit exited %d; stderr:\n%s", code, &client.stderr)
	}
	t.Logf("killed at %d of %d lines; stderr:\n%s", at, lines, &client.stderr)
	checkOneSubmit(t, srv, client.lines, partners, lines)
}

// TestSubmitWaitsForLedgerAtStart starts a submit while no ledger listens
// (connection refused): it notes so on stderr and keeps trying within
// --retry-for; the ledger then starts, and the submit succeeds.
func TestSubmitWaitsForLedgerAtStart(t *testing.T) {
	const partners, sales = 10, 1500
	lines := partners + sales
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	writeSales(t, input, partners, sales)
	port := freePort(t)
	first := startServerAt(t, data, port) // writes the credentials
	first.stop()
	client := startClient(t, first, "submit", "--json", input)
	if !waitFor(60*time.Second, func() bool { return strings.Contains(client.stderr.String(), "retrying for up to") }) {
		t.Fatalf("submit did not note the missing ledger; stderr:\n%s", &client.stderr)
	}
	srv := startServerAt(t, data, port)
	if code := client.waitDone(t, 3*time.Minute); code != exitOK {
		t.Fatalf("submit exited %d; stderr:\n%s", code, &client.stderr)
	}
	t.Logf("stderr:\n%s", &client.stderr)
	checkOneSubmit(t, srv, client.lines, partners, lines)
}

// TestSubmitStopsWithResumeLine: the ledger goes away mid-submit and stays
// away past --retry-for. Submit stops with exit 2; its last --json line is
// {"stopped_at_line":N,"code":"unavailable",…} with N the line after the
// last result printed, and stderr names line N too. Resubmitting from line N
// to the restarted ledger then records the rest: every line once, in order.
func TestSubmitStopsWithResumeLine(t *testing.T) {
	const partners, sales = 100, 20_000
	lines := partners + sales
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	writeSales(t, input, partners, sales)
	port := freePort(t)
	srv := startServerAt(t, data, port)
	client := startClient(t, srv, "submit", "--json", "--retry-for", "2s", input)
	if !client.waitProgress(1000, 60*time.Second) {
		t.Fatalf("no progress; stderr:\n%s", &client.stderr)
	}
	client.signal(t, syscall.SIGSTOP)
	srv.kill()
	client.signal(t, syscall.SIGCONT)
	if code := client.waitDone(t, 3*time.Minute); code != exitError {
		t.Fatalf("submit exited %d, want %d; stderr:\n%s", code, exitError, &client.stderr)
	}
	out := client.lines
	if len(out) == 0 {
		t.Fatal("no output")
	}
	var stop struct {
		Line  *int   `json:"stopped_at_line"`
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out[len(out)-1]), &stop); err != nil || stop.Line == nil {
		t.Fatalf("last line %q is not the stop line (%v)", out[len(out)-1], err)
	}
	settled := results(t, out[:len(out)-1])
	n := *stop.Line
	if n != len(settled)+1 || n > lines || stop.Code != string(domain.CodeUnavailable) || stop.Error == "" {
		t.Fatalf("stop %s after %d results", out[len(out)-1], len(settled))
	}
	if want := fmt.Sprintf("submit stopped at line %d", n); !strings.Contains(client.stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, &client.stderr)
	}
	seqOf := map[string]uint64{}
	acceptedSeqs(t, settled, partners, 0, seqOf)

	// Resume from line N.
	srv = startServerAt(t, data, port)
	all, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	rest := strings.SplitAfter(string(all), "\n")[n-1:]
	tail := filepath.Join(t.TempDir(), "tail.ndjson")
	if err := os.WriteFile(tail, []byte(strings.Join(rest, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	resume := startClient(t, srv, "submit", "--json", tail)
	if code := resume.waitDone(t, 3*time.Minute); code != exitOK {
		t.Fatalf("resumed submit exited %d; stderr:\n%s", code, &resume.stderr)
	}
	acceptedSeqs(t, results(t, resume.lines), partners, n-1, seqOf)
	checkRecordedInOrder(t, srv, partners, lines, seqOf)
}

// TestSubmitLineOverMaxPayload: a line over the NATS max payload (8 MiB) in
// the middle of the input, and one over the ledger's line limit but under
// the payload, are answered line_too_long; every other line is decided, in
// order, and recorded.
func TestSubmitLineOverMaxPayload(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.ndjson")
	writeSales(t, src, 3, 6)
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var good []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		good = append(good, sc.Text())
	}
	f.Close()
	pad := func(n int) string {
		return `{"specversion":"1.0","id":"big","source":"test","type":"OfferPublished","time":"2024-09-01T00:00:00Z","data":{"pad":"` +
			strings.Repeat("x", n) + `"}}`
	}
	huge, long := pad(9<<20), pad(ledger.MaxLineBytes)
	input := append(append(append(append([]string{}, good[:4]...), huge), good[4:6]...), long)
	input = append(input, good[6:]...)
	tooLong := map[int]int{5: len(huge), 8: len(long)}
	s := startServer(t, t.TempDir())
	out, code := s.cli([]byte(strings.Join(input, "\n")+"\n"), "submit", "--json", "-")
	if code != exitRejected {
		t.Fatalf("submit exited %d, want %d: %s", code, exitRejected, clipText(out))
	}
	rs := results(t, strings.Split(strings.TrimSpace(out), "\n"))
	if len(rs) != len(input) {
		t.Fatalf("%d results for %d lines: %s", len(rs), len(input), clipText(out))
	}
	seq := uint64(0)
	for i, r := range rs {
		n := i + 1
		if size, ok := tooLong[n]; ok {
			if r.OK || r.Code != domain.CodeLineTooLong || r.Error != fmt.Sprintf("line is %d bytes, at most %d", size, ledger.MaxLineBytes) {
				t.Errorf("line %d: %+v, want line_too_long", n, r)
			}
			continue
		}
		seq++
		if r.Line != n || !r.OK || r.Seq != seq {
			t.Errorf("line %d: %+v, want recorded at %d", n, r, seq)
		}
	}
}

func clipText(s string) string { return s[:min(len(s), 2000)] }

// TestAdminClientNoticesRestart: `ledger verify` and `ledger rebuild`
// wait for one long answer. The ledger is frozen (SIGSTOP) while the call
// is surely under way (its temporary file exists and stays), then killed
// and started again — or left frozen, answering nothing: the answer can
// never come. The client must notice and exit 2 with code unavailable, long
// before its own 30-minute limit — here within the test's generous wait.
func TestAdminClientNoticesRestart(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name, cmd, marker string
		restart           bool
	}{
		{"verify restarted", "verify", "verify-*", true},
		{"rebuild restarted", "rebuild", "readmodels.db.next", true},
		{"verify frozen", "verify", "verify-*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			input := filepath.Join(t.TempDir(), "input.ndjson")
			writeSales(t, input, 100, 30_000)
			port := freePort(t)
			srv := startServerAt(t, data, port)
			if out, code := srv.cli(nil, "submit", input); code != exitOK {
				t.Fatalf("submit exited %d: %s", code, out)
			}
			marked := func(old map[string]bool) bool {
				m, _ := filepath.Glob(filepath.Join(data, tc.marker))
				for _, p := range m {
					if !old[p] {
						return true
					}
				}
				return false
			}
			for attempt := 1; attempt <= 20; attempt++ {
				stale := map[string]bool{}
				m, _ := filepath.Glob(filepath.Join(data, tc.marker))
				for _, p := range m {
					stale[p] = true
				}
				client := startClient(t, srv, tc.cmd, "--json")
				running := func() bool {
					select {
					case <-client.done:
						return false
					default:
						return true
					}
				}
				for running() && !marked(stale) {
					time.Sleep(time.Millisecond)
				}
				if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				if !marked(stale) {
					// The call ended before the freeze: try again.
					srv.cmd.Process.Signal(syscall.SIGCONT)
					client.waitDone(t, time.Minute)
					t.Logf("attempt %d: %s finished before the freeze", attempt, tc.cmd)
					continue
				}
				if tc.restart {
					srv.kill()
					startServerAt(t, data, port) // the ledger the client must notice; stopped at cleanup
				} else {
					defer srv.kill()
				}
				code := client.waitDone(t, 5*time.Minute)
				t.Logf("%s after the freeze: exit %d, stdout %q, stderr %q", tc.cmd, code, client.lines, &client.stderr)
				if code != exitError {
					t.Fatalf("%s exited %d, want %d", tc.cmd, code, exitError)
				}
				var body rpc.ErrorBody
				if len(client.lines) != 1 || json.Unmarshal([]byte(client.lines[0]), &body) != nil ||
					body.Code != domain.CodeUnavailable {
					t.Fatalf("%s --json printed %q, want one {\"code\":\"unavailable\",…}", tc.cmd, client.lines)
				}
				if !strings.Contains(client.stderr.String(), "unavailable") {
					t.Errorf("stderr does not name the code: %s", &client.stderr)
				}
				return
			}
			t.Fatalf("%s always finished before the freeze", tc.cmd)
		})
	}
}
