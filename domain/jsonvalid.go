package domain

// validJSON reports whether b is one well-formed JSON value with optional
// whitespace around it: what json.Valid reports, including its limit of
// maxJSONDepth nested arrays and objects. Like json.Valid it does not check
// that strings are valid UTF-8 (parseObject does that first).
//
// Every input line and, on a rebuild, every event of the log is checked, and
// json.Valid's byte-at-a-time state machine was 2.2% of ingest's CPU and
// 3.5% of a rebuild's; this does the same in one pass of tight loops.
// Open arrays and objects are kept on a stack of one byte each, not in
// recursion, so a request body nested maxJSONDepth deep costs 10 KB, not a
// goroutine stack of as many frames. FuzzValidJSON and TestValidJSON hold
// it to json.Valid.
func validJSON(b []byte) bool {
	v := validator{b: b}
	var buf [32]byte // the usual depths need no allocation
	open := buf[:0]  // the open containers' closing brackets, innermost last
	v.ws()
	for {
		// A value is expected at v.i.
		if v.i >= len(b) {
			return false
		}
		switch c := b[v.i]; c {
		case '{', '[':
			if len(open) == maxJSONDepth {
				return false
			}
			closing := byte(']')
			if c == '{' {
				closing = '}'
			}
			v.i++
			v.ws()
			if v.i < len(b) && b[v.i] == closing {
				v.i++ // empty: a whole value
				break
			}
			open = append(open, closing)
			if closing == '}' && !v.name() {
				return false
			}
			continue
		default:
			if !v.scalar() {
				return false
			}
		}
		// A value has ended: close what it ends, or go on after a comma.
		for {
			v.ws()
			if len(open) == 0 {
				return v.i == len(b)
			}
			if v.i >= len(b) {
				return false
			}
			top := open[len(open)-1]
			if b[v.i] == top {
				v.i++
				open = open[:len(open)-1]
				continue
			}
			if b[v.i] != ',' {
				return false
			}
			v.i++
			v.ws()
			if top == '}' && !v.name() {
				return false
			}
			break
		}
	}
}

// maxJSONDepth is encoding/json's bound on nesting (its maxNestingDepth):
// deeper input is invalid to json.Valid, so it is to validJSON.
const maxJSONDepth = 10000

type validator struct {
	b []byte
	i int
}

func (v *validator) ws() { v.i = skipSpace(v.b, v.i) }

// name reads an object member's name and its colon, and the space after.
func (v *validator) name() bool {
	if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
		return false
	}
	v.ws()
	if v.i >= len(v.b) || v.b[v.i] != ':' {
		return false
	}
	v.i++
	v.ws()
	return true
}

// scalar reads a string, number or literal at v.i.
func (v *validator) scalar() bool {
	switch c := v.b[v.i]; {
	case c == '"':
		return v.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

func (v *validator) literal(s string) bool {
	if len(v.b)-v.i < len(s) || string(v.b[v.i:v.i+len(s)]) != s {
		return false
	}
	v.i += len(s)
	return true
}

// str reads a string at its '"': no control bytes, only JSON's escapes.
func (v *validator) str() bool {
	v.i++
	for v.i < len(v.b) {
		c := v.b[v.i]
		switch {
		case c == '"':
			v.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if v.i+1 >= len(v.b) {
				return false
			}
			switch v.b[v.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i += 2
			case 'u':
				if len(v.b)-v.i < 6 {
					return false
				}
				for _, h := range v.b[v.i+2 : v.i+6] {
					if !isHex(h) {
						return false
					}
				}
				v.i += 6
			default:
				return false
			}
		default:
			v.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number() bool {
	if v.b[v.i] == '-' {
		v.i++
	}
	switch {
	case v.i >= len(v.b):
		return false
	case v.b[v.i] == '0':
		v.i++
	case isDigit(v.b[v.i]):
		v.digits()
	default:
		return false
	}
	if v.i < len(v.b) && v.b[v.i] == '.' {
		v.i++
		if !v.digits() {
			return false
		}
	}
	if v.i < len(v.b) && (v.b[v.i] == 'e' || v.b[v.i] == 'E') {
		v.i++
		if v.i < len(v.b) && (v.b[v.i] == '+' || v.b[v.i] == '-') {
			v.i++
		}
		if !v.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more digits and reports whether there was one.
func (v *validator) digits() bool {
	start := v.i
	for v.i < len(v.b) && isDigit(v.b[v.i]) {
		v.i++
	}
	return v.i > start
}
