package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// policy serves GET /v1/policy: the running ledger's policy file, byte for
// byte, as the RPC's ledger.policy answers it (every role may read it; the
// dashboard draws the eras' thresholds from it).
func (s *Server) policy(w http.ResponseWriter, r *http.Request, _ auth.Role) {
	s.noParams(w, r, "policy", s.cfg.Queries.PolicyFile)
}

// whatIf serves POST /v1/whatif: the body is the RPC's what-if request
// ({"policy_file":…,"at":…,"known_seq":…,"after_partner":…,"limit":…}),
// decoded as strictly, bounded as every request body, and the answer is the
// RPC's page document. Like ledger.whatif it scans every partner, so only
// the reading roles (admin, auditor) may call it.
func (s *Server) whatIf(w http.ResponseWriter, r *http.Request, role auth.Role) {
	if !role.Reads() {
		s.fail(w, r, &domain.Error{Code: domain.CodeForbidden, Msg: fmt.Sprintf("role %s may not run what-if scans (admin and auditor may)", role)})
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := rpc.DecodeWhatIf(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.set.QueryTimeout)
	defer cancel()
	doc, err := s.cfg.Queries.WhatIf(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := json.Marshal(doc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
