package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
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
)

var (
	ceJSON  = http.Header{"Content-Type": {"application/cloudevents+json"}}
	ndjson  = http.Header{"Content-Type": {"application/x-ndjson"}}
	batchCT = http.Header{"Content-Type": {"application/cloudevents-batch+json"}}
)

// seed records one partner with an offer and a sale, so that refusals can
// be seen to change nothing that exists.
func seed(t *testing.T, l *app.Ledger) {
	t.Helper()
	status, b := do(t, l, request{method: "POST", path: "/v1/events", token: token(t, l, auth.Admin), header: ndjson,
		body: bytes.Join([][]byte{offer("P-1", "O-1"), sale("S-1", "O-1", 100)}, []byte("\n"))})
	if status != http.StatusOK {
		t.Fatalf("seed: %d %s", status, b)
	}
	mustOK(t, results(t, b))
}

// TestForbiddenOverHTTPChangesNothing: no token, a wrong or revoked token,
// and a role submitting what it may not are all refused (401, 403, or the
// line forbidden), and the log is unchanged.
func TestForbiddenOverHTTPChangesNothing(t *testing.T) {
	l := startHTTP(t)
	seed(t, l)
	before := lastSeq(t, l)
	billing := token(t, l, auth.Billing)
	cases := []struct {
		name   string
		rq     request
		status int
		code   string
	}{
		{"no token: submit", request{method: "POST", path: "/v1/events", header: ceJSON, body: sale("S-2", "O-1", 5)}, 401, "unauthorized"},
		{"no token: query", request{method: "GET", path: "/v1/partners/P-1/tier"}, 401, "unauthorized"},
		{"no token: stats", request{method: "GET", path: "/v1/stats"}, 401, "unauthorized"},
		{"wrong token", request{method: "POST", path: "/v1/events", token: billing + "x", header: ceJSON, body: sale("S-2", "O-1", 5)}, 401, "unauthorized"},
		{"not bearer", request{method: "GET", path: "/v1/stats", header: http.Header{"Authorization": {"Basic " + billing}}}, 401, "unauthorized"},
		{"auditor submits", request{method: "POST", path: "/v1/events", token: token(t, l, auth.Auditor), header: ceJSON, body: sale("S-2", "O-1", 5)}, 403, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := do(t, l, c.rq)
			if status != c.status || codeOf(t, b) != c.code {
				t.Fatalf("got %d %s, want %d %s", status, b, c.status, c.code)
			}
		})
	}
	// A role's type check runs per line, as over NATS: billing may not
	// publish offers, and its refused line is forbidden.
	status, b := do(t, l, request{method: "POST", path: "/v1/events", token: billing, header: ceJSON, body: offer("P-2", "O-2")})
	if rs := results(t, b); status != 200 || len(rs) != 1 || rs[0].OK || rs[0].Code != domain.CodeForbidden {
		t.Fatalf("billing publishing an offer: %d %s", status, b)
	}
	if got := lastSeq(t, l); got != before {
		t.Fatalf("refused requests changed the log: last seq %d, was %d", got, before)
	}
	// Every role queries.
	for _, r := range auth.Roles() {
		if status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/tier", token: token(t, l, r)}); status != 200 {
			t.Errorf("%s querying: %d %s", r, status, b)
		}
	}
}

