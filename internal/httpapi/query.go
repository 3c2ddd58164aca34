package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// queryParams are the query parameters a query takes: the JSON fields of
// ledger.Query, read from the struct itself so that a field the RPC gains
// is a parameter here without a second list to keep in step.
type queryParams map[string]reflect.Type

func newQueryParams() queryParams {
	p := queryParams{}
	t := reflect.TypeFor[ledger.Query]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p[name] = f.Type
	}
	return p
}

// names lists the parameters, for error messages.
func (p queryParams) names(except string) string {
	var out []string
	for n := range p {
		if n != except {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// parse turns the URL's query into the ledger.Query the RPC would decode
// from the same fields: each parameter is converted to its field's JSON
// type and the object is decoded as strictly as the RPC decodes it. An
// unknown, repeated or ill-typed parameter is invalid_request.
func (p queryParams) parse(values url.Values, partner string) (ledger.Query, error) {
	bad := func(format string, args ...any) (ledger.Query, error) {
		return ledger.Query{}, &domain.Error{Code: domain.CodeInvalidRequest, Msg: fmt.Sprintf(format, args...)}
	}
	obj := map[string]json.RawMessage{}
	for name, vs := range values {
		except := ""
		if partner != "" {
			except = "partner_id"
		}
		t, ok := p[name]
		if !ok || name == except {
			return bad("unknown query parameter %q (parameters: %s)", name, p.names(except))
		}
		var raw json.RawMessage
		var err error
		if t.Kind() == reflect.Slice {
			var items []string
			for _, v := range vs {
				items = append(items, strings.Split(v, ",")...)
			}
			raw, err = jsonValue(reflect.SliceOf(t.Elem()), items)
		} else {
			if len(vs) > 1 {
				return bad("query parameter %q is given %d times", name, len(vs))
			}
			raw, err = jsonScalar(t, vs[0])
		}
		if err != nil {
			return bad("query parameter %s: %v", name, err)
		}
		obj[name] = raw
	}
	if partner != "" {
		obj["partner_id"], _ = json.Marshal(partner)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return bad("query: %v", err)
	}
	var q ledger.Query
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return bad("query parameters: %v", err)
	}
	return q, nil
}

// jsonScalar renders one parameter value as its field's JSON value.
func jsonScalar(t reflect.Type, v string) (json.RawMessage, error) {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(v, 10, t.Bits()); err != nil {
			return nil, fmt.Errorf("must be an integer (got %q)", v)
		}
		return json.RawMessage(v), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(v, 10, t.Bits()); err != nil {
			return nil, fmt.Errorf("must be a non-negative integer (got %q)", v)
		}
		return json.RawMessage(v), nil
	case reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("must be true or false (got %q)", v)
		}
		return json.Marshal(b)
	case reflect.Pointer:
		return jsonScalar(t.Elem(), v)
	}
	return json.Marshal(v) // strings, and types that decode themselves from a JSON string
}

// jsonValue renders repeated values as a JSON array.
func jsonValue(t reflect.Type, items []string) (json.RawMessage, error) {
	parts := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		raw, err := jsonScalar(t.Elem(), it)
		if err != nil {
			return nil, err
		}
		parts = append(parts, raw)
	}
	return json.Marshal(parts)
}

// partnerQuery serves GET /v1/partners/{id}/ENDPOINT with fn, the method the
// RPC's endpoint calls.
func partnerQuery[D any](s *Server, fn func(context.Context, ledger.Query) (D, error)) roleHandler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Role) {
		answer(s, w, r, fn, r.PathValue("id"))
	}
}

// plainQuery serves a query that names no partner in its path.
func plainQuery[D any](s *Server, fn func(context.Context, ledger.Query) (D, error)) roleHandler {
	return func(w http.ResponseWriter, r *http.Request, _ auth.Role) {
		answer(s, w, r, fn, "")
	}
}

func answer[D any](s *Server, w http.ResponseWriter, r *http.Request, fn func(context.Context, ledger.Query) (D, error), partner string) {
	values, err := queryValues(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := s.params.parse(values, partner)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if partner != "" && q.PartnerID == "" {
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "the path names no partner"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.set.QueryTimeout)
	defer cancel()
	doc, err := fn(ctx, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := domain.MarshalJSON(doc) // the RPC's bytes
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// stats serves GET /v1/stats, which takes no parameters.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ auth.Role) {
	s.noParams(w, r, "stats", func(ctx context.Context) ([]byte, error) {
		doc, err := s.cfg.Queries.Stats(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(doc)
	})
}

// noParams serves a GET of a document that takes no query parameters: any
// is invalid_request; doc runs within the query timeout and its bytes are
// the 200 answer.
func (s *Server) noParams(w http.ResponseWriter, r *http.Request, name string, doc func(context.Context) ([]byte, error)) {
	if values, err := queryValues(r); err != nil || len(values) > 0 {
		s.fail(w, r, &domain.Error{Code: domain.CodeInvalidRequest, Msg: name + " takes no query parameters"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.set.QueryTimeout)
	defer cancel()
	b, err := doc(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// queryValues parses the URL's query strictly: a malformed one (bad
// percent-encoding, a ';' separator) is invalid_request, never a parameter
// silently dropped.
func queryValues(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &domain.Error{Code: domain.CodeInvalidRequest, Msg: "malformed query string: " + err.Error()}
	}
	return v, nil
}
