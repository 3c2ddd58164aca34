package main

import (
	"bytes"
	"context"
	"crypto/rand"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
	bolt "go.etcd.io/bbolt"
)

// baseline is a stopped ledger's data directory and what it answered before
// anything was damaged. Tests damage copies of it.
type baseline struct {
	dir    string
	events int
	digest string // the read models' digest (verify)
	tier   string // tier P-1 --at baselineAt --json
}

const baselineAt = "2025-06-01T00:00:00Z"

// logSize is how large a baseline's log is.
type logSize struct{ partners, sales, blocks int }

var (
	smallLog = logSize{20, 4000, 1}   // read model damage: a few hundred bbolt pages
	largeLog = logSize{40, 24_000, 2} // stream damage: two JetStream message blocks
)

// baselines are built once per size for the whole test binary.
var baselines sync.Map // logSize → *builtBaseline

type builtBaseline struct {
	once sync.Once
	b    baseline
	err  string
}

func ledgerBaseline(t *testing.T, size logSize) baseline {
	t.Helper()
	v, _ := baselines.LoadOrStore(size, &builtBaseline{})
	bb := v.(*builtBaseline)
	bb.once.Do(func() {
		bb.err = "building the baseline failed: see the first test that needed it"
		dir, err := os.MkdirTemp(filepath.Dir(binary), "baseline-")
		if err != nil {
			bb.err = err.Error()
			return
		}
		input := filepath.Join(dir, "input.ndjson")
		data := filepath.Join(dir, "data")
		writeSales(t, input, size.partners, size.sales)
		s := startServer(t, data)
		if out, code := s.cli(nil, "submit", input); code != exitOK {
			bb.err = fmt.Sprintf("submit exited %d: %s", code, out)
			return
		}
		b := baseline{dir: data, events: size.partners + size.sales}
		waitFolded(t, s, b.events)
		b.digest = verifyDigest(t, s, b.events)
		b.tier = tierOf(t, s)
		s.stop()
		if blocks := blockFiles(t, data); len(blocks) < size.blocks {
			bb.err = fmt.Sprintf("the baseline log fills %d message block(s), want %d", len(blocks), size.blocks)
			return
		}
		bb.b, bb.err = b, ""
	})
	if bb.err != "" {
		t.Fatal(bb.err)
	}
	return bb.b
}

// dataCopy copies the baseline's data directory for one test to damage.
func dataCopy(t *testing.T, b baseline) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	err := filepath.WalkDir(b.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.dir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// verifyDigest runs `ledger verify --json`, expects equal read models at
// sequence events and returns their digest.
func verifyDigest(t *testing.T, s *server, events int) string {
	t.Helper()
	out, code := s.cli(nil, "verify", "--json")
	var r ledger.VerifyReport
	if code != exitOK || json.Unmarshal([]byte(out), &r) != nil || !r.Equal || r.Checkpoint != uint64(events) {
		t.Fatalf("verify exited %d (want equal read models at sequence %d): %s", code, events, out)
	}
	return r.LiveDigest
}

func tierOf(t *testing.T, s *server) string {
	t.Helper()
	out, code := s.cli(nil, "tier", "P-1", "--at", baselineAt, "--json")
	if code != exitOK {
		t.Fatalf("tier exited %d: %s", code, out)
	}
	return out
}

func statsOf(t *testing.T, s *server) ledger.StatsDoc {
	t.Helper()
	out, code := s.cli(nil, "stats", "--json")
	for try := 1; code == exitError && try < 3; try++ {
		// A client starved past the server's authentication timeout on a
		// loaded machine is disconnected: try again.
		time.Sleep(100 * time.Millisecond)
		out, code = s.cli(nil, "stats", "--json")
	}
	var st ledger.StatsDoc
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("stats exited %d: %s", code, out)
	}
	return st
}

