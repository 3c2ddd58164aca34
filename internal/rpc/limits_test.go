package rpc_test

// The limits of a submission, each with its own code, against real ledgers
// (embedded NATS with JetStream, started by app.Start): a line over
// ledger.MaxLineBytes, a request of more than ledger.MaxLines lines, a
// request over rpc.MaxRequestBytes (and over the NATS server's max payload),
// a request that outlives its deadline, and requests with no input lines.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

func startLedger(t *testing.T) *app.Ledger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := app.Start(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// adminClient connects to the ledger with the admin role's credentials.
func adminClient(t *testing.T, l *app.Ledger) *rpc.Client {
	t.Helper()
	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), "admin")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return rpc.NewClient(nc)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// offer is a valid OfferPublished line; pad spaces are added inside the
// object, so the line stays valid JSON of the same content.
func offer(id string, pad int) []byte {
	return fmt.Appendf(nil, `{"specversion":"1.0","id":"pub-%s","source":"test/limits","type":"OfferPublished",`+
		`"time":"2024-09-01T00:00:00Z",%s"data":{"offer_id":"%s","partner_id":"P-1","publisher_id":"PUB",`+
		`"listing_type":"transact","storefront":"appsource"}}`, id, strings.Repeat(" ", pad), id)
}

// padded is offer(id) padded to exactly n bytes.
func padded(id string, n int) []byte {
	return offer(id, n-len(offer(id, 0)))
}

// recorded is the stream's last sequence: what the ledger has recorded.
func recorded(t *testing.T, l *app.Ledger) uint64 {
	t.Helper()
	seq, err := l.EventStore().LastSeq(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func wantCode(t *testing.T, what string, err error, code domain.Code) {
	t.Helper()
	if got := domain.CodeOf(err); got != code {
		t.Fatalf("%s: got %v (code %q), want code %s", what, err, got, code)
	}
	t.Logf("%s: %s: %v", what, code, err)
}

// TestLineTooLong: a line over MaxLineBytes is refused with line_too_long;
// the other lines of the request are processed, one of exactly MaxLineBytes
// included.
func TestLineTooLong(t *testing.T) {
	l := startLedger(t)
	c := adminClient(t, l)
	lines := [][]byte{offer("O-1", 0), padded("O-2", ledger.MaxLineBytes+1), padded("O-3", ledger.MaxLineBytes), offer("O-4", 0)}
	rs, err := c.Submit(ctxT(t), lines)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		switch {
		case i == 1 && (r.OK || r.Code != domain.CodeLineTooLong || r.Line != 2):
			t.Errorf("line 2 (%d bytes): %+v, want %s", len(lines[1]), r, domain.CodeLineTooLong)
		case i != 1 && (!r.OK || r.Duplicate || r.Line != i+1):
			t.Errorf("line %d (%d bytes): %+v, want accepted", i+1, len(lines[i]), r)
		}
	}
	if got := recorded(t, l); got != 3 {
		t.Errorf("%d events recorded, want 3", got)
	}
	t.Logf("line 2: %s: %s", rs[1].Code, rs[1].Error)
}

// TestTooManyLines: a request of more than MaxLines lines is refused whole
// with too_many_lines, and nothing of it is recorded; MaxLines lines pass.
func TestTooManyLines(t *testing.T) {
	l := startLedger(t)
	c := adminClient(t, l)
	var lines [][]byte
	for i := range ledger.MaxLines + 1 {
		lines = append(lines, offer(fmt.Sprintf("O-%d", i), 0))
	}
	_, err := c.Submit(ctxT(t), lines)
	wantCode(t, fmt.Sprintf("%d lines", len(lines)), err, domain.CodeTooManyLines)
	if got := recorded(t, l); got != 0 {
		t.Fatalf("a refused request recorded %d events", got)
	}
	// Blank lines count: they keep the input's line numbers.
	blanks := append(make([][]byte, ledger.MaxLines), offer("O-x", 0))
	_, err = c.Submit(ctxT(t), blanks)
	wantCode(t, fmt.Sprintf("%d blank lines and a line", ledger.MaxLines), err, domain.CodeTooManyLines)

	rs, err := c.Submit(ctxT(t), lines[:ledger.MaxLines])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.OK {
			t.Fatalf("%d lines: line %d rejected: %s %s", ledger.MaxLines, r.Line, r.Code, r.Error)
		}
	}
	if got := recorded(t, l); got != ledger.MaxLines {
		t.Errorf("%d events recorded, want %d", got, ledger.MaxLines)
	}
}

