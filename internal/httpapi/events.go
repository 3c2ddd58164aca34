package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// Content types of POST /v1/events (CloudEvents 1.0 HTTP binding).
const (
	typeJSON       = "application/json"                   // structured (one envelope), or binary with ce-* headers
	typeCloudEvent = "application/cloudevents+json"       // structured: one envelope
	typeBatch      = "application/cloudevents-batch+json" // batch: a JSON array of envelopes
	typeNDJSON     = "application/x-ndjson"               // many structured envelopes, one per line (as ledger.submit)
)

// cePrefix starts the header of a binary-mode attribute (case-insensitive).
const cePrefix = "ce-"

// attributeName is a CloudEvents attribute name.
var attributeName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// events serves POST /v1/events: any CloudEvents mode, answered with the
// `submit --json` lines as a JSON array.
func (s *Server) events(w http.ResponseWriter, r *http.Request, role auth.Role) {
	if !role.MaySubmitAny() {
		s.fail(w, r, &domain.Error{Code: domain.CodeForbidden, Msg: fmt.Sprintf("role %s may not submit events; it may only query", role)})
		return
	}
	mediaType, err := contentType(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.ContentLength > rpc.MaxRequestBytes {
		s.fail(w, r, tooLarge(r.ContentLength))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rpc.MaxRequestBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.fail(w, r, tooLarge(-1))
			return
		}
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "reading the body: " + err.Error()})
		return
	}
	attrs, err := ceHeaders(r.Header)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	binary := len(attrs) > 0 && mediaType == typeJSON
	var lines []cloudevents.Line
	switch {
	case binary:
		env, res := binaryEnvelope(attrs, body)
		if res != nil {
			lines = []cloudevents.Line{{ID: res.ID, Err: &domain.Error{Code: res.Code, Msg: res.Error}}}
		} else {
			lines = []cloudevents.Line{{Raw: env}}
		}
	case mediaType == typeBatch:
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "a batch (" + typeBatch + ") must be one JSON array of envelopes: " + err.Error()})
			return
		}
		for _, e := range elems {
			lines = append(lines, cloudevents.Line{Raw: e})
		}
	case mediaType == typeNDJSON:
		// Blank lines are skipped keeping the line numbers, as on
		// ledger.submit and the intake.
		lines = cloudevents.NDJSON(body)
	default: // one structured envelope, whatever its line breaks
		if t := bytes.TrimSpace(body); len(t) > 0 {
			lines = []cloudevents.Line{{Raw: t}}
		}
	}
	if cloudevents.Events(lines) == 0 {
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "the request holds no events"})
		return
	}
	if len(lines) > ledger.MaxLines {
		s.fail(w, r, &domain.Error{Code: domain.CodeTooManyLines, Msg: fmt.Sprintf("%d events, at most %d per request", len(lines), ledger.MaxLines)})
		return
	}
	if len(attrs) > 0 && !binary {
		// ce-* headers on a structured body: never silently ignored.
		for i := range lines {
			if !lines[i].Blank {
				lines[i] = cloudevents.Line{Err: &domain.Error{Code: domain.CodeInvalidEnvelope,
					Msg: fmt.Sprintf("ce-* headers (%s) on a structured (%s) body: send the attributes in the envelope, or the data alone as %s", strings.Join(slices.Sorted(mapsKeys(attrs)), ", "), mediaType, typeJSON)}}
			}
		}
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
	results = cloudevents.Merge(lines, results)
	b, err := json.Marshal(results)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(cePrefix + k) {
				return
			}
		}
	}
}

func tooLarge(n int64) error {
	if n < 0 {
		return &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request body over %d bytes", rpc.MaxRequestBytes)}
	}
	return &domain.Error{Code: domain.CodeRequestTooLarge, Msg: fmt.Sprintf("request is %d bytes, at most %d", n, rpc.MaxRequestBytes)}
}

