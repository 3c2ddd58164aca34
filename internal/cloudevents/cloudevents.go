// Package cloudevents turns a message of any CloudEvents 1.0 content mode
// (CONTRACT.md "CloudEvents modes", after the NATS and HTTP protocol
// bindings) into the structured envelopes the ledger's strict parser
// (domain.ParseEnvelope) validates and the log records:
//
//   - structured: the body is one envelope, or NDJSON of many (Content-Type
//     absent, application/json or application/cloudevents+json);
//   - binary: the attributes are ce-* headers (names case-insensitive), the
//     body is data, Content-Type application/json: the envelope it denotes
//     is built and then parsed exactly like a structured one;
//   - batch: Content-Type application/cloudevents-batch+json, the body a JSON
//     array of structured envelopes, one line per element.
//
// Decode does no validation of its own beyond the mode and the headers:
// attributes, types and data are left to the parser, so every ingress
// (ledger.submit, the intake, the HTTP API) answers a given event with the
// same code. The NATS and HTTP bindings differ only where their specs do
// (Binding): HTTP percent-encodes attribute values, and its structured body
// is one envelope (NDJSON travels as application/x-ndjson). The
// official Go SDK (github.com/cloudevents/sdk-go) is not used: it is not
// among the modules available to this build, and its binding decodes into
// its own event type with encoding/json (case-insensitive, last-duplicate-
// wins names, re-encoded data), which would hide exactly the faults the
// strict parser reports and change the bytes the log stores as received.
package cloudevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// Mode is a CloudEvents content mode.
type Mode string

// The content modes.
const (
	Structured Mode = "structured"
	Binary     Mode = "binary"
	Batch      Mode = "batch"
)

// Media types of the modes.
const (
	ContentTypeJSON       = "application/json"
	ContentTypeStructured = "application/cloudevents+json"
	ContentTypeBatch      = "application/cloudevents-batch+json"
	ContentTypeNDJSON     = "application/x-ndjson" // structured: NDJSON, one envelope per line
)

// Binding is how a protocol binding carries a message: what differs between
// the CloudEvents NATS and HTTP bindings. Everything else (ce-* attribute
// decoding and its checks, Content-Type to mode, the envelope a binary
// message denotes) is one code for both.
type Binding struct {
	// PercentEncoded: ce-* header values are percent-encoded (HTTP
	// binding 3.1.3.2); NATS headers carry them as they are.
	PercentEncoded bool
	// OneEnvelope: a structured body (no Content-Type, application/json,
	// application/cloudevents+json) is one envelope, whatever its line
	// breaks (HTTP); otherwise it is NDJSON (ledger.submit, the intake).
	// application/x-ndjson is NDJSON under both.
	OneEnvelope bool
	// HeaderCode is the code of a binary-mode event whose ce-* headers no
	// envelope can be built from (Attributes). On NATS it is the line's
	// invalid_envelope, as before the bindings shared this code: CONTRACT
	// calls an attribute of the wrong shape invalid_envelope, and
	// ledger.submit answers per line. Over HTTP the request is refused
	// whole, 400 invalid_header.
	HeaderCode domain.Code
}

// The bindings.
var (
	NATS = Binding{HeaderCode: domain.CodeInvalidEnvelope}
	HTTP = Binding{PercentEncoded: true, OneEnvelope: true, HeaderCode: domain.CodeInvalidHeader}
)

// HeaderPrefix starts every binary-mode attribute header.
const HeaderPrefix = "ce-"

// Line is one input line of a message: the structured envelope to submit,
// or, when Err is set, the line's refusal before parsing (Raw is then nil
// and ID the event id when the message named one), or, when Blank is set,
// a blank NDJSON line (only white space): it is skipped, with no result,
// but keeps its place, so the other lines keep their numbers (as `ledger
// submit` skips blank lines of its input), and counts toward
// ledger.MaxLines like any line of the message.
type Line struct {
	Raw   []byte
	ID    string
	Err   *domain.Error
	Blank bool
}

// Header returns the values of header name in h, matching names
// case-insensitively (NATS keeps header names as sent).
func Header(h map[string][]string, name string) []string {
	if v, ok := h[name]; ok {
		return v
	}
	var out []string
	for k, v := range h {
		if strings.EqualFold(k, name) {
			out = append(out, v...)
		}
	}
	return out
}