// waitFolded waits until the read models hold n events.
func waitFolded(t *testing.T, s *server, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for st := statsOf(t, s); st.Checkpoint < uint64(n); st = statsOf(t, s) {
		if time.Now().After(deadline) {
			t.Fatalf("read models at %d of %d", st.Checkpoint, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serveLog is the log of a server that has exited.
func serveLog(s *server) string {
	if s.cmd.ProcessState == nil {
		panic("serveLog of a running server")
	}
	return s.log.String()
}

// sameAsBaseline checks a restarted ledger answers exactly as before the
// damage: read models equal to a rebuild, with the same digest, and the same
// documents.
func sameAsBaseline(t *testing.T, s *server, b baseline) {
	t.Helper()
	if st := statsOf(t, s); st.Events != uint64(b.events) || st.Checkpoint != uint64(b.events) || st.ProjectorError != "" {
		t.Errorf("stats after the rebuild: %+v (want %d events)", st, b.events)
	}
	if d := verifyDigest(t, s, b.events); d != b.digest {
		t.Errorf("digest after the rebuild %s, before the damage %s", d, b.digest)
	}
	if got := tierOf(t, s); got != b.tier {
		t.Errorf("tier after the rebuild:\n%s\nbefore the damage:\n%s", got, b.tier)
	}
}

// TestReadModelsRebuiltWhenDeleted: without its read model file, the ledger
// folds the whole log into a new one at start, and answers as before.
func TestReadModelsRebuiltWhenDeleted(t *testing.T) {
	b := ledgerBaseline(t, smallLog)
	data := dataCopy(t, b)
	if err := os.Remove(filepath.Join(data, "readmodels.db")); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, data)
	sameAsBaseline(t, s, b)
	s.stop()
	if !strings.Contains(serveLog(s), fmt.Sprintf("read models caught up with the log\" seq=%d", b.events)) {
		t.Errorf("serve did not say it folded the log:\n%s", serveLog(s))
	}
}

// boltInfo opens a read model file with bbolt itself, read-only, and
// returns its page size, the bytes its pages reach, and the root page of a
// bucket.
func boltInfo(t *testing.T, path, bucket string) (pageSize int, used int64, root uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return fmt.Errorf("no bucket %s", bucket)
		}
		used, root = tx.Size(), uint64(b.Root())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if root == 0 {
		t.Fatalf("bucket %s is inline", bucket)
	}
	return db.Info().PageSize, used, root
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestDamagedReadModelsRebuiltAtStart damages the read model file of a
// stopped ledger in several ways. Each must be detected at start — not
// crash `ledger serve` (bbolt faults on a truncated file and panics on a
// garbled page, at open), not be served — the file moved aside, and the read
// models rebuilt from the log to the very digest and answers they had.
func TestDamagedReadModelsRebuiltAtStart(t *testing.T) {
	b := ledgerBaseline(t, smallLog)
	damages := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"truncated to half its pages", func(t *testing.T, path string) {
			_, used, _ := boltInfo(t, path, "sales")
			if err := os.Truncate(path, used/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated to a few bytes", func(t *testing.T, path string) {
			if err := os.Truncate(path, 1000); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage throughout", func(t *testing.T, path string) {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			overwrite(t, path, 0, random(int(st.Size())))
		}},
		{"both meta pages garbled", func(t *testing.T, path string) {
			ps, _, _ := boltInfo(t, path, "sales")
			overwrite(t, path, 0, random(2*ps))
		}},
		{"a page in the middle garbled", func(t *testing.T, path string) {
			ps, _, root := boltInfo(t, path, "sales")
			overwrite(t, path, int64(root)*int64(ps), random(ps))
		}},
		{"a page in the middle zeroed", func(t *testing.T, path string) {
			ps, _, root := boltInfo(t, path, "envelopes")
			overwrite(t, path, int64(root)*int64(ps), make([]byte, ps))
		}},
		{"a page's element table garbled", func(t *testing.T, path string) {
			ps, _, root := boltInfo(t, path, "sales")
			overwrite(t, path, int64(root)*int64(ps)+16, random(64))
		}},
		{"a branch key garbled", func(t *testing.T, path string) {
			// The leaves stay in order, so reading the bucket through does
			// not notice; the walk bbolt makes at a writable open checks
			// the branch keys against their children, and panics.
			ps, _, root := boltInfo(t, path, "sales")
			page := make([]byte, ps)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.ReadAt(page, int64(root)*int64(ps))
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			const hdr, elem = 16, 16 // page header; branch element: pos, ksize uint32, pgid uint64
			if flags, count := binenc.LittleEndian.Uint16(page[8:]), binenc.LittleEndian.Uint16(page[10:]); flags != 0x01 || count < 2 {
				t.Fatalf("sales root page: flags %#x, %d elements; want a branch", flags, count)
			}
			pos := binenc.LittleEndian.Uint32(page[hdr+elem:])
			overwrite(t, path, int64(root)*int64(ps)+hdr+elem+int64(pos), []byte{0xFF})
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			data := dataCopy(t, b)
			models := filepath.Join(data, "readmodels.db")
			d.damage(t, models)
			s := startServerAt(t, data, freePort(t))
			sameAsBaseline(t, s, b)
			s.stop()
			if log := serveLog(s); !strings.Contains(log, "read models unusable; restoring or rebuilding them from the log") {
				t.Errorf("serve did not report the damaged read models:\n%s", log)
			}
			if aside, _ := filepath.Glob(models + ".broken-*"); len(aside) != 1 {
				t.Errorf("damaged file moved aside: %v", aside)
			}
		})
	}
}

// connect connects to a running ledger as an identity of its data directory.
func connect(t *testing.T, s *server, identity string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.url, nats.UserCredentials(app.CredsFile(s.data, identity)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitProjectorError polls stats until they show a projector error.
func waitProjectorError(t *testing.T, s *server) ledger.StatsDoc {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := statsOf(t, s)
		if st.ProjectorError != "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats show no projector error: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reportsDamage checks a ledger whose log is damaged says so everywhere and
// serves nothing from read models that stop before the damage: stats show
// the projector's error (and that the read models hold at most folded),
// queries answer log_damaged, a submission is refused with log_damaged and
// recorded nowhere, and verify fails.
func reportsDamage(t *testing.T, s *server, folded uint64, want string) {
	t.Helper()
	st := waitProjectorError(t, s)
	if !strings.Contains(st.ProjectorError, want) || st.Checkpoint > folded {
		t.Errorf("stats: %+v (want an error containing %q, read models at ≤ %d)", st, want, folded)
	}
	t.Logf("read models at %d, log at %d: %s", st.Checkpoint, st.StreamLastSeq, st.ProjectorError)
	client := rpc.NewClient(connect(t, s, "admin"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, endpoint := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointHistory} {
		doc, err := client.Query(ctx, endpoint, ledger.Query{PartnerID: "P-1"})
		if code := domain.CodeOf(err); code != domain.CodeLogDamaged {
			t.Errorf("%s answered %s (err %v), want code %s", endpoint, doc, err, domain.CodeLogDamaged)
		}
	}
	if doc, err := client.Query(ctx, rpc.EndpointAttention, ledger.Query{}); domain.CodeOf(err) != domain.CodeLogDamaged {
		t.Errorf("attention answered %s (err %v), want code %s", doc, err, domain.CodeLogDamaged)
	}
	line := `{"specversion":"1.0","id":"after-damage","source":"test","type":"SaleBilled","time":"2024-09-02T00:00:00Z","data":{"sale_id":"S-after","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}}`
	// Submit stops at the first line the damaged ledger refuses (exit 2),
	// naming it and the code in its stop line.
	out, code := s.cli([]byte(line+"\n"), "submit", "--json", "-")
	var r struct {
		Line int         `json:"stopped_at_line"`
		Code domain.Code `json:"code"`
	}
	if json.Unmarshal([]byte(out), &r); code != exitError || r.Line != 1 || r.Code != domain.CodeLogDamaged {
		t.Errorf("submit after the damage exited %d: %s (want code %s)", code, out, domain.CodeLogDamaged)
	}
	t.Logf("submit: %s", strings.TrimSpace(out))
	if after := statsOf(t, s); after.StreamLastSeq != st.StreamLastSeq {
		t.Errorf("the log moved from %d to %d after the damage", st.StreamLastSeq, after.StreamLastSeq)
	}
	out, errOut, code := s.as("admin", nil, "verify")
	if code != exitError || !strings.Contains(errOut, "event log is damaged") {
		t.Errorf("verify exited %d: %s%s", code, out, errOut)
	}
	t.Logf("verify: exit %d: %s", code, strings.TrimSpace(errOut))
}

// TestForeignEventSkipped publishes, with the ledger's own credentials (the
// only ones that may write the stream: what an attacker holding them, or a
// service reply routed into the stream, would store), records the ledger did
// not write into a running ledger's stream: a body that is no envelope, and
// a well-formed envelope without any of the ledger's headers (issue 12:
// "seq N: Ledger-Recorded header: parsing time"). Neither may stop the
// ledger: every fold skips them; the log and stats name their sequences;
// later submissions are recorded, queries answer, and verify finds the live
// read models equal to a rebuild that skipped the same records — and all of
// that again after a restart.
func TestForeignEventSkipped(t *testing.T) {
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "input.ndjson")
	const events = 10 + 300
	writeSales(t, input, 10, events-10)
	s := startServer(t, data)
	if out, code := s.cli(nil, "submit", input); code != exitOK {
		t.Fatalf("submit exited %d: %s", code, out)
	}
	nc := connect(t, s, "ledger")
	stray := `{"specversion":"1.0","id":"stray","source":"test","type":"SaleBilled","time":"2024-09-02T00:00:00Z","data":{"sale_id":"S-stray","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}}`
	for _, body := range []string{"this is not an envelope", stray} {
		if err := nc.Publish("ledger.events.P-1.SaleBilled", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// And one forged with every header the ledger writes, but for a partner
	// nobody enrolled: no decision of the ledger's, which the fold cannot take.
	forged := nats.NewMsg("ledger.events.P-NOBODY.SaleBilled")
	for k, v := range map[string]string{"Ledger-Schema": "1", "Ledger-Type": "SaleBilled", "Ledger-Partner": "P-NOBODY",
		"Ledger-Recorded": "2024-09-02T00:00:00Z"} {
		forged.Header.Set(k, v)
	}
	forged.Data = []byte(strings.Replace(stray, `"id":"stray"`, `"id":"forged"`, 1))
	if err := nc.PublishMsg(forged); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const foreign = 3
	waitFolded(t, s, events+foreign)

	// The ledger goes on: it records, answers, and verifies.
	sale := func(n int) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"after-%d","source":"test","type":"SaleBilled","time":"2024-09-03T00:00:00Z","data":{"sale_id":"S-after-%d","offer_id":"O-1","customer_id":"C-1","amount_usd_cents":100}}`, n, n)
	}
	goesOn := func(recorded, stored int, more ...string) {
		t.Helper()
		out, code := s.cli([]byte(strings.Join(more, "\n")+"\n"), "submit", "--json", "-")
		if code != exitOK {
			t.Fatalf("submit after the foreign records exited %d: %s", code, out)
		}
		waitFolded(t, s, stored)
		st := statsOf(t, s)
		if st.ProjectorError != "" || st.Events != uint64(recorded) || st.Checkpoint != uint64(stored) ||
			st.ForeignEvents != foreign || st.LastForeignSeq != events+foreign {
			t.Errorf("stats: %+v (want %d events, read models at %d, %d foreign records, the last at %d)",
				st, recorded, stored, foreign, events+foreign)
		}
		tierOf(t, s)
		verifyDigest(t, s, stored)
	}
	goesOn(events+3, events+foreign+3, sale(1), sale(2), sale(3))
	s.stop()
	log := serveLog(s)
	for seq := events + 1; seq <= events+foreign; seq++ {
		logged := slices.ContainsFunc(strings.Split(log, "\n"), func(l string) bool {
			return strings.Contains(l, "level=WARN") && strings.Contains(l, "did not write") && strings.Contains(l, fmt.Sprintf(" seq=%d ", seq))
		})
		if !logged {
			t.Errorf("serve did not log the foreign record at seq %d:\n%s", seq, log)
		}
	}
	if strings.Contains(log, "projector stopped") {
		t.Errorf("the projector stopped:\n%s", log)
	}

	// Restarted, it remembers what it skipped and goes on.
	s = startServer(t, data)
	goesOn(events+4, events+foreign+4, sale(4))
	s.stop()
}

// blockFiles lists a data directory's JetStream message blocks in order.
func blockFiles(t *testing.T, data string) []string {
	t.Helper()
	blocks, err := filepath.Glob(filepath.Join(data, "jetstream", "jetstream", "*", "streams", "LEDGER", "msgs", "*.blk"))
	if err != nil {
		t.Fatal(err)
	}
	num := func(p string) int {
		n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".blk"))
		return n
	}
	sort.Slice(blocks, func(i, j int) bool { return num(blocks[i]) < num(blocks[j]) })
	return blocks
}

// garbleMiddle overwrites bytes in the middle of a message block: a record
// whose checksum no longer matches.
func garbleMiddle(t *testing.T, block string) {
	t.Helper()
	st, err := os.Stat(block)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, block, st.Size()/2, bytes.Repeat([]byte{0xA5}, 64))
}

// garbleBody changes one byte inside the payload of the record nearest the
// middle of a message block, never its framing: a record whose checksum no
// longer matches but whose length and sequence still read. (Bytes overwritten
// blindly may land in a record's header, which JetStream notices when it
// loads the block; how a record's bytes fall depends on the headers' lengths,
// which vary from run to run.)
func garbleBody(t *testing.T, block string) {
	t.Helper()
	raw, err := os.ReadFile(block)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(`"customer_id":"`)
	at := bytes.Index(raw[len(raw)/2:], marker)
	if at < 0 {
		t.Fatalf("no sale in the second half of %s", block)
	}
	overwrite(t, block, int64(len(raw)/2+at+len(marker)), []byte("X"))
}

// dropIndex removes the stream's index, so that JetStream rebuilds its state
// from the blocks at start (as after a crash that lost it).
func dropIndex(t *testing.T, block string) {
	t.Helper()
	if err := os.Remove(filepath.Join(filepath.Dir(block), "index.db")); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStreamReported damages the JetStream store of a stopped ledger.
// JetStream repairs a damaged block at start by dropping its records from
// the bad one on, which leaves the log short of events: with intact read
// models the ledger would serve on, and with a lost tail even fold its next
// appends under sequences it has already folded, skipping them. The ledger
// must notice at start and report it instead.
func TestDamagedStreamReported(t *testing.T) {
	b := ledgerBaseline(t, largeLog)
	cases := []struct {
		name   string
		damage func(t *testing.T, data string, blocks []string)
		want   string
	}{
		{"events lost in the middle", func(t *testing.T, _ string, blocks []string) {
			garbleMiddle(t, blocks[0])
			dropIndex(t, blocks[0])
		}, "events lost"},
		{"tail lost", func(t *testing.T, _ string, blocks []string) {
			garbleMiddle(t, blocks[len(blocks)-1])
			dropIndex(t, blocks[0])
		}, "events were lost from the log"},
		{"first block deleted", func(t *testing.T, _ string, blocks []string) {
			if err := os.Remove(blocks[0]); err != nil {
				t.Fatal(err)
			}
			dropIndex(t, blocks[0])
		}, "events lost"},
		{"record garbled, read models folded again", func(t *testing.T, data string, blocks []string) {
			// JetStream trusts its index and skips the record when it is
			// read: the projector folding the log sees the gap.
			garbleBody(t, blocks[0])
			if err := os.Remove(filepath.Join(data, "readmodels.db")); err != nil {
				t.Fatal(err)
			}
		}, "sequence gap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := dataCopy(t, b)
			c.damage(t, data, blockFiles(t, data))
			s := startServer(t, data)
			reportsDamage(t, s, uint64(b.events), c.want)
			s.stop()
			if log := serveLog(s); !strings.Contains(log, "level=ERROR msg=\"projector stopped") {
				t.Errorf("serve did not log the damage:\n%s", log)
			}
		})
	}

	// A garbled record with the index intact and the read models past it:
	// JetStream reports every message present and the read models hold
	// them all, so the ledger serves on (correctly); the damage shows when
	// the log is read, which verify does in full.
	t.Run("record garbled behind the read models", func(t *testing.T) {
		data := dataCopy(t, b)
		garbleBody(t, blockFiles(t, data)[0])
		s := startServer(t, data)
		if st := statsOf(t, s); st.ProjectorError != "" || st.Checkpoint != uint64(b.events) {
			t.Errorf("stats: %+v", st)
		}
		out, errOut, code := s.as("admin", nil, "verify")
		if code != exitError || !strings.Contains(errOut, "sequence gap") {
			t.Errorf("verify exited %d: %s%s", code, out, errOut)
		}
		t.Logf("verify: exit %d: %s", code, strings.TrimSpace(errOut))
	})
}
