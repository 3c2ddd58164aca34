package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// member is one name/value pair of a JSON object, kept in input order. Scalar
// values keep their text (strings unescaped, numbers and literals raw), so that
// integer fields can be checked for exact integer syntax instead of passing
// through float64. Nested objects are kept one level deep (the envelope's data).
type member struct {
	name string
	kind byte // '"' string, '0' number, 't' 'f' booleans, 'n' null, '{' object, '[' array
	text string
	obj  []member
}

// errNotObject reports well-formed JSON whose top-level value is not an object.
var errNotObject = errors.New("not a JSON object")

// parseObject reads exactly one JSON object from raw. It rejects syntax errors,
// invalid UTF-8, duplicate names (which encoding/json would silently resolve
// to the last one) and trailing data.
//
// Input lines are parsed on every submit and again on every replay, so this
// is a small scanner over the one shape the ledger reads (an object of
// scalars with one nested object), behind a validator: validJSON (what
// json.Valid reports, in one tight pass) establishes well-formedness, then
// the scanner only has to take the pieces apart.
func parseObject(raw []byte) ([]member, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("invalid UTF-8")
	}
	if !validJSON(raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	s := scanner{b: raw}
	s.ws()
	if s.b[s.i] != '{' {
		return nil, errNotObject
	}
	s.i++
	return s.members(0)
}

// ObjectNames reads exactly one JSON object from raw as strictly as input
// lines are read (valid UTF-8, no duplicate names, nothing after the object)
// and returns its member names as written, in input order. Callers that then
// decode with encoding/json check the names first: encoding/json matches
// names case-insensitively and lets a repeated name win last.
func ObjectNames(raw []byte) ([]string, error) {
	ms, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names, nil
}

// scanner walks JSON already known to be valid.
type scanner struct {
	b     []byte
	i     int
	spare []member // room for the first nested object's members
}

// objectMembers is the room made for an object's members before append
// has to grow it: an envelope has six, its data two to seven.
const objectMembers = 8

func (s *scanner) ws() { s.i = skipSpace(s.b, s.i) }

// skipSpace returns the index of the first byte of b at or after i that is
// not JSON whitespace (len(b) if none).
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// linearNames is how many names the duplicate check compares one by one;
// past it, a set keeps an object of thousands of members linear in time.
const linearNames = 16

// members reads an object's members; the '{' has been consumed.
func (s *scanner) members(depth int) ([]member, error) {
	var ms []member
	switch {
	case depth == 0:
		// One allocation for the envelope's members and its data's: a
		// line has about six of each.
		buf := make([]member, 0, 2*objectMembers)
		ms, s.spare = buf[:0:objectMembers], buf[objectMembers:objectMembers:2*objectMembers]
	case s.spare != nil:
		ms, s.spare = s.spare, nil
	default:
		ms = make([]member, 0, objectMembers)
	}
	var names map[string]bool // from linearNames members on
	s.ws()
	if s.b[s.i] == '}' {
		s.i++
		return ms, nil
	}
	for {
		s.ws()
		m := member{name: s.str()}
		s.ws()
		s.i++ // ':'
		s.ws()
		switch c := s.b[s.i]; {
		case c == '"':
			m.kind, m.text = '"', s.str()
		case c == '{' && depth == 0:
			s.i++
			m.kind = '{'
			var err error
			if m.obj, err = s.members(depth + 1); err != nil {
				return nil, err
			}
		case c == '{' || c == '[':
			m.kind = c
			s.skip()
		case c == 't' || c == 'f' || c == 'n':
			m.kind = c
			for s.i < len(s.b) && s.b[s.i] >= 'a' && s.b[s.i] <= 'z' {
				s.i++
			}
		default:
			start := s.i
			for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
				s.i++
			}
			m.kind, m.text = '0', string(s.b[start:s.i])
		}
		if repeated(ms, &names, m.name) {
			return nil, fmt.Errorf("duplicate name %q", clip(m.name))
		}
		ms = append(ms, m)
		s.ws()
		if s.b[s.i] == ',' {
			s.i++
			continue
		}
		s.i++ // '}'
		return ms, nil
	}
}

// repeated reports whether name is among the names of ms, and records it.
func repeated(ms []member, names *map[string]bool, name string) bool {
	if len(ms) < linearNames {
		for _, prev := range ms {
			if prev.name == name {
				return true
			}
		}
		return false
	}
	if *names == nil {
		*names = make(map[string]bool, 2*len(ms))
		for _, prev := range ms {
			(*names)[prev.name] = true
		}
	}
	if (*names)[name] {
		return true
	}
	(*names)[name] = true
	return false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// str reads a string at '"' and returns it unescaped.
func (s *scanner) str() string {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			v := internedOr(s.b[start:s.i])
			s.i++
			return v
		case '\\':
			return s.escaped(start)
		}
		s.i++
	}
	return ""
}

// escaped finishes a string that contains escapes, as encoding/json decodes
// them (a lone surrogate becomes U+FFFD).
func (s *scanner) escaped(start int) string {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return string(out)
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := s.hex4()
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					r2 = s.hex4()
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						s.i, r = save, utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, e)
		}
	}
	return string(out)
}

func (s *scanner) hex4() rune {
	v, _ := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	s.i += 4
	return rune(v)
}

// skip passes over an object or array.
func (s *scanner) skip() {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return
			}
		case '"':
			s.str()
			continue
		}
		s.i++
	}
}

// kindName names a JSON kind for error messages.
func kindName(k byte) string {
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
