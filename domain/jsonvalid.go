package domain

// validJSON reports whether b is one well-formed JSON value with optional
// whitespace around it: what json.Valid reports, including its limit of
// maxJSONDepth nested arrays and objects. Like json.Valid it does not check
// that strings are valid UTF-8 (parseObject does that first).
//
// Every input line and, on a rebuild, every event of the log is checked, and
// json.Valid's byte-at-a-time state machine was 2.2% of ingest's CPU and
// 3.5% of a rebuild's; this recursive descent does the same in one pass of
// tight loops. FuzzValidJSON and TestValidJSON hold it to json.Valid.
func validJSON(b []byte) bool {
	v := validator{b: b}
	v.ws()
	if !v.value(0) {
		return false
	}
	v.ws()
	return v.i == len(b)
}

// maxJSONDepth is encoding/json's bound on nesting (its maxNestingDepth):
// deeper input is invalid to json.Valid, so it is to validJSON. It also
// bounds validJSON's recursion.
const maxJSONDepth = 10000

type validator struct {
	b []byte
	i int
}

func (v *validator) ws() { v.i = skipSpace(v.b, v.i) }

// value reads one value at v.i; depth is how many arrays and objects
// enclose it.
func (v *validator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '"':
		return v.str()
	case c == '{':
		return depth < maxJSONDepth && v.object(depth+1)
	case c == '[':
		return depth < maxJSONDepth && v.array(depth+1)
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

// object reads an object at its '{'.
func (v *validator) object(depth int) bool {
	if v.empty('}') {
		return true
	}
	for {
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.str() {
			return false
		}
		v.ws()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.ws()
		if !v.value(depth) {
			return false
		}
		if more, ok := v.next('}'); !more {
			return ok
		}
	}
}

// array reads an array at its '['.
func (v *validator) array(depth int) bool {
	if v.empty(']') {
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		if more, ok := v.next(']'); !more {
			return ok
		}
	}
}

// empty passes the opening bracket at v.i and the space after it, and
// reports whether close follows at once (and passes it too).
func (v *validator) empty(close byte) bool {
	v.i++
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == close {
		v.i++
		return true
	}
	return false
}

// next reads what follows a member or an element: a comma and the space
// after it (more follow), or close (the container ends, ok); anything else
// is not JSON.
func (v *validator) next(close byte) (more, ok bool) {
	v.ws()
	if v.i >= len(v.b) {
		return false, false
	}
	switch v.b[v.i] {
	case ',':
		v.i++
		v.ws()
		return true, true
	case close:
		v.i++
		return false, true
	}
	return false, false
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
