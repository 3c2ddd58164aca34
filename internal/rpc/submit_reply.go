package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// ParseSubmitReply decodes the submit endpoint's reply: one JSON result per
// line, as encoding/json decodes each into a ledger.LineResult. Errors say
// which reply line does not decode.
//
// A client of a busy ledger parses a reply of 1,000 lines for every 1,000
// events it sends (in the bench's ingest, encoding/json's reflection here
// was 4.3% of the whole process's CPU), so the lines the service writes
// are read by a scanner of their one shape (fastLineResult); any line it
// does not take whole goes to encoding/json. Lines have no length limit
// (the reply is in memory already).
func ParseSubmitReply(reply []byte) ([]ledger.LineResult, error) {
	if len(reply) == 0 {
		return nil, nil
	}
	out := make([]ledger.LineResult, 0, bytes.Count(reply, []byte{'\n'})+1)
	for len(reply) > 0 {
		line := reply
		if i := bytes.IndexByte(reply, '\n'); i >= 0 {
			line, reply = reply[:i], reply[i+1:]
		} else {
			reply = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'}) // as bufio.ScanLines reads lines
		r, ok := fastLineResult(line)
		if !ok {
			var slow ledger.LineResult // its own variable: &slow escapes, r does not
			if err := json.Unmarshal(line, &slow); err != nil {
				return nil, fmt.Errorf("rpc: bad submit reply line %d: %w", len(out)+1, err)
			}
			r = slow
		}
		out = append(out, r)
	}
	return out, nil
}

// fastLineResult decodes a result line written as the service writes it
// (encoding/json's compact output of ledger.LineResult): members named
// exactly, no spaces, integers in their shortest form, strings of printable
// ASCII without escapes. It reports false for anything else — a space, an
// escape, a byte outside printable ASCII, a null, another name, a number
// encoding/json would read differently or refuse — and the caller hands the
// line to encoding/json; so what it accepts, it decodes as encoding/json
// does (TestSubmitReplyDecodesAsEncodingJSON, FuzzParseSubmitReply).
func fastLineResult(b []byte) (ledger.LineResult, bool) {
	var r ledger.LineResult
	ok := plainObject(b, func(name, b []byte) ([]byte, bool) {
		var ok bool
		switch string(name) { // compared in place: no string is made
		case "line":
			var n uint64
			n, b, ok = plainUint(b, 1<<31-1) // int holds it on every platform
			r.Line = int(n)
		case "seq":
			r.Seq, b, ok = plainUint(b, ^uint64(0))
		case "ok", "duplicate":
			var v bool
			switch {
			case bytes.HasPrefix(b, []byte("true")):
				v, b, ok = true, b[4:], true
			case bytes.HasPrefix(b, []byte("false")):
				b, ok = b[5:], true
			}
			if string(name) == "ok" {
				r.OK = v
			} else {
				r.Duplicate = v
			}
		case "id", "code", "error":
			var v []byte
			v, b, ok = plainString(b)
			switch string(name) {
			case "id":
				r.ID = string(v)
			case "code":
				r.Code = domain.Code(v)
			default:
				r.Error = string(v)
			}
		}
		return b, ok
	})
	return r, ok
}

// plainObject reads a JSON object written compactly — no space anywhere,
// each name a plainString — calling member with each member's name and the
// bytes from its value on; member reads the value and returns what follows
// it, or false to refuse the object. It reports whether b is exactly one
// such object that member took whole. It does not look for a name given
// twice: member must, if that matters.
func plainObject(b []byte, member func(name, value []byte) ([]byte, bool)) bool {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	b = b[1 : len(b)-1]
	for len(b) > 0 {
		name, rest, ok := plainString(b)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		if b, ok = member(name, rest[1:]); !ok {
			return false
		}
		if len(b) > 0 {
			if b[0] != ',' || len(b) == 1 {
				return false
			}
			b = b[1:]
		}
	}
	return true
}

// plainString reads a JSON string at the start of b whose bytes are all
// printable ASCII with no escape, and returns its bytes (in b) and what
// follows.
func plainString(b []byte) ([]byte, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, b, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return b[1:i], b[i+1:], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, b, false
		}
	}
	return nil, b, false
}

// plainUint reads a non-negative integer in its shortest form (no sign, no
// leading zero, no fraction or exponent) of at most maxV at the start of b.
func plainUint(b []byte, maxV uint64) (uint64, []byte, bool) {
	i, n := 0, uint64(0)
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if n > (maxV-d)/10 {
			return 0, b, false
		}
		n = n*10 + d
		i++
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, b, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, b, false
	}
	return n, b[i:], true
}
