package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/internal/ledger"
)

// TestCLIAuditFollowsPages: `ledger audit` of a partner with 100,000 events
// (a document far over the 8 MiB message limit; before paging it timed
// out) prints every event once, one JSON page per line with --json and one
// table for people that says what each event was, recorded to the
// millisecond.
func TestCLIAuditFollowsPages(t *testing.T) {
	skipShort(t)
	s := startServer(t, t.TempDir())
	var in bytes.Buffer
	in.Write(cliOffer)
	const sales = 100_000
	for i := range sales {
		in.Write(envelope(fmt.Sprintf("sale-%d", i), "SaleBilled", "2024-02-01T00:00:00Z", map[string]any{"sale_id": fmt.Sprintf("S-%d", i),
			"offer_id": "O-1", "customer_id": "C-1", "amount_usd_cents": 125000 + i}))
	}
	if _, errb, code := s.as("admin", in.Bytes(), "submit"); code != 0 {
		t.Fatalf("submit: %s", errb)
	}
	out, errb, code := s.as("auditor", nil, "audit", "P-1", "--json")
	if code != 0 {
		t.Fatalf("audit --json: %d %s", code, errb)
	}
	pages := strings.Split(strings.TrimSpace(out), "\n")
	next := uint64(1)
	for i, p := range pages {
		var d ledger.AuditDoc
		if err := json.Unmarshal([]byte(p), &d); err != nil {
			t.Fatalf("page %d: %v", i+1, err)
		}
		for _, ev := range d.Events {
			if ev.Seq != next {
				t.Fatalf("page %d: seq %d, want %d", i+1, ev.Seq, next)
			}
			next++
		}
		if (d.NextSeq == nil) != (i == len(pages)-1) {
			t.Fatalf("page %d of %d: next_seq %v", i+1, len(pages), d.NextSeq)
		}
	}
	if next != sales+2 || len(pages) < 30 {
		t.Fatalf("%d events in %d pages, want %d", next-1, len(pages), sales+1)
	}
	out, _, code = s.as("auditor", nil, "audit", "P-1", "--type", "SaleBilled", "--limit", "10000")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != sales+1 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("audit table: exit %d, %d lines", code, len(lines))
	}
	if !strings.Contains(lines[1], "sale S-0 $1,250.00 on offer O-1") || !strings.Contains(lines[1], ".") {
		t.Errorf("audit row does not say what the event was: %q", lines[1])
	}
}