// TestRequestTooLarge: a request over MaxRequestBytes reaches the ledger,
// which refuses it whole with request_too_large; one over the NATS server's
// max payload never leaves the client, which reports the same code. Nothing
// is recorded either way.
func TestRequestTooLarge(t *testing.T) {
	if rpc.MaxRequestBytes >= natsserver.MaxPayload {
		t.Fatalf("MaxRequestBytes %d does not fit the embedded server's max payload %d", rpc.MaxRequestBytes, natsserver.MaxPayload)
	}
	l := startLedger(t)
	c := adminClient(t, l)
	// Valid lines: were the size not checked, they would be recorded.
	body := func(n int) []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < n; i++ {
			b.Write(padded(fmt.Sprintf("O-%d", i), 60_000))
			b.WriteByte('\n')
		}
		return b.Bytes()[:n]
	}
	_, err := c.Call(ctxT(t), rpc.EndpointSubmit, body(rpc.MaxRequestBytes+1))
	wantCode(t, "MaxRequestBytes+1 bytes", err, domain.CodeRequestTooLarge)
	_, err = c.Call(ctxT(t), rpc.EndpointSubmit, body(natsserver.MaxPayload+1))
	wantCode(t, "max payload+1 bytes", err, domain.CodeRequestTooLarge)
	if !strings.Contains(err.Error(), "max_payload") {
		t.Errorf("the client's refusal does not name the server's max_payload: %v", err)
	}
	if got := recorded(t, l); got != 0 {
		t.Fatalf("refused requests recorded %d events", got)
	}
	// Just under the limit the request is processed (its last line is cut
	// short, so invalid_json; the others are recorded).
	reply, err := c.Call(ctxT(t), rpc.EndpointSubmit, body(rpc.MaxRequestBytes))
	if err != nil {
		t.Fatalf("a request of MaxRequestBytes: %v", err)
	}
	results := decodeResults(t, reply)
	last := results[len(results)-1]
	if last.OK || last.Code != domain.CodeInvalidJSON || recorded(t, l) != uint64(len(results)-1) {
		t.Errorf("a request of MaxRequestBytes: %d results, last %+v, %d recorded", len(results), last, recorded(t, l))
	}
}

// TestSubmitTimeout: a submission still unanswered at the service's
// deadline is answered with code timeout. The service here hands requests
// to a writer that is not running (the ledger's own one is untouched), so
// the request outlives any deadline; the client's own deadline is longer.
func TestSubmitTimeout(t *testing.T) {
	l := startLedger(t)
	srv, err := natsserver.Start(ctxT(t), natsserver.Config{StoreDir: t.TempDir(), Port: -1, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	pol := domain.DefaultPolicy()
	stalled := ledger.NewWriter(pol, l.EventStore(), l.Models, l.Projector(), recorded(t, l), l.Logger())
	svc, err := rpc.Register(nc, stalled, l.Queries(), l.Logger(), rpc.WithTimeouts(200*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	cnc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cnc.Close)
	// Answered with the server's own timeout code (the test's context is a
	// minute: a client-side wait-out would not carry it).
	_, err = rpc.NewClient(cnc).Submit(ctxT(t), [][]byte{offer("O-1", 0)})
	wantCode(t, "a submission the writer never takes", err, domain.CodeTimeout)
	if got := recorded(t, l); got != 0 {
		t.Errorf("%d events recorded", got)
	}
}

// TestEmptyRequest: a request with no input lines (empty, or only blank
// lines) is refused whole with invalid_request; blank lines among input
// lines are skipped, as ledger submit skips them (cmd/ledger TestReadChunks, TestSubmitBlankLinesAgree):
// no result, and the other lines keep their numbers.
func TestEmptyRequest(t *testing.T) {
	l := startLedger(t)
	c := adminClient(t, l)
	for _, body := range []string{"", "\n", "\n\n\n", " \r\n\t\n  "} {
		_, err := c.Call(ctxT(t), rpc.EndpointSubmit, []byte(body))
		wantCode(t, fmt.Sprintf("request %q", body), err, domain.CodeInvalidRequest)
		if !strings.Contains(err.Error(), "no input lines") {
			t.Errorf("request %q: unclear answer %v", body, err)
		}
	}
	_, err := c.Submit(ctxT(t), nil)
	wantCode(t, "Submit of no lines", err, domain.CodeInvalidRequest)

	reply, err := c.Call(ctxT(t), rpc.EndpointSubmit, append(append([]byte("\n \n"), offer("O-1", 0)...), "\n\n"...))
	if err != nil {
		t.Fatal(err)
	}
	rs := decodeResults(t, reply)
	if len(rs) != 1 || !rs[0].OK || rs[0].Line != 3 {
		t.Errorf("blank lines around a line: %s, want one result, line 3 accepted", reply)
	}
	reply, err = c.Call(ctxT(t), rpc.EndpointSubmit, []byte("{\n\t\r\n"+string(offer("O-2", 0))))
	if err != nil {
		t.Fatal(err)
	}
	rs = decodeResults(t, reply)
	if len(rs) != 2 || rs[0].Code != domain.CodeInvalidJSON || rs[0].Line != 1 || !rs[1].OK || rs[1].Line != 3 {
		t.Errorf("a bad line, a blank one, a good one: %s, want line 1 invalid_json, line 3 accepted", reply)
	}
	if got := recorded(t, l); got != 2 {
		t.Errorf("%d events recorded, want 2", got)
	}
}

func decodeResults(t *testing.T, reply []byte) []ledger.LineResult {
	t.Helper()
	var out []ledger.LineResult
	dec := json.NewDecoder(bytes.NewReader(reply))
	for dec.More() {
		var r ledger.LineResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("reply: %v: %s", err, reply)
		}
		out = append(out, r)
	}
	return out
}
