package domain

import (
	"bytes"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// member is one name/value pair of a JSON object, kept in input order. Scalar
// values keep their text (strings unescaped, numbers and literals raw), so that
// integer fields can be checked for exact integer syntax instead of passing
// through float64. Nested objects are kept one level deep (the envelope's data).
type member struct {
	name string
	kind jsontext.Kind
	text string
	obj  []member
}

// errNotObject reports well-formed JSON whose top-level value is not an object.
var errNotObject = errors.New("not a JSON object")

// parseObject reads exactly one JSON object from raw. It rejects syntax errors,
// invalid UTF-8, duplicate names (which encoding/json would silently resolve
// to the last one) and trailing data.
func parseObject(raw []byte) ([]member, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	// A scalar token is voided by the next decoder call: take its kind first.
	if kind := tok.Kind(); kind != '{' {
		if err := dec.SkipValue(); err != nil && kind == '[' {
			return nil, err
		}
		return nil, errNotObject
	}
	members, err := readMembers(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return nil, err
	}
	return members, nil
}

// readMembers reads the members of an object whose '{' has been consumed.
func readMembers(dec *jsontext.Decoder, depth int) ([]member, error) {
	var ms []member
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if tok.Kind() == '}' {
			return ms, nil
		}
		m := member{name: tok.String(), kind: dec.PeekKind()}
		switch {
		case m.kind == '{' && depth == 0:
			if _, err := dec.ReadToken(); err != nil {
				return nil, err
			}
			if m.obj, err = readMembers(dec, depth+1); err != nil {
				return nil, err
			}
		case m.kind == '{' || m.kind == '[':
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
		default:
			v, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			m.kind, m.text = v.Kind(), v.String()
		}
		ms = append(ms, m)
	}
}

// kindName names a JSON kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "invalid"
}
