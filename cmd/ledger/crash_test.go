package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/projections"
)

// writeSales writes an NDJSON file with offers for `partners` partners and
// `sales` sales spread over them.
func writeSales(t *testing.T, path string, partners, sales int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	day := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	for p := range partners {
		fmt.Fprintf(w, `{"specversion":"1.0","id":"pub-%d","source":"test","type":"OfferPublished","time":"%s","data":{"offer_id":"O-%d","partner_id":"P-%d","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}}`+"\n",
			p, day.Format(time.RFC3339), p, p)
	}
	for s := range sales {
		fmt.Fprintf(w, `{"specversion":"1.0","id":"sale-%d","source":"test","type":"SaleBilled","time":"%s","data":{"sale_id":"S-%d","offer_id":"O-%d","customer_id":"C-%d","amount_usd_cents":%d}}`+"\n",
			s, day.Add(time.Duration(s)*time.Second).Format(time.RFC3339), s, s%partners, s%97, 1000+s%5000)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestProjectorKilledMidFold kills `ledger serve` (SIGKILL) while it folds a
// large log into fresh read models, restarts it, and checks the read models
// then equal a clean rebuild of the log.
func TestProjectorKilledMidFold(t *testing.T) {
	skipShort(t)
	data := t.TempDir()
	input := filepath.Join(t.TempDir(), "sales.ndjson")
	const events = 100 + 60_000
	writeSales(t, input, 100, events-100)
	s := startServer(t, data)
	if out, code := s.cli(nil, "submit", input); code != exitOK {
		t.Fatalf("submit exited %d: %s", code, out)
	}
	s.stop()

	// Drop the read models: the next start folds the whole log again.
	models := filepath.Join(data, "readmodels.db")
	if err := os.Remove(models); err != nil {
		t.Fatal(err)
	}
	killed := false
	for delay := 150 * time.Millisecond; delay < 10*time.Second && !killed; delay += 150 * time.Millisecond {
		port := freePort(t)
		cmd := exec.Command(binary, "serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--http", "")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		cp := checkpointOf(t, models)
		t.Logf("killed after %v: read models at %d of %d", delay, cp, events)
		killed = cp > 0 && cp < events
		if cp == events {
			t.Fatal("the fold finished before any kill landed inside it; the test proves nothing")
		}
	}
	if !killed {
		t.Fatal("no kill landed in the middle of the fold")
	}
	s = startServer(t, data)
	out, code := s.cli(nil, "verify")
	if code != exitOK {
		t.Fatalf("verify after the crash exited %d:\n%s", code, out)
	}
	if !strings.Contains(out, fmt.Sprintf("at sequence %d", events)) {
		t.Errorf("verify: %s", out)
	}
	t.Log(strings.TrimSpace(out))
}

func checkpointOf(t *testing.T, path string) uint64 {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	s, err := projections.Open(path, projections.ReadOnly())
	if errors.Is(err, projections.ErrSchema) {
		return 0 // killed before the first transaction laid the file out
	}
	if err != nil {
		t.Fatalf("read models after a kill: %v", err)
	}
	defer s.Close()
	cp, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
