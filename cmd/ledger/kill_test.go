package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// clientProc is a client command running in the background (`ledger submit`),
// its stdout collected line by line as it comes.
type clientProc struct {
	cmd    *exec.Cmd
	stderr lockedBuffer // may be read while the client runs
	done   chan struct{}

	mu    sync.Mutex
	lines []string
}

func startClient(t *testing.T, s *server, args ...string) *clientProc {
	t.Helper()
	c := &clientProc{cmd: exec.Command(binary, args...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "LEDGER_NATS_URL="+s.url, "LEDGER_CREDS="+app.CredsFile(s.data, "admin"))
	c.cmd.Dir = t.TempDir()
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
		c.cmd.Wait()
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// progress is how many result lines the client has printed.
func (c *clientProc) progress() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// waitProgress waits until the client has printed n results; false if it
// exited first or the time ran out.
func (c *clientProc) waitProgress(n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for c.progress() < n {
		select {
		case <-c.done:
			return c.progress() >= n
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// resent matches submit's note on stderr for a chunk it sends again.
var resent = regexp.MustCompile(`lines (\d+)-(\d+) not confirmed \(([^\n]*)\); resending`)

// TestSubmitRidesThroughServerKills submits a large input with `ledger
// submit --json` while `ledger serve` is killed (SIGKILL) again and again, at
// varied moments, once even while it is starting, and restarted each time on
// the same port and data directory. The client must ride through every
// crash by resending what was not confirmed, and afterwards: it exited 0
// with one accepted result per line, duplicates only for lines it resent,
// each answered with the original sequence; every line's envelope id is in
// the log exactly once, read back through `ledger audit`; the sequences are
// 1..lines without a gap; stats count every event once; and `ledger verify`
// finds the read models equal to a clean rebuild of the log.
func TestSubmitRidesThroughServerKills(t *testing.T) {
	skipShort(t)
	const (
		partners = 100
		sales    = 72_000 // enough that the last kill lands well before the end however fast ingest gets (at 36,000 the client once finished inside the pause before kill 8)
		kills    = 8      // while the client runs; one more lands during a restart
	)
	lines := partners + sales
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	writeSales(t, input, partners, sales)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("%d lines, %d partners, seed %d", lines, partners, seed)

	port := freePort(t)
	srv := startServerAt(t, data, port)
	logs := []*server{srv}
	begin := time.Now()
	client := startClient(t, srv, "submit", "--json", input)

	fatal := func(format string, args ...any) {
		t.Helper()
		for i, s := range logs {
			t.Logf("serve #%d log:\n%s", i+1, s.log)
		}
		t.Fatalf(format, args...)
	}
	killed, at := 0, 0
	for k := 1; k <= kills; k++ {
		// Spread the kills over the input, each after some progress since
		// the last and a random pause: mid-append, mid-fold, between
		// requests, just after a restart.
		target := max(lines*k/(kills+2), at+1)
		if !client.waitProgress(target, 45*time.Second) {
			fatal("client at %d of %d lines before kill %d (wanted %d)", client.progress(), lines, k, target)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		select {
		case <-client.done:
			fatal("the client finished before kill %d: the kills came too late to prove anything", k)
		default:
		}
		at = client.progress()
		srv.kill()
		killed++
		t.Logf("kill %d: client at line %d of %d", killed, at, lines)
		if k == kills/2 {
			// Restart, and kill it again before (or just as) it is ready.
			s := launch(t, data, port)
			logs = append(logs, s)
			time.Sleep(time.Duration(20+rng.IntN(300)) * time.Millisecond)
			ready := false
			select {
			case <-s.ready:
				ready = true
			default:
			}
			s.kill()
			killed++
			t.Logf("kill %d: during a restart (ready: %v)", killed, ready)
		}
		srv = startServerAt(t, data, port)
		logs = append(logs, srv)
	}
	select {
	case <-client.done:
	case <-time.After(90 * time.Second):
		fatal("client did not finish: at %d of %d lines; stderr:\n%s", client.progress(), lines, &client.stderr)
	}
	took := time.Since(begin)
	if code := client.cmd.ProcessState.ExitCode(); code != exitOK {
		var rejected []string
		for _, raw := range client.lines {
			if !strings.Contains(raw, `"ok":true`) && len(rejected) < 20 {
				rejected = append(rejected, raw)
			}
		}
		fatal("submit exited %d; rejected:\n%s\nstderr:\n%s", code, strings.Join(rejected, "\n"), &client.stderr)
	}

	// Which lines were sent more than once.
	resends := resent.FindAllStringSubmatch(client.stderr.String(), -1)
	wasResent := make([]bool, lines+1)
	for _, m := range resends {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		for i := a; i <= b && i <= lines; i++ {
			wasResent[i] = true
		}
	}
	reasons := map[string]int{}
	for _, m := range resends {
		reason := m[3]
		if i := strings.LastIndex(reason, ": "); i >= 0 {
			reason = reason[i+2:]
		}
		reasons[strings.TrimLeft(reason, "0123456789 ")]++
	}

	// One accepted result per line, in order.
	results := client.lines
	if len(results) != lines {
		fatal("submit printed %d results for %d lines", len(results), lines)
	}
	seqOf := make(map[string]uint64, lines)
	duplicates := 0
	for i, raw := range results {
		var r ledger.LineResult
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			fatal("result %q: %v", raw, err)
		}
		if r.Line != i+1 || !r.OK || r.Seq == 0 {
			fatal("result for line %d: %s", i+1, raw)
		}
		if r.Duplicate {
			duplicates++
			if !wasResent[r.Line] {
				t.Errorf("line %d answered as a duplicate but was sent once: %s", r.Line, raw)
			}
		}
		if _, seen := seqOf[r.ID]; seen {
			t.Errorf("id %s on two lines", r.ID)
		}
		seqOf[r.ID] = r.Seq
	}
	t.Logf("%d kills; client done in %v: %d lines, %d chunks resent %v, %d lines answered as duplicates",
		killed, took.Round(time.Millisecond), lines, len(resends), reasons, duplicates)

	// The log, read back per partner: every id exactly once, at the
	// sequence the client was told, and the sequences 1..lines.
	inLog := make(map[string]uint64, lines)
	seqs := make([]int, lines+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for p := range partners {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out, code := srv.cli(nil, "audit", fmt.Sprintf("P-%d", p), "--json")
			if code != exitOK {
				t.Errorf("audit P-%d exited %d: %s", p, code, out)
				return
			}
			var doc ledger.AuditDoc
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Errorf("audit P-%d: %v", p, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range doc.Events {
				var env struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(e.Envelope, &env); err != nil {
					t.Errorf("audit P-%d seq %d: %v", p, e.Seq, err)
					continue
				}
				if prev, dup := inLog[env.ID]; dup {
					t.Errorf("id %s recorded twice: sequences %d and %d", env.ID, prev, e.Seq)
				}
				inLog[env.ID] = e.Seq
				if e.Seq == 0 || e.Seq > uint64(lines) {
					t.Errorf("id %s at sequence %d, beyond the %d lines", env.ID, e.Seq, lines)
					continue
				}
				seqs[e.Seq]++
			}
		}()
	}
	wg.Wait()
	if len(inLog) != lines {
		t.Errorf("the log holds %d ids for %d lines", len(inLog), lines)
	}
	for id, seq := range seqOf {
		if got, ok := inLog[id]; !ok {
			t.Errorf("id %s (line answered seq %d) is not in the log", id, seq)
		} else if got != seq {
			t.Errorf("id %s: submit answered seq %d, the log has it at %d", id, seq, got)
		}
	}
	for seq := 1; seq <= lines; seq++ {
		if seqs[seq] != 1 {
			t.Errorf("sequence %d appears %d times in the partners' audits", seq, seqs[seq])
		}
	}

	var st ledger.StatsDoc
	out, code := srv.cli(nil, "stats", "--json")
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil {
		fatal("stats exited %d: %s", code, out)
	}
	if st.StreamLastSeq != uint64(lines) || st.ProjectorError != "" {
		t.Errorf("stats: %s", out)
	}
	// The read models may still be folding the last batch: verify compares
	// at their checkpoint, so wait for it to reach the end first.
	for deadline := time.Now().Add(20 * time.Second); st.Checkpoint < uint64(lines) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		out, _ = srv.cli(nil, "stats", "--json")
		json.Unmarshal([]byte(out), &st)
	}
	if st.Events != uint64(lines) || st.Checkpoint != uint64(lines) {
		t.Errorf("stats after the kills: %s (want %d events)", out, lines)
	}
	out, code = srv.cli(nil, "verify")
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("at sequence %d", lines)) {
		t.Errorf("verify exited %d:\n%s", code, out)
	}
	t.Log(strings.TrimSpace(out))
	if t.Failed() {
		fatal("submit stderr:\n%s", &client.stderr)
	}
}