// TestBadInputOverHTTP: oversized bodies, wrong content types, malformed
// ce-* headers and bad query parameters get a coded 4xx and change nothing.
func TestBadInputOverHTTP(t *testing.T) {
	l := startHTTP(t)
	seed(t, l)
	before := lastSeq(t, l)
	admin := token(t, l, auth.Admin)
	bin := func(extra http.Header) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"x-1"},
			"Ce-Source": {"test"}, "Ce-Type": {domain.TypeSaleBilled}, "Ce-Time": {"2024-09-01T02:00:00Z"}}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	data := []byte(`{"sale_id":"S-9","offer_id":"O-1","customer_id":"C","amount_usd_cents":5}`)
	post := func(h http.Header, body []byte) request {
		return request{method: "POST", path: "/v1/events", token: admin, header: h, body: body}
	}
	get := func(path string) request { return request{method: "GET", path: path, token: admin} }
	cases := []struct {
		name   string
		rq     request
		status int
		code   string
	}{
		{"oversized body", post(ndjson, bytes.Repeat([]byte("x"), rpc.MaxRequestBytes+1)), 413, "request_too_large"},
		{"text/plain", post(http.Header{"Content-Type": {"text/plain"}}, sale("S-9", "O-1", 5)), 415, "unsupported_media_type"},
		{"malformed content type", post(http.Header{"Content-Type": {"application/json; ==="}}, sale("S-9", "O-1", 5)), 415, "unsupported_media_type"},
		{"latin-1", post(http.Header{"Content-Type": {"application/json; charset=iso-8859-1"}}, sale("S-9", "O-1", 5)), 415, "unsupported_media_type"},
		{"empty body", post(ceJSON, nil), 400, "invalid_request"},
		{"batch not an array", post(batchCT, sale("S-9", "O-1", 5)), 400, "invalid_request"},
		{"repeated ce-id", post(bin(http.Header{"Ce-Id": {"a", "b"}}), data), 400, "invalid_header"},
		{"bad percent-encoding", post(bin(http.Header{"Ce-Source": {"test%zz"}}), data), 400, "invalid_header"},
		{"ce-data header", post(bin(http.Header{"Ce-Data": {"{}"}}), data), 400, "invalid_header"},
		{"bad attribute name", post(bin(http.Header{"Ce-Foo_bar": {"1"}}), data), 400, "invalid_header"},
		{"not UTF-8", post(bin(http.Header{"Ce-Source": {"%ff"}}), data), 400, "invalid_header"},
		{"unknown parameter", get("/v1/partners/P-1/tier?colour=red"), 400, "invalid_request"},
		{"partner_id in the query", get("/v1/partners/P-1/tier?partner_id=P-2"), 400, "invalid_request"},
		{"known_seq not a number", get("/v1/partners/P-1/benefits?known_seq=abc"), 400, "invalid_request"},
		{"known_seq negative", get("/v1/partners/P-1/benefits?known_seq=-1"), 400, "invalid_request"},
		{"repeated at", get("/v1/partners/P-1/tier?at=2024-01-01T00:00:00Z&at=2024-02-01T00:00:00Z"), 400, "invalid_request"},
		{"malformed query", get("/v1/partners/P-1/tier?at=%zz"), 400, "invalid_request"},
		{"bad at", get("/v1/partners/P-1/tier?at=yesterday"), 400, "invalid_field"},
		{"stats takes none", get("/v1/stats?at=2024-01-01T00:00:00Z"), 400, "invalid_request"},
		{"bad partner id", get("/v1/partners/P%20x/tier"), 400, "invalid_field"},
		{"unknown partner", get("/v1/partners/P-404/tier"), 404, "unknown_partner"},
		{"unknown partner audit", get("/v1/partners/P-404/audit"), 404, "unknown_partner"},
		{"no route", get("/v1/nothing"), 404, "not_found"},
		{"wrong method", request{method: "DELETE", path: "/v1/events", token: admin}, 405, "method_not_allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, b := do(t, l, c.rq)
			if status != c.status || codeOf(t, b) != c.code {
				t.Fatalf("got %d %s, want %d %s", status, b, c.status, c.code)
			}
		})
	}
	// Lines answered, not submitted: ce-* headers on a structured body, and
	// a binary body that is not JSON.
	lineCases := []struct {
		name string
		rq   request
		code domain.Code
	}{
		{"ce-* on structured", post(http.Header{"Content-Type": {"application/cloudevents+json"}, "Ce-Id": {"x"}}, sale("S-9", "O-1", 5)), domain.CodeInvalidEnvelope},
		{"ce-* on a batch", post(http.Header{"Content-Type": {"application/cloudevents-batch+json"}, "Ce-Type": {"x"}}, []byte("["+string(sale("S-9", "O-1", 5))+"]")), domain.CodeInvalidEnvelope},
		{"binary body not JSON", post(bin(nil), []byte(`{"sale_id":`)), domain.CodeInvalidJSON},
		{"binary without ce-id", post(bin(http.Header{"Ce-Id": nil}), data), domain.CodeInvalidEnvelope},
		{"binary specversion 0.3", post(bin(http.Header{"Ce-Specversion": {"0.3"}}), data), domain.CodeInvalidEnvelope},
	}
	for _, c := range lineCases {
		t.Run(c.name, func(t *testing.T) {
			status, b := do(t, l, c.rq)
			rs := results(t, b)
			if status != 200 || len(rs) != 1 || rs[0].OK || rs[0].Code != c.code || rs[0].Line != 1 {
				t.Fatalf("got %d %s, want one line %s", status, b, c.code)
			}
		})
	}
	if got := lastSeq(t, l); got != before {
		t.Fatalf("bad input changed the log: last seq %d, was %d", got, before)
	}
}

