package eventstore

import (
	"fmt"
	"regexp"
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

var (
	// Event types are CamelCase names; digits and underscores are tolerated
	// so that a future "V2" suffix is not a storage-layer problem.
	typeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
	// Header names: an HTTP-style token, which is what NATS headers are.
	hdrNameRE = regexp.MustCompile(`^Ledger-[A-Za-z0-9-]+$`)
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
func ValidType(typ string) bool { return typeRE.MatchString(typ) }

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
		return fmt.Errorf("%w: message %d: type %q must match %s", ErrInvalid, i, m.Type, typeRE)
	}
	for k, v := range m.Header {
		switch {
		case k == HdrSchema || k == HdrType || k == HdrPartner:
			return fmt.Errorf("%w: message %d: header %q is set by Append", ErrInvalid, i, k)
		case !hdrNameRE.MatchString(k):
			return fmt.Errorf("%w: message %d: header %q must match %s", ErrInvalid, i, k, hdrNameRE)
		case strings.ContainsAny(v, "\r\n"):
			return fmt.Errorf("%w: message %d: header %q value contains a line break", ErrInvalid, i, k)
		}
	}
	return nil
}
