package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/dashboard"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// TestDashboardServed: GET / and the page's assets are served without a
// token, each with the CSP that allows only the ledger's own origin; other
// paths stay 404 and other methods 405, and the page names no remote origin.
func TestDashboardServed(t *testing.T) {
	l := startHTTP(t)
	for _, c := range []struct {
		path, ctype string
	}{
		{"/", "text/html; charset=utf-8"},
		{dashboard.AssetPrefix + "app.js", "text/javascript; charset=utf-8"},
		{dashboard.AssetPrefix + "app.css", "text/css; charset=utf-8"},
	} {
		resp, err := http.Get(l.HTTPURL() + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != c.ctype || h.Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: %d %v", c.path, resp.StatusCode, h)
		}
		for _, remote := range []string{"http://", "https://", "//cdn", "@import"} {
			if s := strings.ReplaceAll(body.String(), "http://www.w3.org/2000/svg", ""); strings.Contains(s, remote) {
				t.Errorf("GET %s: the page names a remote origin (%q)", c.path, remote)
			}
		}
	}
	if !strings.Contains(dashboard.ContentSecurityPolicy, "default-src 'none'") || !strings.Contains(dashboard.ContentSecurityPolicy, "connect-src 'self'") {
		t.Errorf("CSP allows more than the ledger's origin: %s", dashboard.ContentSecurityPolicy)
	}
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", dashboard.AssetPrefix + "nope.js", 404, ""},
		{"GET", dashboard.AssetPrefix + "index.html", 404, ""},
		{"GET", dashboard.AssetPrefix + "../go.mod", 404, ""},
		{"GET", "/nope", 404, "not_found"},
		{"POST", "/", 405, "method_not_allowed"},
	} {
		status, body := do(t, l, request{method: c.method, path: c.path})
		if status != c.status || (c.code != "" && codeOf(t, body) != c.code) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, status, body, c.status, c.code)
		}
	}
}

// TestPolicyAndWhatIfOverHTTP: GET /v1/policy answers the RPC's policy file
// byte for byte to every role; POST /v1/whatif answers the RPC's page
// document to the reading roles, refuses the others (403), a missing token
// (401), a body over the request limit (413) and a bad policy (400).
func TestPolicyAndWhatIfOverHTTP(t *testing.T) {
	l := startHTTP(t)
	c := rpcClient(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := c.Submit(ctx, [][]byte{offer("P-1", "O-1"), sale("S-1", "O-1", 2_200_000)})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, rs)
	pol, err := c.Call(ctx, rpc.EndpointPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range auth.Roles() {
		status, body := do(t, l, request{method: "GET", path: "/v1/policy", token: token(t, l, r)})
		if status != 200 || !bytes.Equal(body, pol) {
			t.Errorf("GET /v1/policy as %s: %d, %d bytes (want the RPC's %d)", r, status, len(body), len(pol))
		}
	}
	if status, body := do(t, l, request{method: "GET", path: "/v1/policy?x=1", token: token(t, l, auth.Admin)}); status != 400 || codeOf(t, body) != "invalid_request" {
		t.Errorf("GET /v1/policy?x=1: %d %s", status, body)
	}

	lower := strings.ReplaceAll(string(pol), "[2500000, 10000000,", "[2000000, 10000000,")
	req, _ := json.Marshal(ledger.WhatIfRequest{PolicyFile: lower, At: "2024-09-02T00:00:00Z"})
	want, err := c.Call(ctx, rpc.EndpointWhatIf, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(want), `"changed":1`) {
		t.Fatalf("the what-if changes no partner: %s", want)
	}
	for _, r := range []auth.Role{auth.Admin, auth.Auditor} {
		status, body := do(t, l, request{method: "POST", path: "/v1/whatif", token: token(t, l, r), body: req})
		if status != 200 || !bytes.Equal(body, want) {
			t.Errorf("POST /v1/whatif as %s: %d %s, want the RPC's %s", r, status, body, want)
		}
	}
	bad, _ := json.Marshal(ledger.WhatIfRequest{PolicyFile: `{"version":1}`})
	for _, c := range []struct {
		name   string
		rq     request
		status int
		code   string
	}{
		{"billing", request{method: "POST", path: "/v1/whatif", token: token(t, l, auth.Billing), body: req}, 403, "forbidden"},
		{"storefront", request{method: "POST", path: "/v1/whatif", token: token(t, l, auth.Storefront), body: req}, 403, "forbidden"},
		{"no token", request{method: "POST", path: "/v1/whatif", body: req}, 401, "unauthorized"},
		{"oversized", request{method: "POST", path: "/v1/whatif", token: token(t, l, auth.Admin), body: bytes.Repeat([]byte(" "), rpc.MaxRequestBytes+1)}, 413, "request_too_large"},
		{"unknown field", request{method: "POST", path: "/v1/whatif", token: token(t, l, auth.Admin), body: []byte(`{"policy_file":"x","nope":1}`)}, 400, "invalid_request"},
		{"bad policy", request{method: "POST", path: "/v1/whatif", token: token(t, l, auth.Admin), body: bad}, 400, string(domain.CodeInvalidPolicy)},
		{"GET", request{method: "GET", path: "/v1/whatif", token: token(t, l, auth.Admin)}, 405, "method_not_allowed"},
	} {
		status, body := do(t, l, c.rq)
		if status != c.status || codeOf(t, body) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
		}
	}
}