// ModeOf returns the content mode that headers h select: binary when any
// ce-* header is present on a JSON (or absent) Content-Type, batch and
// structured by Content-Type. An unknown Content-Type is an error coded
// domain.CodeUnsupportedMediaType.
func ModeOf(h map[string][]string) (Mode, error) {
	ct, err := contentType(h)
	if err != nil {
		return "", err
	}
	switch ct {
	case ContentTypeBatch:
		return Batch, nil
	case ContentTypeStructured, ContentTypeNDJSON:
		return Structured, nil
	case "", ContentTypeJSON:
		if hasCE(h) {
			return Binary, nil
		}
		return Structured, nil
	}
	return "", &domain.Error{Code: domain.CodeUnsupportedMediaType, Msg: fmt.Sprintf(
		"Content-Type %q is no CloudEvents mode: use %s (structured or binary), %s, %s or %s (NDJSON)",
		domain.Clip(ct), ContentTypeJSON, ContentTypeStructured, ContentTypeBatch, ContentTypeNDJSON)}
}

// MediaType is the media type of the Content-Type header of h, lowercased,
// without parameters ("" when absent); a repeated or malformed one, or a
// charset other than utf-8, is an error coded
// domain.CodeUnsupportedMediaType.
func MediaType(h map[string][]string) (string, error) { return contentType(h) }