// TestCloudEventsModes: structured, NDJSON, batch and binary submissions are
// recorded exactly as their structured envelopes (binary mode's stored
// envelope is the one its headers denote).
func TestCloudEventsModes(t *testing.T) {
	l := startHTTP(t)
	admin := token(t, l, auth.Admin)
	post := func(h http.Header, body []byte) []ledger.LineResult {
		t.Helper()
		status, b := do(t, l, request{method: "POST", path: "/v1/events", token: admin, header: h, body: body})
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		return results(t, b)
	}
	// Structured, pretty-printed, without a Content-Type.
	var pretty bytes.Buffer
	json.Indent(&pretty, offer("P-1", "O-1"), "", "  ")
	mustOK(t, post(nil, pretty.Bytes()))
	// A batch: one result per element, line = position.
	rs := post(batchCT, []byte("["+string(sale("S-1", "O-1", 100))+",\n 7, "+string(sale("S-1", "O-1", 100))+"]"))
	if len(rs) != 3 || !rs[0].OK || rs[1].Code != domain.CodeInvalidJSON || !rs[2].Duplicate || rs[2].Line != 3 {
		t.Fatalf("batch: %+v", rs)
	}
	// Binary: the same event as a structured line is a duplicate of it.
	hdr, body := binary(t, sale("S-2", "O-1", 200))
	first := post(hdr, body)
	mustOK(t, first)
	again := post(ceJSON, sale("S-2", "O-1", 200))
	if !again[0].OK || !again[0].Duplicate || again[0].Seq != first[0].Seq {
		t.Fatalf("structured resubmission of a binary event: %+v, first %+v", again, first)
	}
	// Extension attributes and percent-encoded values reach the envelope.
	hdr, body = binary(t, sale("S-3", "O-1", 300))
	hdr.Set("Ce-Source", "billing%2Feu%20west")
	hdr.Set("Ce-Traceparent", "00-abc")
	mustOK(t, post(hdr, body))
	status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/audit", token: admin})
	if status != 200 {
		t.Fatalf("audit: %d %s", status, b)
	}
	var doc ledger.AuditDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	lastEnv := string(doc.Events[len(doc.Events)-1].Envelope)
	if !strings.Contains(lastEnv, `"source":"billing/eu west"`) || !strings.Contains(lastEnv, `"traceparent":"00-abc"`) {
		t.Fatalf("binary envelope as recorded: %s", lastEnv)
	}
}

// TestTokenFiles: one 0600 token per role on first start, kept on restart;
// a deleted one is issued anew and the old token stops working.
func TestTokenFiles(t *testing.T) {
	data := t.TempDir()
	l := startLedger(t, data, "127.0.0.1:0", httpapi.Settings{})
	old := map[auth.Role]string{}
	for _, r := range auth.Roles() {
		path := auth.TokenFile(app.CredentialsDir(data), r)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
		}
		old[r] = token(t, l, r)
		if len(old[r]) != 43 {
			t.Errorf("%s token %q: want 43 base64url characters (32 bytes)", r, old[r])
		}
	}
	l.Close()
	if err := os.Remove(auth.TokenFile(app.CredentialsDir(data), auth.Billing)); err != nil {
		t.Fatal(err)
	}
	l = startLedger(t, data, "127.0.0.1:0", httpapi.Settings{})
	for _, r := range auth.Roles() {
		now := token(t, l, r)
		if (now == old[r]) == (r == auth.Billing) {
			t.Errorf("%s: token before %q, after restart %q", r, old[r], now)
		}
	}
	if status, b := do(t, l, request{method: "GET", path: "/v1/stats", token: old[auth.Billing]}); status != 401 {
		t.Fatalf("revoked token: %d %s", status, b)
	}
	if status, b := do(t, l, request{method: "GET", path: "/v1/stats", token: old[auth.Storefront]}); status != 200 {
		t.Fatalf("kept token: %d %s", status, b)
	}
}

