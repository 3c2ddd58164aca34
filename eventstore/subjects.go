package eventstore

import (
	"fmt"
	"strings"

	"github.com/benefits-ledger/ledger/domain"
)

// Subject layout: ledger.events.<partner>.<Type>. The partner is a subject
// token so that one partner's history is the wildcard ledger.events.<partner>.>
// (for reads and for the optimistic-concurrency check); the type is the last
// token so that a consumer can filter by event type without decoding.
const (
	subjectPrefix = "ledger.events."
	// StreamSubjects is the subject space the stream captures.
	StreamSubjects = subjectPrefix + ">"
	// DefaultStreamName is the stream's name unless WithStreamName says otherwise.
	DefaultStreamName = "LEDGER"
)

// Headers the ledger writes on every event.
const (
	HdrSchema  = "Ledger-Schema"  // Append sets SchemaVersion
	HdrType    = "Ledger-Type"    // Append sets from Message.Type
	HdrPartner = "Ledger-Partner" // Append sets from Message.Partner

	// ledgerHdrPrefix marks the ledger's own headers: Record.Header carries
	// exactly these, and Message.Header may only add these.
	ledgerHdrPrefix = "Ledger-"
)

// Schema versions of the stored format (the HdrSchema header). A reader
// decodes a record by the version it was written under.
const (
	// Schema1 is the first format: the envelope exactly as accepted, and
	// the ledger's decisions in Ledger-* headers.
	Schema1 = "1"
	// SchemaVersion is the version Append writes.
	SchemaVersion = Schema1
)

// The rules of types and header names, as refusals name them. Both are
// checked on every message Append sends, by loops over bytes (a regular
// expression took 1% of ingest's CPU here); TestNamesMatchTheirRules holds
// the loops to these patterns.
const (
	// Event types are CamelCase names; digits and underscores are tolerated
	// so that a future "V2" suffix is not a storage-layer problem.
	typeRule   = `^[A-Za-z][A-Za-z0-9_]{0,127}$`
	maxTypeLen = 128
	// Header names: an HTTP-style token, which is what NATS headers are.
	hdrNameRule = `^Ledger-[A-Za-z0-9-]+$`
)

// Subject is the subject an event of type typ for partner is stored under.
// It does not validate its arguments; Append does.
func Subject(partner, typ string) string {
	return subjectPrefix + partner + "." + typ
}

// PartnerFilter is the subject filter matching all of one partner's events.
func PartnerFilter(partner string) string {
	return subjectPrefix + partner + ".>"
}

// ValidPartner reports whether id can be used as a partner subject token.
func ValidPartner(id string) bool { return domain.ValidPartnerID(id) }

// ValidType reports whether typ can be used as an event type subject token.
// It matches typeRule.
func ValidType(typ string) bool {
	if len(typ) == 0 || len(typ) > maxTypeLen || !isLetter(typ[0]) {
		return false
	}
	for i := 1; i < len(typ); i++ {
		if c := typ[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// validHeaderName reports whether k may name a header a Message adds: it
// matches hdrNameRule.
func validHeaderName(k string) bool {
	rest, ok := strings.CutPrefix(k, ledgerHdrPrefix)
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isLetter(c) || '0' <= c && c <= '9' }

// parseSubject splits a stored subject into partner and type.
func parseSubject(subj string) (partner, typ string, ok bool) {
	rest, found := strings.CutPrefix(subj, subjectPrefix)
	if !found {
		return "", "", false
	}
	partner, typ, found = strings.Cut(rest, ".")
	if !found || partner == "" || typ == "" || strings.Contains(typ, ".") {
		return "", "", false
	}
	return partner, typ, true
}

// validateMessage checks what Append would otherwise send to the server as a
// malformed subject or header block.
func validateMessage(i int, m Message) error {
	if !ValidPartner(m.Partner) {
		return fmt.Errorf("%w: message %d: partner %q must match %s", ErrInvalid, i, m.Partner, domain.PartnerIDRule)
	}
	if !ValidType(m.Type) {
		return fmt.Errorf("%w: message %d: type %q must match %s", ErrInvalid, i, m.Type, typeRule)
	}
	for k, v := range m.Header {
		switch {
		case k == HdrSchema || k == HdrType || k == HdrPartner:
			return fmt.Errorf("%w: message %d: header %q is set by Append", ErrInvalid, i, k)
		case !validHeaderName(k):
			return fmt.Errorf("%w: message %d: header %q must match %s", ErrInvalid, i, k, hdrNameRule)
		case strings.ContainsAny(v, "\r\n"):
			return fmt.Errorf("%w: message %d: header %q value contains a line break", ErrInvalid, i, k)
		}
	}
	return nil
}
