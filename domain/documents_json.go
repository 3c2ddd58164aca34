package domain

import (
	"encoding/json"
	"strconv"
	"time"
)

// The two documents every query answers, tier and benefits, encode
// themselves: encoding/json's reflection took 13% of a query's CPU, most of
// what the ledger adds to a request/reply through its import. The bytes are
// encoding/json's, exactly (TestDocumentsEncodeAsEncodingJSON compares them
// over a generated program's documents and edge cases it has none of); a
// field added to a document must be added here too, or that test fails.

// jsonAppender is a document that appends its own JSON encoding.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// MarshalJSON returns doc's JSON encoding: the bytes of json.Marshal. A
// document that appends its own encoding (TierDoc, BenefitsDoc) does, into
// one buffer; any other value goes through json.Marshal. It fails where
// json.Marshal fails, for a document on a time RFC 3339 cannot hold (the
// error's text is time's own); queries never ask for one (they bound the
// instant to 1970–2200).
func MarshalJSON(doc any) ([]byte, error) {
	if a, ok := doc.(jsonAppender); ok {
		return a.AppendJSON(make([]byte, 0, 1024))
	}
	return json.Marshal(doc)
}

// AppendJSON appends the document as json.Marshal encodes it.
func (d TierDoc) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.head(d.PartnerID, d.At, d.KnownSeq, d.KnownAt)
	w.key(`,"era":`)
	w.strPtr(d.Era)
	w.key(`,"basis":`)
	w.strPtr(d.Basis)
	w.key(`,"tier":{"rank":`)
	w.int(int64(d.Tier.Rank))
	w.key(`,"name":`)
	w.str(d.Tier.Name)
	w.key(`},"earned_by":`)
	w.strs(d.EarnedBy)
	w.key(`,"sanctioned":`)
	w.bool(d.Sanctioned)
	w.key(`,"tracks":{"mbs_usd_cents":`)
	w.int(d.Tracks.MBS)
	w.key(`,"seats":`)
	w.int(d.Tracks.Seats)
	w.key(`,"teams_mau":`)
	w.int(d.Tracks.MAU)
	w.key(`,"bizapps_value_usd_cents":`)
	w.int(d.Tracks.BizApps)
	w.key(`},"excluded":{"fraud_usd_cents":`)
	w.int(d.Excluded.Fraud)
	w.key(`,"cancelled_usd_cents":`)
	w.int(d.Excluded.Cancelled)
	w.key(`},"period":`)
	if d.Period == nil {
		w.key(`null`)
	} else {
		w.key(`{"kind":`)
		w.str(d.Period.Kind)
		w.key(`,"start":`)
		w.time(d.Period.Start)
		w.key(`,"end":`)
		w.time(d.Period.End)
		w.key(`}`)
	}
	w.key(`,"first_receipt":`)
	w.timePtr(d.FirstReceipt)
	w.key(`,"policy":`)
	w.str(d.Policy)
	w.key(`}`)
	return w.b, w.err
}

// AppendJSON appends the document as json.Marshal encodes it.
func (d BenefitsDoc) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.head(d.PartnerID, d.At, d.KnownSeq, d.KnownAt)
	w.key(`,"sanctioned":`)
	w.bool(d.Sanctioned)
	w.key(`,"entitled":`)
	list(&w, d.Entitled, func(e EntitledDoc) {
		w.key(`{"benefit_id":`)
		w.str(e.BenefitID)
		w.key(`,"category":`)
		w.str(e.Category)
		w.key(`,"granted_by":`)
		w.str(e.GrantedBy)
		w.key(`,"offer_id":`)
		w.strPtr(e.OfferID)
		w.key(`,"until":`)
		w.timePtr(e.Until)
		w.key(`,"period":`)
		w.period(e.Period)
		w.key(`}`)
	})
	w.key(`,"activations":`)
	list(&w, d.Activations, func(a ActivationDoc) {
		w.key(`{"seq":`)
		w.uint(a.Seq)
		w.key(`,"event_id":`)
		w.str(a.EventID)
		w.key(`,"benefit_id":`)
		w.str(a.BenefitID)
		w.key(`,"offer_id":`)
		w.strPtr(a.OfferID)
		w.key(`,"activated_at":`)
		w.time(a.ActivatedAt)
		w.key(`,"granted_by":`)
		w.str(a.GrantedBy)
		w.key(`,"period":`)
		w.period(a.Period)
		w.key(`,"status":`)
		w.str(a.Status)
		w.key(`,"reasons":`)
		w.strs(a.Reasons)
		w.key(`,"contacted":`)
		w.bool(a.Contacted)
		w.key(`}`)
	})
	w.key(`,"policy":`)
	w.str(d.Policy)
	w.key(`}`)
	return w.b, w.err
}