// TestRateAndConcurrencyLimits: a token over its rate is 429 busy; a request
// beyond the bound of concurrent requests is 503 busy; both are counted.
func TestRateAndConcurrencyLimits(t *testing.T) {
	// One request per 1000 s with a burst of 2: the third is over.
	l := startLedger(t, "", "127.0.0.1:0", httpapi.Settings{RatePerToken: 0.001, Burst: 2, MaxInFlight: 1})
	billing, admin := token(t, l, auth.Billing), token(t, l, auth.Admin)
	for i := range 2 {
		if status, b := do(t, l, request{method: "GET", path: "/v1/stats", token: billing}); status != 200 {
			t.Fatalf("request %d: %d %s", i+1, status, b)
		}
	}
	status, b := do(t, l, request{method: "GET", path: "/v1/stats", token: billing})
	if status != 429 || codeOf(t, b) != "busy" {
		t.Fatalf("over the rate: %d %s", status, b)
	}
	if status, b := do(t, l, request{method: "GET", path: "/v1/stats", token: admin}); status != 200 {
		t.Fatalf("another token is not limited by billing's rate: %d %s", status, b)
	}

	// Hold the only slot with a submission whose body is still coming.
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", l.HTTPURL()+"/v1/events", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/cloudevents+json")
	done := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(" ")) // the request is under way once its body starts
	auditor := token(t, l, auth.Auditor)
	for {
		status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/tier", token: auditor})
		if status == 503 {
			if codeOf(t, b) != "busy" {
				t.Fatalf("503 %s, want busy", b)
			}
			break
		}
		if status != 404 && status != 429 { // the slot was free yet: the request ran (or met the auditor's rate)
			t.Fatalf("unexpected %d %s", status, b)
		}
	}
	pw.Write(offer("P-1", "O-1"))
	pw.Close()
	if st := <-done; st != 200 {
		t.Fatalf("the held submission: %d", st)
	}
	if n := counterValue(t, l, "ledger_requests_busy_total", "endpoint", "tier"); n < 1 {
		t.Errorf("ledger_requests_busy_total{endpoint=tier} = %g", n)
	}
	if n := counterValue(t, l, "ledger_requests_busy_total", "endpoint", "stats"); n != 1 {
		t.Errorf("ledger_requests_busy_total{endpoint=stats} = %g, want 1", n)
	}
}

// TestHealthEndpoints: /healthz and /readyz answer without a token.
func TestHealthEndpoints(t *testing.T) {
	l := startHTTP(t)
	status, b := do(t, l, request{method: "GET", path: "/healthz"})
	if status != 200 || string(b) != `{"status":"ok"}` {
		t.Fatalf("/healthz: %d %s", status, b)
	}
	status, b = do(t, l, request{method: "GET", path: "/readyz"})
	var doc struct{ Status, Reason string }
	if json.Unmarshal(b, &doc) != nil || status != 200 || doc.Status != "ready" {
		t.Fatalf("/readyz: %d %s", status, b)
	}
}

