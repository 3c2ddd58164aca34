package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/nats-io/nats.go/micro"
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

// CodeReplyTooLarge: the reply could not be sent within the NATS max
// payload; ask for a smaller page (limit).
const CodeReplyTooLarge domain.Code = "reply_too_large"

// addScans registers the policy, what-if and export endpoints.
func (s *Server) addScans(endpoints map[string]func(context.Context, micro.Request)) {
	endpoints[EndpointPolicy] = func(ctx context.Context, req micro.Request) {
		b, err := s.q.PolicyFile(ctx)
		if err != nil {
			s.fail(req, err)
			return
		}
		s.reply(req, b)
	}
	endpoints[EndpointWhatIf] = decoded(s, DecodeWhatIf, s.q.WhatIf)
	endpoints[EndpointExport] = decoded(s, DecodeExport, s.q.Export)
}

// DecodeWhatIf decodes a what-if request strictly: a JSON object with only
// the fields of ledger.WhatIfRequest.
func DecodeWhatIf(data []byte) (ledger.WhatIfRequest, error) {
	var r ledger.WhatIfRequest
	return r, decodeStrict(data, &r, "{policy_file, at, known_seq, history, after_partner, limit}")
}

// DecodeExport decodes an export request strictly.
func DecodeExport(data []byte) (ledger.ExportRequest, error) {
	var r ledger.ExportRequest
	return r, decodeStrict(data, &r, "{kind, at, known_seq, after_partner, limit}")
}

func decodeStrict(data []byte, v any, shape string) error {
	if len(data) > MaxRequestBytes {
		return &domain.Error{Code: CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", len(data), MaxRequestBytes)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &domain.Error{Code: CodeBadRequest, Msg: "request must be a JSON object " + shape + ": " + err.Error()}
	}
	if dec.More() {
		return &domain.Error{Code: CodeBadRequest, Msg: "request must be one JSON object " + shape + ": data after it"}
	}
	return nil
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
		s.reply(req, b)
	}
}

// reply sends b, or a coded error when it cannot be sent (over the NATS max
// payload): never a timeout at the caller.
func (s *Server) reply(req micro.Request, b []byte) {
	if err := req.Respond(b); err != nil {
		s.fail(req, &domain.Error{Code: CodeReplyTooLarge, Msg: fmt.Sprintf("the reply (%d bytes) could not be sent: %v; ask for fewer partners per page (limit)", len(b), err)})
	}
}
