package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares a document with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name string, doc any) {
	t.Helper()
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// TestDocumentsGolden pins the second edition's documents — a tier
// document as known at an instant, an audit page, an attention page, the
// chain's head — for a story recorded under a fixed clock, byte for byte.
func TestDocumentsGolden(t *testing.T) {
	clock := &testClock{t: time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)}
	l := start(t, Config{Clock: clock.now})
	st := story("P-1")
	for i, s := range st {
		clock.set(time.Date(2025, 1, 15, 12, i, 0, 0, time.UTC))
		mustAccept(t, submit(t, l.Writer(), s.line))
	}
	// Two partners with listings and no marketing contact: attention items.
	for _, p := range []string{"P-8", "P-9"} {
		mustAccept(t, submit(t, l.Writer(), line("pub-"+p, domain.TypeOfferPublished, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
			map[string]any{"offer_id": "L-" + p, "partner_id": p, "publisher_id": "PUB", "listing_type": "list", "storefront": "appsource"})))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := l.Queries()
	tier, err := q.Tier(ctx, ledger.Query{PartnerID: "P-1", At: "2024-05-15", KnownAt: "2025-01-15T12:08:30Z"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tier-known-at", tier)
	audit, err := q.Audit(ctx, ledger.Query{PartnerID: "P-1", FromSeq: 3, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range audit.Events {
		audit.Events[i].Stored = time.Time{} // JetStream's own clock
	}
	golden(t, "audit-page", audit)
	att, err := q.Attention(ctx, ledger.Query{At: "2024-03-01", Limit: 1, From: "P-8"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "attention-page", att)
	c := checkChain(t, l.EventStore())
	n, head := c.Head()
	golden(t, "chain-head", map[string]any{"seq": c.Last, "partners": n, "head": head})
}