// TestStatusTable pins the HTTP statuses of the contract's codes.
func TestStatusTable(t *testing.T) {
	for code, want := range map[domain.Code]int{
		domain.CodeInvalidRequest: 400, domain.CodeInvalidField: 400, domain.CodeTooManyLines: 400, domain.CodeInvalidHeader: 400,
		domain.CodeUnauthorized: 401, domain.CodeForbidden: 403, domain.CodeUnknownPartner: 404, domain.CodeNotFound: 404,
		domain.CodeDuplicateConflict: 409, domain.CodeUnknownSale: 409, domain.CodeRequestTooLarge: 413,
		domain.CodeUnsupportedMediaType: 415, domain.CodeInternal: 500, domain.CodeBusy: 503, domain.CodeProjectionBehind: 503,
		domain.CodeLogDamaged: 503, domain.CodeUnavailable: 503, domain.CodeTimeout: 504,
	} {
		if got := rpc.HTTPStatus(code); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}

// TestReadyzNotReadyWhenBehind: read models further behind the log than
// the setting allows (the projector paused while events are recorded) make
// /readyz answer 503 with the reason, /healthz still 200, and the lag
// gauges show the unfolded events; once the projector folds them, ready.
func TestReadyzNotReadyWhenBehind(t *testing.T) {
	l := startLedger(t, "", "127.0.0.1:0", httpapi.Settings{MaxLagEvents: 1})
	seed(t, l)
	resume := l.PauseProjector()
	status, b := do(t, l, request{method: "POST", path: "/v1/events", token: token(t, l, auth.Admin), header: ndjson,
		body: bytes.Join([][]byte{sale("S-2", "O-1", 100), sale("S-3", "O-1", 100)}, []byte("\n"))})
	if status != http.StatusOK {
		t.Fatalf("submit: %d %s", status, b)
	}
	mustOK(t, results(t, b))
	status, b = do(t, l, request{method: "GET", path: "/readyz"})
	var doc struct{ Status, Reason string }
	json.Unmarshal(b, &doc)
	if status != 503 || doc.Status != "not_ready" || !strings.Contains(doc.Reason, "projection lag 2 events, over 1") {
		t.Fatalf("/readyz %d %s, want 503 naming the lag", status, b)
	}
	if status, _ := do(t, l, request{method: "GET", path: "/healthz"}); status != 200 {
		t.Fatalf("/healthz %d: the process is up", status)
	}
	_, text := do(t, l, request{method: "GET", path: "/metrics"})
	if !strings.Contains(string(text), "ledger_projection_lag_events 2\n") || strings.Contains(string(text), "ledger_projection_lag_seconds 0\n") {
		t.Fatalf("lag gauges after two unfolded events:\n%s", grepLines(string(text), "ledger_projection_lag"))
	}
	resume()
	deadline := time.Now().Add(time.Minute) // a bound for failing, not a measurement
	for {
		if status, _ := do(t, l, request{method: "GET", path: "/readyz"}); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready after the projector caught up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSecondEditionParametersOverHTTP: the query parameters are the RPC
// request's fields, the second edition's included: audit pages and filters,
// known_at.
func TestSecondEditionParametersOverHTTP(t *testing.T) {
	l := startHTTP(t)
	seed(t, l)
	tok := token(t, l, auth.Auditor)
	status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/audit?limit=1&types=SaleBilled", token: tok})
	var page ledger.AuditDoc
	if err := json.Unmarshal(b, &page); status != 200 || err != nil || len(page.Events) != 1 || page.Events[0].Type != "SaleBilled" {
		t.Fatalf("audit page: %d %s", status, b)
	}
	status, b = do(t, l, request{method: "GET", path: "/v1/partners/P-1/audit?from_seq=1&limit=1", token: tok})
	if err := json.Unmarshal(b, &page); status != 200 || err != nil || page.NextSeq == nil || *page.NextSeq != 2 {
		t.Fatalf("audit first page: %d %s", status, b)
	}
	if status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/tier?known_at=2000-01-01", token: tok}); status != 404 {
		t.Fatalf("tier known before anything was recorded: %d %s, want 404 unknown_partner", status, b)
	}
	if status, b := do(t, l, request{method: "GET", path: "/v1/partners/P-1/audit?limit=0x1", token: tok}); status != 400 {
		t.Fatalf("a malformed limit: %d %s, want 400", status, b)
	}
}

// TestBlankLinesAgreeWithRPC: NDJSON with blank lines (around, between,
// white space only, after a bad line) gets over POST /v1/events the answer
// ledger.submit gives the same input: blank lines skipped, no result, and
// the other lines keep their input numbers.
func TestBlankLinesAgreeWithRPC(t *testing.T) {
	input := "\n \n" + string(offer("P-1", "O-1")) + "\n\n{\n\t\r\n" + string(offer("P-1", "O-2")) + "\n\n"
	viaRPC := startHTTP(t)
	reply, err := rpcClient(t, viaRPC).Call(context.Background(), rpc.EndpointSubmit, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	want, err := rpc.ParseSubmitReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || want[0].Line != 3 || want[1].Line != 5 || want[2].Line != 7 {
		t.Fatalf("the RPC answered %s, want lines 3, 5 and 7", reply)
	}
	viaHTTP := startHTTP(t)
	status, b := do(t, viaHTTP, request{method: "POST", path: "/v1/events", token: token(t, viaHTTP, auth.Admin), header: ndjson, body: []byte(input)})
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	got := results(t, b)
	if len(got) != len(want) {
		t.Fatalf("HTTP answered %s, the RPC %s", b, reply)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d: HTTP %+v, RPC %+v", i+1, got[i], want[i])
		}
	}
	// Only blank lines: no events, as on the RPC.
	status, b = do(t, viaHTTP, request{method: "POST", path: "/v1/events", token: token(t, viaHTTP, auth.Admin), header: ndjson, body: []byte("\n \n\t\n")})
	if status != 400 || codeOf(t, b) != string(domain.CodeInvalidRequest) {
		t.Errorf("only blank lines: %d %s, want 400 invalid_request", status, b)
	}
}
