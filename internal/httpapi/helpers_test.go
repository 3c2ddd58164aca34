package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/httpapi"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// startLedger runs a ledger (embedded NATS, JetStream, bbolt) with its HTTP
// listener on a free loopback port, or none when http is "".
func startLedger(t *testing.T, data, http string, set httpapi.Settings) *app.Ledger {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := app.Start(ctx, app.Config{DataDir: data, Listen: "127.0.0.1:0", HTTP: http, HTTPSettings: set})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func startHTTP(t *testing.T) *app.Ledger {
	return startLedger(t, "", "127.0.0.1:0", httpapi.Settings{})
}

// token reads a role's token file, as an operator would.
func token(t *testing.T, l *app.Ledger, r auth.Role) string {
	t.Helper()
	b, err := os.ReadFile(auth.TokenFile(app.CredentialsDir(l.DataDir()), r))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// rpcClient connects to the ledger's NATS service as admin.
func rpcClient(t *testing.T, l *app.Ledger) *rpc.Client {
	t.Helper()
	nc, err := nats.Connect(l.ClientURL(), nats.UserCredentials(app.CredsFile(l.DataDir(), string(auth.Admin))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return rpc.NewClient(nc)
}

// request is one HTTP request of a test.
type request struct {
	method, path, token string
	header              http.Header
	body                []byte
}

// do sends a request and returns the status and the body.
func do(t *testing.T, l *app.Ledger, rq request) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(rq.method, l.HTTPURL()+rq.path, bytes.NewReader(rq.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if rq.token != "" {
		req.Header.Set("Authorization", "Bearer "+rq.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// codeOf returns the code of an error body.
func codeOf(t *testing.T, body []byte) string {
	t.Helper()
	var eb rpc.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Code == "" || eb.Error == "" {
		t.Fatalf("not an error body {code,error}: %s", body)
	}
	return string(eb.Code)
}

// results decodes a POST /v1/events answer.
func results(t *testing.T, body []byte) []ledger.LineResult {
	t.Helper()
	var rs []ledger.LineResult
	if err := json.Unmarshal(body, &rs); err != nil {
		t.Fatalf("not a JSON array of submit lines: %v: %s", err, body)
	}
	return rs
}

// binary turns a structured envelope into a binary-mode request: its
// attributes as ce-* headers, its data as the body.
func binary(t *testing.T, line []byte) (http.Header, []byte) {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatalf("scenario line is not an object: %s", line)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range env {
		if k == "data" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatalf("attribute %s is not a string: binary mode cannot carry it", k)
		}
		h.Set("ce-"+k, url.PathEscape(s))
	}
	return h, env["data"]
}

// lastSeq is the stream's last sequence.
func lastSeq(t *testing.T, l *app.Ledger) uint64 {
	t.Helper()
	seq, err := l.EventStore().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// envelope renders a structured envelope.
func envelope(id, typ string, at time.Time, data map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test/http", "type": typ,
		"time": at.UTC().Format(time.RFC3339), "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

var t0 = time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)

func offer(partner, id string) []byte {
	return envelope("pub-"+id, domain.TypeOfferPublished, t0, map[string]any{"offer_id": id, "partner_id": partner,
		"publisher_id": "PUB", "listing_type": "transact", "storefront": "appsource"})
}

func sale(id, offer string, cents int64) []byte {
	return envelope("sale-"+id, domain.TypeSaleBilled, t0.Add(time.Hour), map[string]any{"sale_id": id, "offer_id": offer,
		"customer_id": "C", "amount_usd_cents": cents})
}

func mustOK(t *testing.T, rs []ledger.LineResult) {
	t.Helper()
	for _, r := range rs {
		if !r.OK {
			t.Fatalf("line %d rejected: %s %s", r.Line, r.Code, r.Error)
		}
	}
}

func q(format string, args ...any) string { return fmt.Sprintf(format, args...) }