// contentType is the media type of the Content-Type header, lowercased,
// without parameters ("" when absent).
func contentType(h map[string][]string) (string, error) {
	vs := Header(h, "Content-Type")
	if len(vs) == 0 {
		return "", nil
	}
	if len(vs) > 1 {
		return "", &domain.Error{Code: domain.CodeUnsupportedMediaType, Msg: "Content-Type is given more than once"}
	}
	mt, params, err := mime.ParseMediaType(vs[0])
	if err != nil {
		return "", &domain.Error{Code: domain.CodeUnsupportedMediaType, Msg: fmt.Sprintf("Content-Type %q: %v", domain.Clip(vs[0]), err)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", &domain.Error{Code: domain.CodeUnsupportedMediaType, Msg: fmt.Sprintf("charset %q: only utf-8", domain.Clip(cs))}
	}
	return mt, nil
}

// hasCE reports whether any ce-* header is present.
func hasCE(h map[string][]string) bool {
	for k := range h {
		if len(k) > len(HeaderPrefix) && strings.EqualFold(k[:len(HeaderPrefix)], HeaderPrefix) {
			return true
		}
	}
	return false
}

// Decode returns the lines of a message with headers h and body body under
// the NATS binding (NATS.Decode).
func Decode(h map[string][]string, body []byte) (Mode, []Line, error) { return NATS.Decode(h, body) }

// Decode returns the lines of a message with headers h and body body, in
// order (see the package doc). Its error, coded domain.CodeUnsupportedMediaType,
// refuses the whole message; otherwise every line is an envelope for the
// parser, a blank NDJSON line, or a refusal: malformed ce-* headers of a
// binary message are invalid_header (Attributes), ce-* headers on a
// structured body or a batch are invalid_envelope (never silently
// ignored), a binary body that is not one JSON value is invalid_json, and a
// batch body that is not a JSON array is one invalid_json line.
func (b Binding) Decode(h map[string][]string, body []byte) (Mode, []Line, error) {
	mode, err := ModeOf(h)
	if err != nil {
		return "", nil, err
	}
	switch mode {
	case Binary:
		return mode, []Line{b.binary(h, body)}, nil
	case Batch:
		if hasCE(h) {
			return mode, []Line{{Err: ceOnStructured()}}, nil
		}
		return mode, batch(body), nil
	}
	var out []Line
	if ct, _ := contentType(h); b.OneEnvelope && ct != ContentTypeNDJSON {
		if t := bytes.TrimSpace(body); len(t) > 0 {
			out = []Line{{Raw: t}}
		}
	} else {
		out = NDJSON(body)
	}
	if hasCE(h) {
		for i := range out {
			if !out[i].Blank {
				out[i] = Line{Err: ceOnStructured()}
			}
		}
	}
	return mode, out, nil
}

// NDJSON returns the lines of an NDJSON body, blank ones marked Blank; nil
// when the body holds nothing but white space (no input lines: the caller
// refuses the message). Every ingress reads NDJSON with it, so a blank
// line is skipped alike on ledger.submit, the intake and POST /v1/events.
func NDJSON(body []byte) []Line {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	raws := SplitLines(body)
	out := make([]Line, len(raws))
	for i, l := range raws {
		out[i] = Line{Raw: l, Blank: len(bytes.TrimSpace(l)) == 0}
	}
	return out
}

// Events counts the lines that are not blank.
func Events(lines []Line) int {
	n := 0
	for _, l := range lines {
		if !l.Blank {
			n++
		}
	}
	return n
}

func ceOnStructured() *domain.Error {
	return &domain.Error{Code: domain.CodeInvalidEnvelope, Msg: "ce-* headers on a structured envelope: send the attributes either as headers with data as the body (binary mode) or in the body, not both"}
}

// required are the attributes every input carries, in the order the
// envelope a binary message denotes lists them.
var required = []string{"specversion", "id", "source", "type", "time"}

// attributeName is a CloudEvents attribute name (spec: lowercase letters
// and digits, at most 20 characters).
var attributeName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// Attributes returns the binary-mode attributes of headers h: every header
// ce-<name> (names case-insensitive) as attribute <name>, its value
// percent-decoded when the binding says so. An error, coded
// domain.CodeInvalidHeader, is a header no envelope can be built from: a
// repeated attribute (two values, or two spellings of one name), a name
// that is no CloudEvents attribute name, a ce-data header (data is the
// body), a badly percent-encoded value, or one that is not UTF-8.
func (b Binding) Attributes(h map[string][]string) (map[string]string, error) {
	attrs := map[string]string{}
	for key, vs := range h {
		if len(key) <= len(HeaderPrefix) || !strings.EqualFold(key[:len(HeaderPrefix)], HeaderPrefix) {
			continue
		}
		name := strings.ToLower(key[len(HeaderPrefix):])
		bad := func(format string, args ...any) error {
			return &domain.Error{Code: domain.CodeInvalidHeader, Msg: fmt.Sprintf("header %s: ", domain.Clip(key)) + fmt.Sprintf(format, args...)}
		}
		_, dup := attrs[name]
		switch {
		case name == "data" || name == "data_base64":
			return nil, bad("data travels in the body in binary mode, never in a header")
		case !attributeName.MatchString(name):
			return nil, bad("%q is not a CloudEvents attribute name (lowercase letters and digits, at most 20)", domain.Clip(name))
		case dup || len(vs) != 1:
			return nil, bad("attribute %s is given more than once", name)
		}
		v := vs[0]
		if b.PercentEncoded {
			var err error
			if v, err = url.PathUnescape(v); err != nil {
				return nil, bad("bad percent-encoding: %v", err)
			}
		}
		if !utf8.ValidString(v) {
			return nil, bad("the value is not UTF-8")
		}
		attrs[name] = v
	}
	return attrs, nil
}

// binary builds the line of a binary-mode message: the structured envelope
// it denotes, every attribute (Attributes) a JSON string, the body as data.
// (Content-Type is application/json or absent in binary mode, ModeOf: the
// default for JSON data, so no datacontenttype, and the envelope equals the
// structured one a publisher would have written.) Missing or malformed
// attributes are left for the parser to name.
func (b Binding) binary(h map[string][]string, body []byte) Line {
	attrs, err := b.Attributes(h)
	if err != nil {
		e := *err.(*domain.Error)
		if b.HeaderCode != "" {
			e.Code = b.HeaderCode
		}
		return Line{ID: first(Header(h, HeaderPrefix+"id")), Err: &e}
	}
	id := attrs["id"]
	data := bytes.TrimSpace(body)
	if len(data) == 0 || !json.Valid(data) {
		return Line{ID: id, Err: &domain.Error{Code: domain.CodeInvalidJSON, Msg: "the body of a binary-mode event (its data) is not one JSON value"}}
	}
	if isEnvelope(data) {
		return Line{ID: id, Err: ceOnStructured()}
	}
	// The required attributes first, in their usual order, then the others
	// sorted: one spelling per event, whatever the header order.
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		ia, ib := slices.Index(required, a), slices.Index(required, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	var env bytes.Buffer
	env.WriteByte('{')
	for _, name := range names {
		env.Write(jsonString(name))
		env.WriteByte(':')
		env.Write(jsonString(attrs[name]))
		env.WriteByte(',')
	}
	env.WriteString(`"data":`)
	env.Write(data)
	env.WriteByte('}')
	return Line{Raw: env.Bytes(), ID: id}
}

// jsonString encodes s as a JSON string without the HTML escapes of
// json.Marshal: the envelope keeps the attribute as sent.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// isEnvelope reports whether a JSON object carries a specversion member:
// a structured envelope sent as the body of a binary-mode message (no data
// of any event type has such a field).
func isEnvelope(data []byte) bool {
	if data[0] != '{' {
		return false
	}
	names, err := domain.ObjectNames(data)
	return err == nil && slices.Contains(names, "specversion")
}

// batch splits a batch body into its elements, each kept as sent.
func batch(body []byte) []Line {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return []Line{{Err: &domain.Error{Code: domain.CodeInvalidJSON, Msg: "a batch must be one JSON array of structured envelopes: " + domain.Clip(err.Error())}}}
	}
	out := make([]Line, len(elems))
	for i, e := range elems {
		out[i] = Line{Raw: e}
	}
	return out
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// SplitLines splits NDJSON into lines, dropping a trailing newline and
// carriage returns; blank lines are kept, so line numbers stay those of the
// input (NDJSON marks them Blank).
func SplitLines(data []byte) [][]byte {
	data = bytes.TrimRight(data, "\r\n")
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return lines
}

// Raws returns the envelopes of the lines without a refusal that are not
// blank, in order: what the writer decides.
func Raws(lines []Line) [][]byte {
	raws := make([][]byte, 0, len(lines))
	for _, l := range lines {
		if l.Err == nil && !l.Blank {
			raws = append(raws, l.Raw)
		}
	}
	return raws
}

// Merge returns one result per line of a message that is not blank, in
// order: the refusals of Decode, and for the other lines the writer's
// results for Raws(lines), renumbered to the lines' 1-based positions in
// the message (blank lines included, so numbers are the input's).
func Merge(lines []Line, submitted []ledger.LineResult) []ledger.LineResult {
	out := make([]ledger.LineResult, 0, len(lines))
	next := 0
	for i, l := range lines {
		var r ledger.LineResult
		if l.Blank {
			continue
		}
		if l.Err != nil {
			r = ledger.LineResult{ID: l.ID, Code: l.Err.Code, Error: l.Err.Error()}
		} else if next < len(submitted) {
			r = submitted[next]
			next++
		}
		r.Line = i + 1
		out = append(out, r)
	}
	return out
}

// ToBinary returns the binary-mode form of a structured envelope: one
// ce-<name> header per attribute, Content-Type application/json, and data
// as the body. ok is false when the envelope has no binary form (it is not
// one JSON object, names an attribute twice, has an attribute that is not
// a string, a name that is no attribute name (Attributes would refuse its
// header) or a value a header cannot carry, or its data is missing or not
// an object): publish it in structured mode, where the parser names the
// fault.
func ToBinary(envelope []byte) (headers map[string]string, data []byte, ok bool) {
	names, err := domain.ObjectNames(envelope)
	if err != nil {
		return nil, nil, false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(envelope, &members) != nil || len(members) != len(names) {
		return nil, nil, false
	}
	headers = map[string]string{"Content-Type": ContentTypeJSON}
	for _, name := range names {
		v := bytes.TrimSpace(members[name])
		if name == "data" {
			if len(v) == 0 || v[0] != '{' {
				return nil, nil, false
			}
			data = v
			continue
		}
		if name == "datacontenttype" || !attributeName.MatchString(name) {
			return nil, nil, false
		}
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil || strings.ContainsAny(s, "\r\n\x00") || s != strings.TrimSpace(s) {
			return nil, nil, false
		}
		headers[HeaderPrefix+name] = s
	}
	if data == nil {
		return nil, nil, false
	}
	return headers, data, true
}
