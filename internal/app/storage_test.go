package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
)

// salesBatch is n sale lines of offer O-1, numbered from offset.
func salesBatch(offset, n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		k := offset + i
		lines[i] = saleLine(fmt.Sprintf("S-%d", k), "O-1", 1000+int64(k), t0.Add(time.Duration(k)*time.Minute))
	}
	return lines
}

func streamLast(t *testing.T, l *Ledger) uint64 {
	t.Helper()
	last, err := l.EventStore().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func stagedBatches(t *testing.T, l *Ledger) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(storeDir(l.DataDir()), "jetstream", "*", "streams", "*", "batches", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// fillUntil submits 1,000-line batches until one is not wholly recorded and
// returns that one's lines, results and the stream's last sequence before it.
func fillUntil(t *testing.T, l *Ledger) (lines [][]byte, rs []ledger.LineResult, before uint64) {
	t.Helper()
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	for i := 0; ; i++ {
		if i > 50 {
			t.Fatal("the store never filled")
		}
		before = streamLast(t, l)
		lines = salesBatch(i*ledger.MaxLines, ledger.MaxLines)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rs, err := l.Writer().Submit(ctx, lines)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !r.OK {
				return lines, rs, before
			}
		}
	}
}

// TestSubmitStorageFull: a 1,000-line submission that does not fit under
// max_store is answered storage_full for every line, stores nothing,
// leaves no staging behind, and smaller writes still go; after a restart
// the limit is the configured one, not one sized from the free space.
func TestSubmitStorageFull(t *testing.T) {
	const maxStore = 2 << 20
	dir := t.TempDir()
	l := start(t, Config{DataDir: dir, MaxStore: maxStore, MinFreeDisk: -1})
	_, rs, before := fillUntil(t, l)
	for _, r := range rs {
		if r.OK || r.Code != domain.CodeStorageFull {
			t.Fatalf("line %d: %+v, want storage_full", r.Line, r)
		}
	}
	t.Logf("refused: %s", rs[0].Error)
	if after := streamLast(t, l); after != before {
		t.Fatalf("a refused submission stored %d events", after-before)
	}
	if dirs := stagedBatches(t, l); len(dirs) > 0 {
		t.Errorf("staging left behind: %v", dirs)
	}
	mustAccept(t, submit(t, l.Writer(), salesBatch(1<<20, 1)...))

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = start(t, Config{DataDir: dir, MaxStore: maxStore, MinFreeDisk: -1})
	if got := l.srv.NATS().JetStreamConfig().MaxStore; got != maxStore {
		t.Errorf("max_store after a restart = %d, want %d", got, maxStore)
	}
	mustAccept(t, submit(t, l.Writer(), salesBatch(1<<20+1, 1)...))
}

// TestPartialCommitAnsweredExactly turns the room check off, so that a
// 1,000-line batch runs past max_store while the server commits it: the
// server stores part of it and never answers. The writer reads back what
// was stored and answers exactly: the stored lines as recorded (not
// duplicates) with their sequences, the rest storage_full. Resubmitted,
// the stored lines are duplicates of those sequences.
func TestPartialCommitAnsweredExactly(t *testing.T) {
	l := start(t, Config{MaxStore: 2 << 20, MinFreeDisk: -1,
		StreamOpts: []eventstore.Option{eventstore.WithRoomCheck(nil)}})
	lines, rs, before := fillUntil(t, l)
	stored := streamLast(t, l) - before
	if stored == 0 || stored == uint64(len(lines)) {
		t.Fatalf("%d of %d stored: the server did not stop half-way", stored, len(lines))
	}
	t.Logf("%d of %d lines stored", stored, len(lines))
	for i, r := range rs {
		if uint64(i) < stored {
			if !r.OK || r.Duplicate || r.Seq != before+uint64(i)+1 {
				t.Fatalf("stored line %d: %+v, want recorded at %d, not a duplicate", r.Line, r, before+uint64(i)+1)
			}
			continue
		}
		if r.OK || r.Code != domain.CodeStorageFull {
			t.Fatalf("unstored line %d: %+v, want storage_full", r.Line, r)
		}
	}
	again := submit(t, l.Writer(), lines...)
	for i, r := range again {
		if uint64(i) < stored && (!r.OK || !r.Duplicate || r.Seq != rs[i].Seq) {
			t.Fatalf("resubmitted line %d: %+v, want duplicate of %d", r.Line, r, rs[i].Seq)
		}
		if uint64(i) >= stored && (r.OK || r.Code != domain.CodeStorageFull) {
			t.Fatalf("resubmitted unstored line %d: %+v, want storage_full", r.Line, r)
		}
	}
}

// cutProxy forwards one NATS client connection to a server and cuts it right
// after the client's first atomic-batch commit has reached the server,
// dropping the server's answer: an append whose outcome the client cannot
// know, though it was stored. Later connections pass untouched.
type cutProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool // the commit went through and the connection was cut
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		armed := !p.cut.Load()
		var dropAnswers atomic.Bool
		p.wg.Add(2)
		go func() { // server → client
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && !dropAnswers.Load() {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil || dropAnswers.Load() {
					return
				}
			}
		}()
		go func() { // client → server
			defer p.wg.Done()
			defer s.Close()
			var seen []byte
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				chunk := buf[:n]
				if armed && n > 0 {
					seen = append(seen, chunk...)
					if end, ok := commitEnd(seen); ok && end <= len(seen) {
						// Forward up to the end of the commit, then cut
						// both ways before the server can answer.
						dropAnswers.Store(true)
						s.Write(chunk[:n-(len(seen)-end)])
						p.cut.Store(true)
						c.Close()
						return
					}
				}
				if n > 0 {
					if _, werr := s.Write(chunk); werr != nil {
						return
					}
				}
				if err != nil {
					if err != io.EOF {
						return
					}
					return
				}
			}
		}()
	}
}

