package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// events serves POST /v1/events: any CloudEvents mode, answered with the
// `submit --json` lines as a JSON array. The modes are read as on NATS, by
// package cloudevents under its HTTP binding (percent-encoded ce-* values,
// a structured body is one envelope, NDJSON as application/x-ndjson).
func (s *Server) events(w http.ResponseWriter, r *http.Request, role auth.Role) {
	if !role.MaySubmitAny() {
		s.fail(w, r, &domain.Error{Code: domain.CodeForbidden, Msg: fmt.Sprintf("role %s may not submit events; it may only query", role)})
		return
	}
	// The media type first: an unsupported one is refused before the body
	// is read.
	if _, err := cloudevents.ModeOf(r.Header); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mode, lines, err := cloudevents.HTTP.Decode(r.Header, body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case mode == cloudevents.Binary && lines[0].Err != nil && lines[0].Err.Code == domain.CodeInvalidHeader:
		// Over HTTP the request is the event: malformed ce-* headers
		// refuse it whole (no envelope can be built from them).
		s.fail(w, r, lines[0].Err)
		return
	case mode == cloudevents.Batch && !jsonArray(body):
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "a batch (" + cloudevents.ContentTypeBatch + ") must be one JSON array of envelopes"})
		return
	}
	if cloudevents.Events(lines) == 0 {
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "the request holds no events"})
		return
	}
	if len(lines) > ledger.MaxLines {
		s.fail(w, r, &domain.Error{Code: domain.CodeTooManyLines, Msg: fmt.Sprintf("%d events, at most %d per request", len(lines), ledger.MaxLines)})
		return
	}
	var results []ledger.LineResult
	if raws := cloudevents.Raws(lines); len(raws) > 0 {
		permit := ledger.Permit(role.CheckSubmit)
		if role.SubmitsAll() {
			permit = nil
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.set.SubmitTimeout)
		defer cancel()
		results, err = s.cfg.Writer.SubmitAs(ctx, permit, raws)
		if err != nil {
			code := domain.CodeInternal
			if errors.Is(err, context.DeadlineExceeded) {
				code = domain.CodeTimeout
			}
			s.fail(w, r, &domain.Error{Code: code, Msg: "submission not confirmed: " + err.Error() + "; resubmit: duplicates are detected"})
			return
		}
	}
	b, err := json.Marshal(cloudevents.Merge(lines, results))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// jsonArray reports whether body is one JSON array.
func jsonArray(body []byte) bool {
	var elems []json.RawMessage
	return json.Unmarshal(body, &elems) == nil && elems != nil
}

func tooLarge(n int64) error {
	if n < 0 {
		return &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request body over %d bytes", rpc.MaxRequestBytes)}
	}
	return &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", n, rpc.MaxRequestBytes)}
}

// readBody reads a request's body, at most rpc.MaxRequestBytes: a larger
// one (declared or read) is request_too_large, a failed read
// invalid_request.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > rpc.MaxRequestBytes {
		return nil, tooLarge(r.ContentLength)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rpc.MaxRequestBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(-1)
		}
		return nil, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "reading the body: " + err.Error()}
	}
	return body, nil
}
