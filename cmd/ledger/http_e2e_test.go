package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeHTTP runs `ledger serve --http HOST:PORT`: the health endpoints
// and /metrics answer without a token, the API with a role's token file,
// and a submission over HTTP is seen by the CLI over NATS.
func TestServeHTTP(t *testing.T) {
	data := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, data, "--http", addr)
	base := "http://" + addr
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz", ""); code != 200 || body != `{"status":"ok"}` {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz", ""); code != 200 {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, body := get("/metrics", ""); code != 200 || !strings.Contains(body, "ledger_projection_lag_events") {
		t.Fatalf("/metrics: %d", code)
	}
	if code, _ := get("/v1/stats", ""); code != 401 {
		t.Fatalf("/v1/stats without a token: %d", code)
	}
	tok, err := os.ReadFile(filepath.Join(data, "credentials", "storefront.token"))
	if err != nil {
		t.Fatal(err)
	}
	line := `{"specversion":"1.0","id":"pub-1","source":"test","type":"OfferPublished","time":"2024-01-10T00:00:00Z",` +
		`"data":{"offer_id":"O-1","partner_id":"P-1","publisher_id":"PUB","listing_type":"transact","storefront":"appsource"}}`
	req, _ := http.NewRequest("POST", base+"/v1/events", bytes.NewReader([]byte(line)))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok":true`) {
		t.Fatalf("POST /v1/events: %d %s", resp.StatusCode, b)
	}
	if out, code := s.cli(nil, "audit", "P-1", "--json"); code != exitOK || !strings.Contains(out, "pub-1") {
		t.Fatalf("ledger audit after an HTTP submission: exit %d: %s", code, out)
	}
}
