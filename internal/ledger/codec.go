package ledger

import (
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

// DecodeEvent reads a stored event back. The envelope is parsed with the
// clock the decider used, so it validates exactly as it did then.
func DecodeEvent(r eventstore.Record) (domain.Event, error) {
	recorded, err := time.Parse(time.RFC3339Nano, r.Header[HdrRecorded])
	if err != nil {
		return domain.Event{}, fmt.Errorf("seq %d: %s header: %w", r.Seq, HdrRecorded, err)
	}
	in, err := domain.ParseEnvelope(r.Data, recorded)
	if err != nil {
		return domain.Event{}, fmt.Errorf("seq %d: stored envelope does not parse: %w", r.Seq, err)
	}
	if in.Type != r.Type {
		return domain.Event{}, fmt.Errorf("seq %d: subject type %s but envelope type %s", r.Seq, r.Type, in.Type)
	}
	e := domain.Event{Input: in, Seq: r.Seq, Recorded: recorded.UTC(), Partner: r.Partner, Chain: r.Header[eventstore.HdrChain]}
	if line := r.Header[HdrGrantLine]; line != "" {
		start, err1 := time.Parse(time.RFC3339Nano, r.Header[HdrGrantStart])
		end, err2 := time.Parse(time.RFC3339Nano, r.Header[HdrGrantEnd])
		if err1 != nil || err2 != nil {
			return domain.Event{}, fmt.Errorf("seq %d: grant period headers: %v %v", r.Seq, err1, err2)
		}
		e.Grant = &domain.GrantNote{Line: line, OfferID: r.Header[HdrGrantOffer], Period: domain.Period{Start: start.UTC(), End: end.UTC()}}
	}
	if t := r.Header[HdrTarget]; t != "" {
		if e.Target, err = strconv.ParseUint(t, 10, 64); err != nil {
			return domain.Event{}, fmt.Errorf("seq %d: %s header: %w", r.Seq, HdrTarget, err)
		}
	}
	return e, nil
}
