package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/internal/auth"
)

// TestCLIChainAndVerifyLog: an auditor writes down the head with `ledger
// chain`, the log grows, and `ledger verify --log --head` still finds that
// head at its sequence and the chain intact; a head that was never the
// log's is reported and exits 1; a malformed one is a usage error.
func TestCLIChainAndVerifyLog(t *testing.T) {
	s := startServer(t, t.TempDir())
	if out, errb, code := s.as("admin", append(append(cliOffer, cliEnrol...), cliSale...), "submit", "--json"); code != 0 {
		t.Fatalf("submit: %d %s %s", code, out, errb)
	}
	out, errb, code := s.as(string(auth.Auditor), nil, "chain", "--json")
	if code != 0 {
		t.Fatalf("chain: %d %s", code, errb)
	}
	var h headDoc
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Seq != 3 || h.Partners != 1 || len(h.Head) != 64 {
		t.Fatalf("chain --json: %q (%v)", out, err)
	}
	written := h.Head + "@3"
	more := envelope("cli-4", "SaleBilled", "2024-02-02T00:00:00Z", map[string]any{"sale_id": "S-2", "offer_id": "O-1",
		"customer_id": "C-1", "amount_usd_cents": 100})
	if _, errb, code := s.as("billing", more, "submit"); code != 0 {
		t.Fatalf("submit: %s", errb)
	}
	out, errb, code = s.as(string(auth.Auditor), nil, "verify", "--log", "--head", written, "--json")
	if code != 0 {
		t.Fatalf("verify --log: %d %s %s", code, out, errb)
	}
	var doc logCheckDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Intact || doc.Events != 4 || doc.Break != nil ||
		doc.HeadMatch == nil || !*doc.HeadMatch || doc.Unchained != 0 {
		t.Fatalf("verify --log --json: %s (%v)", out, err)
	}
	out, _, code = s.as(string(auth.Auditor), nil, "verify", "--log", "--head", strings.Repeat("ab", 32)+"@3")
	if code != 1 || !strings.Contains(out, "HEAD DIFFERS at sequence 3") {
		t.Errorf("verify --log with another head: exit %d, %q", code, out)
	}
	out, _, code = s.as(string(auth.Auditor), nil, "verify", "--log", "--head", h.Head+"@99")
	if code != 1 || !strings.Contains(out, "HEAD NOT FOUND") {
		t.Errorf("verify --log with a head past the end: exit %d, %q", code, out)
	}
	if _, errb, code := s.as(string(auth.Auditor), nil, "verify", "--log", "--head", "xyz"); code != 2 || !strings.Contains(errb, "HEX@SEQ") {
		t.Errorf("malformed head: exit %d, %q", code, errb)
	}
	out, _, code = s.as(string(auth.Auditor), nil, "verify", "--log")
	if code != 0 || !strings.Contains(out, "chain intact: 4 events up to sequence 4") {
		t.Errorf("verify --log: exit %d, %q", code, out)
	}
}