// commitEnd finds the first message carrying Nats-Batch-Commit in the
// client's protocol stream and returns the offset just past it.
func commitEnd(seen []byte) (int, bool) {
	i := bytes.Index(seen, []byte("Nats-Batch-Commit"))
	if i < 0 {
		return 0, false
	}
	hp := bytes.LastIndex(seen[:i], []byte("HPUB "))
	eol := bytes.Index(seen[hp:], []byte("\r\n"))
	if hp < 0 || eol < 0 {
		return 0, false
	}
	fields := strings.Fields(string(seen[hp : hp+eol]))
	total, err := strconv.Atoi(fields[len(fields)-1])
	if err != nil {
		return 0, false
	}
	return hp + eol + 2 + total + 2, true
}

// TestUnknownOutcomeNotDuplicate cuts the writer's connection after its
// commit reached the server and before the answer came back. The writer
// cannot know the outcome; it reads the stream back, finds its lines stored
// by that very append, and answers them as recorded: not duplicates (no
// earlier submission recorded them), at the sequences they were stored at.
func TestUnknownOutcomeNotDuplicate(t *testing.T) {
	a := start(t, Config{})
	u, err := url.Parse(a.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	b := start(t, Config{NATSURL: "nats://" + proxy.ln.Addr().String(),
		NATSOpts: []nats.Option{credsOf(a, "ledger"), nats.ReconnectWait(50 * time.Millisecond)}})
	before := streamLast(t, b)
	lines := append([][]byte{offerLine("P-1", "O-1")}, salesBatch(0, 9)...)
	rs := submit(t, b.Writer(), lines...)
	if !proxy.cut.Load() {
		t.Fatal("the connection was not cut at the commit")
	}
	for i, r := range rs {
		if !r.OK || r.Duplicate || r.Seq != before+uint64(i)+1 {
			t.Errorf("line %d: %+v, want recorded at %d, not a duplicate", r.Line, r, before+uint64(i)+1)
		}
	}
	if last := streamLast(t, b); last != before+uint64(len(lines)) {
		t.Errorf("stream ends at %d, want %d: stored %d times?", last, before+uint64(len(lines)), last-before)
	}
}
