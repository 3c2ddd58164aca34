package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/scenario"
)

// binary is the ledger command built once for the end-to-end tests: they run
// it exactly as a user would, as separate processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ledger-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ledger")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ledger: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a `ledger serve` process.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	url   string
	data  string
	log   *bytes.Buffer
	ready chan struct{} // closed at the ready line
	gone  chan struct{} // closed when stdout ends: the process exited
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs `ledger serve` on a fresh port and waits for its ready line.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerAt(t, data, freePort(t), extra...)
}

// startServerAt runs `ledger serve` on a given port and waits for its ready
// line.
func startServerAt(t *testing.T, data string, port int, extra ...string) *server {
	t.Helper()
	s := launch(t, data, port, extra...)
	select {
	case <-s.ready:
	case <-s.gone:
		s.cmd.Wait()
		t.Fatalf("ledger serve exited before it was ready; log:\n%s", s.log)
	case <-time.After(60 * time.Second):
		s.kill()
		t.Fatalf("ledger serve did not print ready; log:\n%s", s.log)
	}
	return s
}

// launch starts `ledger serve` on a port without waiting for it: s.ready is
// closed at its ready line, s.gone when its output ends (it exited).
func launch(t *testing.T, data string, port int, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: data, url: fmt.Sprintf("nats://127.0.0.1:%d", port), log: &bytes.Buffer{},
		ready: make(chan struct{}), gone: make(chan struct{})}
	args := append([]string{"serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--http", ""}, extra...)
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stderr = s.log
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.gone)
		sc := bufio.NewScanner(stdout)
		announced := false
		for sc.Scan() {
			if !announced && strings.Contains(sc.Text(), "ready") {
				announced = true
				close(s.ready)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *server) kill() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.gone
	s.cmd.Wait()
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("ledger serve exited with %v; log:\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("ledger serve did not stop on SIGTERM; log:\n%s", s.log)
	}
}

// cli runs a client command against the server and returns stdout and the
// exit status.
func (s *server) cli(stdin []byte, args ...string) (string, int) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "LEDGER_NATS_URL="+s.url, "LEDGER_CREDS="+app.CredsFile(s.data, "admin"))
	cmd.Dir = s.t.TempDir()
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("ledger %v: %v", args, err)
	}
	if code == exitError {
		s.t.Logf("ledger %v: exit 2: %s", args, errb.String())
	}
	return out.String(), code
}

// cliLedger runs scenarios through the ledger command: submit --json, then
// tier/benefits --json, exactly as a user would.
type cliLedger struct{ s *server }

func (l cliLedger) Submit(lines [][]byte) ([]scenario.LineResult, error) {
	out, code := l.s.cli(append(bytes.Join(lines, []byte("\n")), '\n'), "submit", "--json", "-")
	if code == exitError {
		return nil, fmt.Errorf("submit failed (exit 2)")
	}
	var rs []scenario.LineResult
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r ledger.LineResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("submit --json line %q: %w", line, err)
		}
		if r.Line != len(rs)+1 {
			return nil, fmt.Errorf("submit --json: line %d out of order", r.Line)
		}
		rs = append(rs, scenario.LineResult{OK: r.OK, Seq: r.Seq, Duplicate: r.Duplicate, Code: string(r.Code)})
	}
	return rs, nil
}

func (l cliLedger) Query(kind, partner, at string, known uint64) ([]byte, error) {
	args := []string{kind, partner, "--at", at, "--json"}
	if known > 0 {
		args = append(args, "--known-seq", fmt.Sprint(known))
	}
	out, code := l.s.cli(nil, args...)
	if code != exitOK {
		return nil, fmt.Errorf("ledger %s exited %d: %s", strings.Join(args, " "), code, out)
	}
	return []byte(out), nil
}

// TestScenariosEndToEnd runs every acceptance scenario against a fresh
// `ledger serve` (embedded NATS JetStream, bbolt read models, the RPC),
// through the CLI.
func TestScenariosEndToEnd(t *testing.T) {
	scenario.RunEach(t, func(t *testing.T) scenario.Ledger {
		return cliLedger{startServer(t, t.TempDir())}
	})
}

// skipShort skips a slow failure test (kills, outages, large logs) in the
// fast lane, `go test -short`; CI runs everything.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow failure test: not in -short")
	}
}