// contentType returns the request's media type, one POST /v1/events takes.
// No Content-Type is a structured envelope, as on ledger.submit.
func contentType(r *http.Request) (string, error) {
	vs := r.Header.Values("Content-Type")
	if len(vs) == 0 {
		return typeCloudEvent, nil
	}
	unsupported := func(msg string) error {
		return &domain.Error{Code: domain.CodeUnsupportedMediaType, Msg: msg + fmt.Sprintf(
			": send %s or %s (structured; with ce-* headers, %s is binary mode), %s (a JSON array) or %s (NDJSON)",
			typeCloudEvent, typeJSON, typeJSON, typeBatch, typeNDJSON)}
	}
	if len(vs) > 1 {
		return "", unsupported("more than one Content-Type")
	}
	mt, params, err := mime.ParseMediaType(vs[0])
	if err != nil {
		return "", unsupported(fmt.Sprintf("Content-Type %q is malformed", vs[0]))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", unsupported(fmt.Sprintf("charset %q", cs))
	}
	switch mt {
	case typeJSON, typeCloudEvent, typeBatch, typeNDJSON:
		return mt, nil
	}
	return "", unsupported(fmt.Sprintf("Content-Type %q is not taken", mt))
}

// ceHeaders collects the binary-mode attributes: every header named ce-NAME
// (case-insensitive), its value percent-decoded as the HTTP binding says.
// A repeated attribute, a name that is no CloudEvents attribute name, a
// ce-data header or a badly encoded value is invalid_header: the request is
// refused, since no envelope can be built from it.
func ceHeaders(h http.Header) (map[string]string, error) {
	attrs := map[string]string{}
	for key, vs := range h {
		lower := strings.ToLower(key)
		if !strings.HasPrefix(lower, cePrefix) {
			continue
		}
		name := lower[len(cePrefix):]
		bad := func(format string, args ...any) error {
			return &domain.Error{Code: domain.CodeInvalidHeader, Msg: fmt.Sprintf("header %s: ", key) + fmt.Sprintf(format, args...)}
		}
		switch {
		case !attributeName.MatchString(name):
			return nil, bad("%q is not a CloudEvents attribute name (lowercase letters and digits, at most 20)", name)
		case name == "data":
			return nil, bad("data is the body in binary mode, never a header")
		case len(vs) > 1:
			return nil, bad("given %d times", len(vs))
		}
		v, err := url.PathUnescape(vs[0])
		if err != nil {
			return nil, bad("bad percent-encoding: %v", err)
		}
		if !utf8.ValidString(v) {
			return nil, bad("not UTF-8 once percent-decoded")
		}
		attrs[name] = v
	}
	return attrs, nil
}

// envelopeOrder is the order of the attributes in an envelope built from
// headers: the contract's, then extensions by name, then data.
var envelopeOrder = []string{"specversion", "id", "source", "type", "time"}

// binaryEnvelope builds the structured envelope a binary-mode request
// denotes, for the same parser and writer as every other line. The body
// must be one JSON value (it becomes data as sent); otherwise the event is
// answered invalid_json without being submitted. A missing attribute is
// left missing, for the parser to name.
func binaryEnvelope(attrs map[string]string, body []byte) ([]byte, *ledger.LineResult) {
	data := bytes.TrimSpace(body)
	if len(data) > 0 && !json.Valid(data) {
		return nil, &ledger.LineResult{Line: 1, ID: attrs["id"], Code: domain.CodeInvalidJSON,
			Error: "the body (the event's data in binary mode) is not one JSON value"}
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		if !slices.Contains(envelopeOrder, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteByte('{')
	for _, n := range append(slices.Clone(envelopeOrder), names...) {
		v, ok := attrs[n]
		if !ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(jsonString(n))
		b.WriteByte(':')
		b.Write(jsonString(v))
	}
	if len(data) > 0 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"data":`)
		b.Write(data)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonString encodes s as a JSON string, without the HTML escapes of
// json.Marshal: the envelope keeps the attribute as sent.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