// list appends xs as a JSON array, each element by each; nil is null, as
// encoding/json has it.
func list[T any](w *jsonWriter, xs []T, each func(T)) {
	if xs == nil {
		w.key(`null`)
		return
	}
	w.key(`[`)
	for i, x := range xs {
		if i > 0 {
			w.key(`,`)
		}
		each(x)
	}
	w.key(`]`)
}

// jsonWriter appends JSON values as encoding/json writes them. The first
// error is kept; later appends still happen, and the caller discards them.
type jsonWriter struct {
	b   []byte
	err error
}

// head opens a document with the members both documents begin with.
func (w *jsonWriter) head(partnerID string, at time.Time, knownSeq uint64, knownAt *time.Time) {
	w.key(`{"partner_id":`)
	w.str(partnerID)
	w.key(`,"at":`)
	w.time(at)
	w.key(`,"known_seq":`)
	w.uint(knownSeq)
	if knownAt != nil {
		w.key(`,"known_at":`)
		w.time(*knownAt)
	}
}

// key appends literal JSON: punctuation and member names.
func (w *jsonWriter) key(s string) { w.b = append(w.b, s...) }

// str appends s as a JSON string. Printable ASCII other than the characters
// encoding/json escapes (the quote, the backslash, and <, > and & for HTML)
// is copied; a string with any other byte goes through encoding/json, which
// escapes control characters, replaces invalid UTF-8 and escapes U+2028 and
// U+2029.
func (w *jsonWriter) str(s string) { w.b = appendString(w.b, s) }

// AppendJSONString appends s as a JSON string, byte for byte as
// encoding/json writes it (HTML characters escaped, invalid UTF-8
// replaced), for the other documents encoded by hand.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// appendString appends s as a JSON string, as jsonWriter.str does.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (w *jsonWriter) strPtr(s *string) {
	if s == nil {
		w.key(`null`)
		return
	}
	w.str(*s)
}

// strs appends a list of strings; nil is null.
func (w *jsonWriter) strs(ss []string) { list(w, ss, w.str) }

func (w *jsonWriter) int(n int64)   { w.b = strconv.AppendInt(w.b, n, 10) }
func (w *jsonWriter) uint(n uint64) { w.b = strconv.AppendUint(w.b, n, 10) }
func (w *jsonWriter) bool(v bool)   { w.b = strconv.AppendBool(w.b, v) }

// time appends t as time.Time's MarshalJSON does: RFC 3339 with the
// nanoseconds it has, refusing what RFC 3339 cannot hold (a year outside
// 0–9999, a zone hour past 23).
func (w *jsonWriter) time(t time.Time) {
	w.b = append(w.b, '"')
	b, err := t.AppendText(w.b)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.b = append(b, '"')
}

func (w *jsonWriter) timePtr(t *time.Time) {
	if t == nil {
		w.key(`null`)
		return
	}
	w.time(*t)
}

func (w *jsonWriter) period(p Period) {
	w.key(`{"start":`)
	w.time(p.Start)
	w.key(`,"end":`)
	w.time(p.End)
	w.key(`}`)
}
