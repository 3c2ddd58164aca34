package rpc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
)

// Endpoints of the policy, what-if and export (CONTRACT.md "What-if").
const (
	// EndpointPolicy answers the running ledger's policy file, byte for
	// byte; every role may read it.
	EndpointPolicy = "policy"
	// EndpointWhatIf answers one page of a what-if scan (admin and auditor).
	EndpointWhatIf = "whatif"
	// EndpointExport answers one page of an export (admin and auditor).
	EndpointExport = "export"
)

// addScans registers the policy, what-if and export endpoints.
func (s *Server) addScans(endpoints map[string]func(context.Context, micro.Request)) {
	endpoints[EndpointPolicy] = func(ctx context.Context, req micro.Request) {
		b, err := s.q.PolicyFile(ctx)
		if err != nil {
			s.fail(req, err)
			return
		}
		s.respond(req, b)
	}
	endpoints[EndpointWhatIf] = decoded(s, DecodeWhatIf, s.q.WhatIf)
	endpoints[EndpointExport] = decoded(s, DecodeExport, s.q.Export)
}

// DecodeWhatIf decodes a what-if request strictly (DecodeStrict).
func DecodeWhatIf(data []byte) (ledger.WhatIfRequest, error) {
	var r ledger.WhatIfRequest
	if len(data) > MaxRequestBytes {
		return r, &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", len(data), MaxRequestBytes)}
	}
	return r, DecodeStrict(data, &r)
}

// DecodeExport decodes an export request strictly (DecodeStrict).
func DecodeExport(data []byte) (ledger.ExportRequest, error) {
	var r ledger.ExportRequest
	return r, DecodeStrict(data, &r)
}

// decoded adapts a method taking a decoded request to an endpoint.
func decoded[R, D any](s *Server, decode func([]byte) (R, error), fn func(context.Context, R) (D, error)) func(context.Context, micro.Request) {
	return func(ctx context.Context, req micro.Request) {
		r, err := decode(req.Data())
		if err != nil {
			s.fail(req, err)
			return
		}
		doc, err := fn(ctx, r)
		if err != nil {
			s.fail(req, err)
			return
		}
		b, err := json.Marshal(doc)
		if err != nil {
			s.fail(req, err)
			return
		}
		s.respond(req, b)
	}
}
