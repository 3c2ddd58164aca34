package domain

// Builders shared by the domain tests: render input lines, submit them to a
// fresh Book as a story, and ask the documents questions. Tests read like the
// acceptance scenarios: a few dated happenings, then what must follow.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// clock is the ledger's clock for stories: well after every event time used.
var clock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// M is an event's data object.
type M = map[string]any

// ts parses an RFC 3339 instant, or a bare date (midnight UTC).
func ts(s string) time.Time {
	layout := time.RFC3339Nano
	if len(s) == len("2006-01-02") {
		layout = "2006-01-02"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// stamp renders an instant written as ts accepts it back as RFC 3339.
func stamp(s string) string { return ts(s).Format(time.RFC3339Nano) }

// ev is one input event before it is rendered.
type ev struct {
	id   string // envelope id; "" for a fresh one
	typ  string
	at   string
	data M
}

// with returns a copy with data field k set to v (deleted when v is nil).
func (e ev) with(k string, v any) ev {
	d := make(M, len(e.data)+1)
	for key, val := range e.data {
		d[key] = val
	}
	if v == nil {
		delete(d, k)
	} else {
		d[k] = v
	}
	e.data = d
	return e
}

// withID sets the envelope id.
func (e ev) withID(id string) ev { e.id = id; return e }

// render returns the envelope line of e with envelope id id.
func (e ev) render(id string) []byte {
	return envelope(M{"specversion": "1.0", "id": id, "source": "test/domain", "type": e.typ, "time": stamp(e.at), "data": e.data})
}

// envelope renders any object as one JSON line.
func envelope(m M) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// Event builders with the fields each type requires; .with adds or changes one.

func published(offer, partner, listing, at string) ev {
	return ev{typ: TypeOfferPublished, at: at, data: M{"offer_id": offer, "partner_id": partner, "publisher_id": "PUB-" + partner,
		"listing_type": listing, "storefront": "appsource"}}
}

func delisted(offer, at string) ev {
	return ev{typ: TypeOfferDelisted, at: at, data: M{"offer_id": offer}}
}

func enrolled(partner, at string) ev {
	return ev{typ: TypePartnerEnrolled, at: at, data: M{"partner_id": partner, "name": "Partner " + partner,
		"account_email": "admin@" + strings.ToLower(partner) + ".example"}}
}

func contactAssigned(partner, at string) ev {
	return ev{typ: TypeMarketingContactAssigned, at: at, data: M{"partner_id": partner,
		"email": "marketing@" + strings.ToLower(partner) + ".example", "phone": "+1 425 555 0100", "language": "en-US"}}
}

func sold(sale, offer string, cents int64, at string) ev {
	return ev{typ: TypeSaleBilled, at: at, data: M{"sale_id": sale, "offer_id": offer, "customer_id": "C-" + sale, "amount_usd_cents": cents}}
}

func flagged(sale, confidence, at string) ev {
	return ev{typ: TypeSaleFlaggedFraud, at: at, data: M{"sale_id": sale, "confidence": confidence}}
}

func cleared(sale, at string) ev {
	return ev{typ: TypeSaleFraudCleared, at: at, data: M{"sale_id": sale}}
}

func cancelled(sale, at string) ev {
	return ev{typ: TypePurchaseCancelled, at: at, data: M{"sale_id": sale, "reason": "accidental"}}
}

func metric(partner, name, period string, value int64, at string) ev {
	return ev{typ: TypeMetricReported, at: at, data: M{"partner_id": partner, "metric": name, "period": period, "value": value}}
}

func activated(partner, benefit, at string) ev {
	return ev{typ: TypeBenefitActivated, at: at, data: M{"partner_id": partner, "benefit_id": benefit}}
}

func contacted(partner, benefit, at string) ev {
	return ev{typ: TypeRewardsTeamContacted, at: at, data: M{"partner_id": partner, "benefit_id": benefit}}
}

func optedOut(partner, at string) ev {
	return ev{typ: TypeEngagementOptedOut, at: at, data: M{"partner_id": partner}}
}

func optedIn(partner, at string) ev {
	return ev{typ: TypeEngagementOptedIn, at: at, data: M{"partner_id": partner}}
}

func sanctioned(partner, at string) ev {
	return ev{typ: TypePartnerSanctioned, at: at, data: M{"partner_id": partner, "ground": "ip-violation"}}
}

func reinstated(partner, at string) ev {
	return ev{typ: TypePartnerReinstated, at: at, data: M{"partner_id": partner}}
}

// story is a fresh Book that lines are submitted to, with assertions.
type story struct {
	t   *testing.T
	b   *Book
	ids int
}

func newStory(t *testing.T) *story { return newStoryWith(t, DefaultPolicy()) }

func newStoryWith(t *testing.T, pol *Policy) *story {
	t.Helper()
	return &story{t: t, b: NewBook(pol)}
}

// submit renders and submits e (under a fresh envelope id unless it has one).
func (s *story) submit(e ev) Result {
	id := e.id
	if id == "" {
		s.ids++
		id = fmt.Sprintf("ev-%d", s.ids)
	}
	return s.b.Submit(e.render(id), clock)
}

// ok submits e, which must be accepted as new; it returns the sequence.
func (s *story) ok(e ev) uint64 {
	s.t.Helper()
	before := s.b.LastSeq()
	r := s.submit(e)
	if r.Err != nil || r.Duplicate {
		s.t.Fatalf("%s at %s %v: want accepted, got err=%v duplicate=%v", e.typ, e.at, e.data, r.Err, r.Duplicate)
	}
	if r.Seq != before+1 || s.b.LastSeq() != r.Seq {
		s.t.Fatalf("%s: seq %d, last %d after %d", e.typ, r.Seq, s.b.LastSeq(), before)
	}
	return r.Seq
}

// all submits every event, each must be accepted; it returns the last sequence.
func (s *story) all(es ...ev) uint64 {
	s.t.Helper()
	var seq uint64
	for _, e := range es {
		seq = s.ok(e)
	}
	return seq
}

// rejects submits e, which must be rejected with code and change nothing.
func (s *story) rejects(code Code, e ev) *Error {
	s.t.Helper()
	before := s.b.LastSeq()
	r := s.submit(e)
	if got := CodeOf(r.Err); got != code {
		s.t.Fatalf("%s at %s %v: want %s, got code %q (err=%v duplicate=%v)", e.typ, e.at, e.data, code, got, r.Err, r.Duplicate)
	}
	if r.Seq != 0 || r.Duplicate || s.b.LastSeq() != before {
		s.t.Fatalf("%s: a rejection recorded something: seq %d, last %d after %d", e.typ, r.Seq, s.b.LastSeq(), before)
	}
	var ce *Error
	errors.As(r.Err, &ce)
	return ce
}

// dup submits e, which must be accepted as a duplicate of sequence seq.
func (s *story) dup(seq uint64, e ev) {
	s.t.Helper()
	before := s.b.LastSeq()
	r := s.submit(e)
	if r.Err != nil || !r.Duplicate || r.Seq != seq {
		s.t.Fatalf("%s: want duplicate of %d, got seq=%d duplicate=%v err=%v", e.typ, seq, r.Seq, r.Duplicate, r.Err)
	}
	if s.b.LastSeq() != before {
		s.t.Fatalf("%s: a duplicate recorded something (last %d after %d)", e.typ, s.b.LastSeq(), before)
	}
}

// partner returns a partner that must exist.
func (s *story) partner(id string) *Partner {
	s.t.Helper()
	p := s.b.Partner(id)
	if p == nil {
		s.t.Fatalf("partner %s does not exist", id)
	}
	return p
}

// view compiles the partner's View with knowledge up to known (AllKnown for all).
func (s *story) view(partner string, known uint64) *View {
	s.t.Helper()
	return Compile(s.b.Policy(), s.partner(partner), known)
}

func (s *story) tier(partner, at string) TierDoc {
	s.t.Helper()
	return s.view(partner, AllKnown).Tier(ts(at), s.b.LastSeq())
}

func (s *story) tierKnown(partner, at string, known uint64) TierDoc {
	s.t.Helper()
	return s.view(partner, known).Tier(ts(at), known)
}

func (s *story) held(partner, at string) int {
	s.t.Helper()
	return s.view(partner, AllKnown).Held(ts(at))
}

func (s *story) benefits(partner, at string) BenefitsDoc {
	s.t.Helper()
	return s.view(partner, AllKnown).Benefits(ts(at), s.b.LastSeq())
}

// entitled is the sorted set of benefit ids entitled at at.
func (s *story) entitled(partner, at string) []string {
	s.t.Helper()
	return entitledIDs(s.view(partner, AllKnown).Grants(ts(at)))
}

func entitledIDs(gs []Grant) []string {
	ids := []string{}
	for _, g := range gs {
		if !slices.Contains(ids, g.BenefitID) {
			ids = append(ids, g.BenefitID)
		}
	}
	slices.Sort(ids)
	return ids
}

// state is the status of the activation recorded at seq, as queried at at.
func (s *story) state(partner string, seq uint64, at string) ActivationState {
	s.t.Helper()
	return s.stateKnown(partner, seq, at, AllKnown)
}

func (s *story) stateKnown(partner string, seq uint64, at string, known uint64) ActivationState {
	s.t.Helper()
	for _, a := range s.view(partner, known).Activations(ts(at)) {
		if a.Seq == seq {
			return a
		}
	}
	s.t.Fatalf("activation %d of %s not listed at %s", seq, partner, at)
	return ActivationState{}
}

// activation returns the recorded activation at seq.
func (s *story) activation(partner string, seq uint64) *Activation {
	s.t.Helper()
	a := s.partner(partner).Activation(partner, seq)
	if a == nil {
		s.t.Fatalf("no activation %d of %s", seq, partner)
	}
	return a
}

// onboard publishes an offer for a new partner, enrols it and assigns a
// marketing contact, all at at. It returns the last sequence.
func (s *story) onboard(partner, offer, listing, at string) uint64 {
	s.t.Helper()
	return s.all(published(offer, partner, listing, at), enrolled(partner, at), contactAssigned(partner, at))
}

// period builds a Period from two instants.
func period(start, end string) Period { return Period{Start: ts(start), End: ts(end)} }

func samePeriod(a, b Period) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }

func fmtPeriod(p Period) string {
	return p.Start.Format(time.RFC3339Nano) + " – " + p.End.Format(time.RFC3339Nano)
}
