package domain

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fields hands out the members of an event's data object with validation. The
// first problem found is kept; fields that no getter asked for are unknown and
// reported before anything else, so a typo is named as such.
type fields struct {
	ms   []member
	used []bool
	err  *Error
	room [objectMembers]bool // used, for a data object of up to objectMembers fields
}

func newFields(ms []member) *fields {
	f := &fields{ms: ms}
	if len(ms) <= len(f.room) {
		f.used = f.room[:len(ms)]
	} else {
		f.used = make([]bool, len(ms))
	}
	return f
}

func (f *fields) fail(e *Error) {
	if f.err == nil {
		f.err = e
	}
}

// lookup returns the member called name, marking it known. A null optional
// field counts as absent.
func (f *fields) lookup(name string, required bool) (member, bool) {
	for i, m := range f.ms {
		if m.name == name {
			f.used[i] = true
			if m.kind == 'n' && !required {
				return member{}, false
			}
			return m, true
		}
	}
	if required {
		f.fail(fieldError("data."+name, "is required"))
	}
	return member{}, false
}

// str returns a string field; wrong JSON types are invalid_field.
func (f *fields) str(name string, required bool) (string, bool) {
	m, ok := f.lookup(name, required)
	if !ok {
		return "", false
	}
	if m.kind != '"' {
		f.fail(fieldError("data."+name, "must be a string, not %s", kindName(m.kind)))
		return "", false
	}
	return m.text, true
}

// check returns a string field that must satisfy valid.
func (f *fields) check(name string, required bool, valid func(string) bool, rule string) string {
	s, ok := f.str(name, required)
	if ok && !valid(s) {
		f.fail(fieldError("data."+name, "%s (got %q)", rule, clip(s)))
		return ""
	}
	return s
}

func (f *fields) id(name string, required bool) string {
	return f.check(name, required, ValidID, "must be 1 to 128 printable ASCII characters without spaces")
}

func (f *fields) partnerID(name string) string {
	return f.check(name, true, ValidPartnerID, "must match "+PartnerIDRule)
}

func (f *fields) email(name string, required bool) string {
	return f.check(name, required, validEmail, "must be an email address")
}

func (f *fields) text(name string, required bool) string {
	return f.check(name, required, func(s string) bool { return validText(s, maxTextLen) }, "must be 1 to 500 characters without control characters")
}

func (f *fields) enum(name string, required bool, values []string) string {
	return f.check(name, required, func(s string) bool { return slices.Contains(values, s) }, "must be one of "+strings.Join(values, ", "))
}

// integer returns an integer field within [min, max]. Only integer JSON
// syntax is accepted: 1.0 and 1e3 are refused rather than rounded, because an
// amount that needs rounding is a bug upstream.
func (f *fields) integer(name string, required bool, min, max int64) int64 {
	m, ok := f.lookup(name, required)
	if !ok {
		return 0
	}
	if m.kind != '0' {
		f.fail(fieldError("data."+name, "must be an integer, not %s", kindName(m.kind)))
		return 0
	}
	if strings.ContainsAny(m.text, ".eE") {
		f.fail(fieldError("data."+name, "must be an integer (got %s)", clip(m.text)))
		return 0
	}
	n, err := strconv.ParseInt(m.text, 10, 64)
	if err != nil || n < min || n > max {
		f.fail(fieldError("data."+name, "must be an integer from %d to %d (got %s)", min, max, clip(m.text)))
		return 0
	}
	return n
}

// finish returns the first problem: an unknown field, else the first invalid one.
func (f *fields) finish(typ string) *Error {
	for i, m := range f.ms {
		if !f.used[i] {
			return fieldError("data."+clip(m.name), "is not a field of %s", typ)
		}
	}
	return f.err
}

// Clip shortens a value echoed in an error message, as clip does for input
// lines: every layer that quotes a request field clips it.
func Clip(s string) string { return clip(s) }

// clip shortens echoed input so an error message stays readable. It cuts
// at a rune boundary, so the message stays valid UTF-8.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
