package rpc_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// TestScanRequestsRefused: what-if and export requests outside their limits
// are answered with their own codes, never a timeout.
func TestScanRequestsRefused(t *testing.T) {
	l := startLedger(t)
	c := adminClient(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	whatIf := func(r ledger.WhatIfRequest) []byte { b, _ := json.Marshal(r); return b }
	policy := string(domain.DefaultPolicyJSON())
	for _, tc := range []struct {
		name, endpoint string
		body           []byte
		want           domain.Code
		mention        string
	}{
		{"policy too large", rpc.EndpointWhatIf, whatIf(ledger.WhatIfRequest{PolicyFile: policy + strings.Repeat(" ", ledger.MaxWhatIfPolicyBytes)}), domain.CodePolicyTooLarge, "policy_file"},
		{"no policy", rpc.EndpointWhatIf, []byte(`{}`), domain.CodeInvalidPolicy, "policy_file"},
		{"invalid policy", rpc.EndpointWhatIf, whatIf(ledger.WhatIfRequest{PolicyFile: strings.Replace(policy, `"months": 12`, `"months": 0`, 1)}), domain.CodeInvalidPolicy, "listing_package.months"},
		{"unknown field", rpc.EndpointWhatIf, []byte(`{"policy":"x"}`), domain.CodeInvalidRequest, `"policy" is not a field`},
		{"two objects", rpc.EndpointWhatIf, []byte(`{}{}`), domain.CodeInvalidRequest, "after top-level value"},
		{"limit too high", rpc.EndpointWhatIf, whatIf(ledger.WhatIfRequest{PolicyFile: policy, Limit: ledger.MaxScanPage + 1}), domain.CodeInvalidField, "limit"},
		{"bad cursor", rpc.EndpointExport, []byte(`{"kind":"tiers","after_partner":"a b"}`), domain.CodeInvalidField, "after_partner"},
		{"bad at", rpc.EndpointExport, []byte(`{"kind":"tiers","at":"yesterday"}`), domain.CodeInvalidField, "at"},
		{"unknown kind", rpc.EndpointExport, []byte(`{"kind":"sales"}`), domain.CodeInvalidField, "kind"},
		{"negative limit", rpc.EndpointExport, []byte(`{"kind":"history","limit":-1}`), domain.CodeInvalidField, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Call(ctx, tc.endpoint, tc.body)
			if domain.CodeOf(err) != tc.want || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v (%s), want %s mentioning %q", err, domain.CodeOf(err), tc.want, tc.mention)
			}
		})
	}
}

// FuzzWhatIfRequest: decoding what-if and export requests never panics, and
// whatever decodes survives a round trip unchanged.
func FuzzWhatIfRequest(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"policy_file":"{}","at":"2024-01-01T00:00:00Z","known_seq":3,"history":true,"after_partner":"P-1","limit":10}`,
		`{"kind":"tiers","at":"2024-01-01","known_seq":1,"after_partner":"P-9","limit":1000}`, `{"limit":1e99}`, `[1]`, `{"history":"yes"}`, `{}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := rpc.DecodeWhatIf(data); err == nil {
			b, _ := json.Marshal(r)
			again, err := rpc.DecodeWhatIf(b)
			if err != nil || !reflect.DeepEqual(r, again) {
				t.Fatalf("what-if round trip: %+v → %s → %+v (%v)", r, b, again, err)
			}
		} else if c := domain.CodeOf(err); c != domain.CodeInvalidRequest && c != domain.CodeRequestTooLarge {
			t.Fatalf("what-if decode error without its code: %v", err)
		}
		if r, err := rpc.DecodeExport(data); err == nil {
			b, _ := json.Marshal(r)
			again, err := rpc.DecodeExport(b)
			if err != nil || !reflect.DeepEqual(r, again) {
				t.Fatalf("export round trip: %+v → %s → %+v (%v)", r, b, again, err)
			}
		} else if c := domain.CodeOf(err); c != domain.CodeInvalidRequest && c != domain.CodeRequestTooLarge {
			t.Fatalf("export decode error without its code: %v", err)
		}
	})
}
