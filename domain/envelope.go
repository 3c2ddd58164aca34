package domain

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxClockSkew is how far after the ledger's clock an event time may lie.
const MaxClockSkew = 5 * time.Minute

// Earliest instant an event may carry: times are stored as Unix nanoseconds.
var minEventTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// Input is a parsed, validated input event: a CloudEvents 1.0 structured
// envelope whose data has been checked against its type and normalized
// (times in UTC, defaults applied).
type Input struct {
	ID     string
	Source string
	Type   string
	Time   time.Time
	Data   Data

	fp *Fingerprint // computed once by ParseEnvelope
}

// Fingerprint identifies an input's content: its type, time and data. Two
// inputs with the same fingerprint are the same happening, whatever their
// envelope id or source.
type Fingerprint [16]byte

// Fingerprint hashes the canonical form of the content. Normalization comes
// first, so "+02:00" and "Z" spellings of one instant, or an omitted and an
// explicit default category, are the same content.
func (in Input) Fingerprint() Fingerprint {
	if in.fp != nil {
		return *in.fp
	}
	return in.fingerprint()
}

// validExtensionName reports whether name may name a CloudEvents extension
// attribute: the pattern ^[a-z0-9]{1,20}$.
func validExtensionName(name string) bool {
	if len(name) == 0 || len(name) > 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z') && !isDigit(c) {
			return false
		}
	}
	return true
}

// envelopeAttributes are the attributes every input must carry as strings
// (data is checked apart, as an object).
var envelopeAttributes = []string{"specversion", "id", "source", "type", "time"}

// ParseEnvelope parses one input line. Checks run from the outside in, so the
// code names the first layer that is wrong: JSON, envelope, type, then fields.
// now is the ledger's clock, for refusing times from the future.
func ParseEnvelope(raw []byte, now time.Time) (Input, error) {
	ms, err := parseObject(raw)
	if err != nil {
		return Input{}, reject(CodeInvalidJSON, "the line is not one JSON object: %v", err)
	}
	attrs := attributes(ms)
	for _, name := range envelopeAttributes {
		m, ok := attrs.get(name)
		if !ok {
			return Input{}, reject(CodeInvalidEnvelope, "envelope attribute %q is missing", name)
		}
		if m.kind != '"' {
			return Input{}, reject(CodeInvalidEnvelope, "envelope attribute %q must be a string, not %s", name, kindName(m.kind))
		}
	}
	data, ok := attrs.get("data")
	if !ok {
		return Input{}, reject(CodeInvalidEnvelope, "envelope attribute \"data\" is missing")
	}
	if data.kind != '{' {
		return Input{}, reject(CodeInvalidEnvelope, "envelope attribute \"data\" must be an object, not %s", kindName(data.kind))
	}
	if v := attrs.text("specversion"); v != "1.0" {
		return Input{}, reject(CodeInvalidEnvelope, "specversion must be \"1.0\" (got %q)", clip(v))
	}
	for _, m := range ms {
		if err := checkExtension(m); err != nil {
			return Input{}, err
		}
	}
	in := Input{ID: attrs.text("id"), Source: attrs.text("source"), Type: attrs.text("type")}
	parse, ok := dataParsers[in.Type]
	if !ok {
		return Input{}, reject(CodeUnknownType, "event type %q is not known", clip(in.Type))
	}
	if !ValidID(in.ID) {
		return Input{}, fieldError("id", "must be 1 to 128 printable ASCII characters without spaces (got %q)", clip(in.ID))
	}
	if !validText(in.Source, 1024) {
		return Input{}, fieldError("source", "must be a non-empty URI-reference")
	}
	if in.Time, err = parseTime(attrs.text("time"), now); err != nil {
		return Input{}, err
	}
	f := newFields(data.obj)
	in.Data = parse(f)
	if err := f.finish(in.Type); err != nil {
		return Input{}, err
	}
	fp := in.fingerprint()
	in.fp = &fp
	return in, nil
}

// checkExtension accepts the optional CloudEvents attributes and extension
// attributes (lowercase alphanumeric names with scalar values).
func checkExtension(m member) error {
	switch m.name {
	case "specversion", "id", "source", "type", "time", "data":
		return nil
	case "datacontenttype":
		if m.kind != '"' || (m.text != "application/json" && m.text != "application/json; charset=utf-8") {
			return fieldError("datacontenttype", "must be application/json")
		}
		return nil
	}
	if !validExtensionName(m.name) {
		return reject(CodeInvalidEnvelope, "envelope attribute %q is not a CloudEvents attribute name", clip(m.name))
	}
	if m.kind == '{' || m.kind == '[' || m.kind == 'n' {
		return reject(CodeInvalidEnvelope, "envelope attribute %q must be a string, number or boolean", clip(m.name))
	}
	if m.kind == '0' {
		// CloudEvents has no number type but Integer, a 32-bit signed one.
		if _, err := strconv.ParseInt(m.text, 10, 32); err != nil {
			return fieldError(m.name, "must be a CloudEvents Integer, from %d to %d in plain digits (got %s)", math.MinInt32, math.MaxInt32, clip(m.text))
		}
	}
	return nil
}

// ParseInstant parses an RFC 3339 date-time with offset, in UTC. time.Parse
// alone is laxer than RFC 3339: it takes offsets of 24 hours or 60 minutes
// (RFC 3339's time-numoffset is 00–23 hours, 00–59 minutes) and a comma
// before the fraction of a second (time-secfrac is "." and digits); those
// are refused here. Event times and query instants are parsed alike.
func ParseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// time.ParseError quotes the whole input: keep only its reason, so
		// no caller echoes an unclipped value.
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			return time.Time{}, errors.New(strings.TrimPrefix(pe.Message, ": "))
		}
		return time.Time{}, errors.New("not of the form 2006-01-02T15:04:05Z or 2006-01-02T15:04:05.999+07:00")
	}
	// Parse succeeded, so s is YYYY-MM-DDTHH:MM:SS, an optional fraction,
	// then "Z" or ±hh:mm.
	if s[19] == ',' {
		return time.Time{}, errors.New("the fraction of a second must follow a '.', not a ','")
	}
	if n := len(s); s[n-1] != 'Z' {
		if hh, mm := s[n-5:n-3], s[n-2:]; hh > "23" || mm > "59" {
			return time.Time{}, fmt.Errorf("offset %s is out of range: hours 00-23, minutes 00-59", s[n-6:])
		}
	}
	return t.UTC(), nil
}

// parseTime parses an RFC 3339 time with offset and normalizes it to UTC.
func parseTime(s string, now time.Time) (time.Time, error) {
	t, err := ParseInstant(s)
	if err != nil {
		return time.Time{}, fieldError("time", "must be an RFC 3339 time with offset (got %q): %v", clip(s), err)
	}
	if t.Before(minEventTime) {
		return time.Time{}, fieldError("time", "must not be before 1970-01-01 (got %s)", clip(s))
	}
	if t.After(now.Add(MaxClockSkew)) {
		return time.Time{}, fieldError("time", "is in the future: %s is more than 5 minutes after the ledger's clock (%s)", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// attributes looks members up by name: a linear scan beats a map for the
// handful an envelope has.
type attributes []member

func (a attributes) get(name string) (member, bool) {
	for _, m := range a {
		if m.name == name {
			return m, true
		}
	}
	return member{}, false
}

func (a attributes) text(name string) string {
	m, _ := a.get(name)
	return m.text
}
