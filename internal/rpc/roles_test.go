package rpc

import (
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

func TestPermitOf(t *testing.T) {
	if p, err := permitOf("ledger.submit"); err != nil || p != nil {
		t.Errorf("plain submit (admin): %v %v", p != nil, err)
	}
	p, err := permitOf("ledger.submit.billing")
	if err != nil || p == nil || p(domain.TypeSaleBilled) != nil || p(domain.TypeOfferPublished) == nil {
		t.Errorf("billing permit wrong: %v", err)
	}
	p, err = permitOf("ledger.submit.auditor")
	if err != nil || p == nil || p(domain.TypeSaleBilled) == nil {
		t.Errorf("auditor permit wrong: %v", err)
	}
	if _, err := permitOf("ledger.submit.root"); domain.CodeOf(err) != domain.CodeForbidden {
		t.Errorf("unknown role: %v", err)
	}
}

func TestEndpointOf(t *testing.T) {
	for in, want := range map[string]string{
		"ledger.submit":         "ledger.submit",
		"ledger.submit.billing": "ledger.submit",
		"ledger.tier":           "ledger.tier",
		"ledger.submitx":        "ledger.submitx",
	} {
		if got := endpointOf(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
