package rpc_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go"
)

// TestSubmitModes: ledger.submit in binary mode records the envelope it
// denotes (a later structured copy is a duplicate of it), ce-* headers on a
// structured body are invalid_envelope (they used to be ignored), a batch
// answers one line per element, and an unknown Content-Type is refused.
func TestSubmitModes(t *testing.T) {
	l := startLedger(t)
	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), "admin")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	structured := string(offer("O-1", 0))
	binary := func() nats.Header {
		h := nats.Header{}
		for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "pub-O-1", "ce-source": "test/limits",
			"ce-type": "OfferPublished", "ce-time": "2024-09-01T00:00:00Z", "Content-Type": "application/json"} {
			h[k] = []string{v}
		}
		return h
	}
	data := `{"offer_id":"O-1","partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}`
	submit := func(h nats.Header, body string) []ledger.LineResult {
		t.Helper()
		reply, err := nc.RequestMsg(&nats.Msg{Subject: "ledger.submit", Header: h, Data: []byte(body)}, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := reply.Header.Get("Nats-Service-Error-Code"); code != "" {
			t.Fatalf("error reply %s: %s", code, reply.Data)
		}
		var rs []ledger.LineResult
		dec := json.NewDecoder(strings.NewReader(string(reply.Data)))
		for dec.More() {
			var r ledger.LineResult
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
		return rs
	}
	check := func(what string, got []ledger.LineResult, want ...ledger.LineResult) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", what, got, want)
		}
		for i := range want {
			g := got[i]
			g.Error = ""
			if g != want[i] {
				t.Errorf("%s line %d: %+v, want %+v", what, i+1, got[i], want[i])
			}
		}
	}

	check("binary", submit(binary(), data), ledger.LineResult{Line: 1, ID: "pub-O-1", OK: true, Seq: 1})
	check("structured copy", submit(nil, structured), ledger.LineResult{Line: 1, ID: "pub-O-1", OK: true, Seq: 1, Duplicate: true})
	check("ce headers on a structured body", submit(binary(), structured),
		ledger.LineResult{Line: 1, ID: "pub-O-1", Code: domain.CodeInvalidEnvelope})
	missing := binary()
	delete(missing, "ce-specversion")
	check("binary without specversion", submit(missing, data), ledger.LineResult{Line: 1, ID: "", Code: domain.CodeInvalidEnvelope})
	batch := nats.Header{"Content-Type": {"application/cloudevents-batch+json"}}
	check("batch", submit(batch, "["+string(offer("O-2", 0))+`, {"specversion":"1.0"}, `+structured+"]"),
		ledger.LineResult{Line: 1, ID: "pub-O-2", OK: true, Seq: 2},
		ledger.LineResult{Line: 2, Code: domain.CodeInvalidEnvelope},
		ledger.LineResult{Line: 3, ID: "pub-O-1", OK: true, Seq: 1, Duplicate: true})

	reply, err := nc.RequestMsg(&nats.Msg{Subject: "ledger.submit", Header: nats.Header{"Content-Type": {"text/csv"}}, Data: []byte(structured)}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "415" {
		t.Errorf("text/csv: %q %s, want 415 unsupported_content_type", code, reply.Data)
	}
	if got := recorded(t, l); got != 2 {
		t.Errorf("recorded %d events, want 2", got)
	}
}
