package ledger

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
)

// Headers the ledger adds to each stored event, besides the eventstore's own
// (schema, type, partner). The envelope itself is stored exactly as received.
const (
	HdrRecorded   = "Ledger-Recorded"    // the ledger's clock when it decided (RFC 3339, UTC)
	HdrPolicy     = "Ledger-Policy"      // policy version and digest an activation or contact decision used
	HdrGrantLine  = "Ledger-Grant-Line"  // BenefitActivated: the line it was accepted under
	HdrGrantOffer = "Ledger-Grant-Offer" // … the offer behind that line, if any
	HdrGrantStart = "Ledger-Grant-Start" // … the activation period
	HdrGrantEnd   = "Ledger-Grant-End"
	HdrTarget     = "Ledger-Target-Seq" // RewardsTeamContacted: the activation it names
)

// encodeEvent turns a decided event into the message to append: the raw
// envelope plus what the decider determined, in headers.
func encodeEvent(e domain.Event, raw []byte, pol *domain.Policy) eventstore.Message {
	h := map[string]string{HdrRecorded: e.Recorded.Format(time.RFC3339Nano)}
	if e.Grant != nil || e.Target != 0 {
		// Only these decisions depend on the policy (entitlement, status).
		h[HdrPolicy] = pol.Version + "@" + pol.Digest()
	}
	if g := e.Grant; g != nil {
		h[HdrGrantLine] = g.Line
		if g.OfferID != "" {
			h[HdrGrantOffer] = g.OfferID
		}
		h[HdrGrantStart] = g.Period.Start.Format(time.RFC3339Nano)
		h[HdrGrantEnd] = g.Period.End.Format(time.RFC3339Nano)
	}
	if e.Target != 0 {
		h[HdrTarget] = strconv.FormatUint(e.Target, 10)
	}
	return eventstore.Message{Partner: e.Partner, Type: e.Type, Data: raw, Header: h}
}

// ErrForeign marks a record in the stream that is not an event this ledger
// wrote: no or an unknown Ledger-Schema header, a missing or unreadable
// Ledger-Recorded header, a subject not of the ledger's form, or a body that
// is not a recorded envelope — or, found by the fold itself, an event the
// read models cannot take (one Decide would not have accepted, see
// projections.Batch.Refused). Every fold (projector, rebuild, verify,
// replay, and so the writer's catch-up) skips such a record and counts it
// (ledger stats: foreign_events, last_foreign_seq), the projector logs it
// with its sequence; none stops the ledger. Skipping depends only on the
// record's bytes, so live read models and rebuilds skip the same records and
// their digests agree.
var ErrForeign = errors.New("not an event the ledger wrote")

// DecodeRecorded reads a stored event back by the schema version it was
// written under (eventstore.HdrSchema). It trusts what the ledger accepted
// then: the envelope is not validated again with today's input rules (see
// domain.ParseRecorded), only its structure and the ledger's headers are
// checked. Any failure wraps ErrForeign and names the sequence.
//
// It is the one decoder of recorded history: a new schema version gets a
// case here, next to schema 1's.
func DecodeRecorded(r eventstore.Record) (domain.Event, error) {
	var (
		e   domain.Event
		err error
	)
	switch v := r.Header[eventstore.HdrSchema]; v {
	case eventstore.Schema1:
		e, err = decodeV1(r)
	case "":
		err = fmt.Errorf("no %s header", eventstore.HdrSchema)
	default:
		err = fmt.Errorf("%s header %q is not a schema this ledger reads", eventstore.HdrSchema, clipHeader(v))
	}
	if err != nil {
		return domain.Event{}, fmt.Errorf("%w: seq %d (subject %q): %v", ErrForeign, r.Seq, clipHeader(r.Subject), err)
	}
	return e, nil
}

// decodeV1 decodes a record of schema 1: the envelope as received, on the
// subject Subject(partner, type), with the eventstore's and encodeEvent's
// headers.
func decodeV1(r eventstore.Record) (domain.Event, error) {
	switch {
	case !eventstore.ValidPartner(r.Partner) || !eventstore.ValidType(r.Type) || r.Subject != eventstore.Subject(r.Partner, r.Type):
		return domain.Event{}, errors.New("the subject is not of the form ledger.events.<partner>.<type>")
	case r.Header[eventstore.HdrPartner] != r.Partner || r.Header[eventstore.HdrType] != r.Type:
		return domain.Event{}, fmt.Errorf("%s/%s headers %q/%q disagree with the subject", eventstore.HdrPartner, eventstore.HdrType,
			clipHeader(r.Header[eventstore.HdrPartner]), clipHeader(r.Header[eventstore.HdrType]))
	}
	recorded, err := time.Parse(time.RFC3339Nano, r.Header[HdrRecorded])
	if err != nil {
		return domain.Event{}, fmt.Errorf("%s header: %w", HdrRecorded, err)
	}
	in, err := domain.ParseRecorded(r.Data)
	if err != nil {
		return domain.Event{}, err
	}
	if in.Type != r.Type {
		return domain.Event{}, fmt.Errorf("subject type %s but envelope type %s", r.Type, in.Type)
	}
	e := domain.Event{Input: in, Seq: r.Seq, Recorded: recorded.UTC(), Partner: r.Partner, Chain: r.Header[eventstore.HdrChain]}
	if line := r.Header[HdrGrantLine]; line != "" {
		start, err1 := time.Parse(time.RFC3339Nano, r.Header[HdrGrantStart])
		end, err2 := time.Parse(time.RFC3339Nano, r.Header[HdrGrantEnd])
		if err := errors.Join(err1, err2); err != nil {
			return domain.Event{}, fmt.Errorf("grant period headers: %w", err)
		}
		e.Grant = &domain.GrantNote{Line: line, OfferID: r.Header[HdrGrantOffer], Period: domain.Period{Start: start.UTC(), End: end.UTC()}}
	}
	if t := r.Header[HdrTarget]; t != "" {
		if e.Target, err = strconv.ParseUint(t, 10, 64); err != nil {
			return domain.Event{}, fmt.Errorf("%s header: %w", HdrTarget, err)
		}
	}
	// What the fold needs of the decider's notes (domain.Apply).
	switch {
	case in.Type == domain.TypeBenefitActivated && e.Grant == nil:
		return domain.Event{}, fmt.Errorf("an activation without its %s header", HdrGrantLine)
	case in.Type == domain.TypeRewardsTeamContacted && e.Target == 0:
		return domain.Event{}, fmt.Errorf("a contact report without its %s header", HdrTarget)
	}
	return e, nil
}

// clipHeader shortens a foreign value quoted in an error.
func clipHeader(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
