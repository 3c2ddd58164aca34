package domain

import (
	"fmt"
	"strconv"
	"time"
)

// ParseRecorded reads back an envelope the ledger accepted and stored under
// the first schema of the log (eventstore's Ledger-Schema "1": the envelope
// exactly as received, which ParseEnvelope accepted then).
//
// It trusts that acceptance: none of today's input rules (formats, ranges,
// enumerations, the future-time check, unknown fields, extension
// attributes) is applied again, so that tightening a rule for new input
// never makes recorded history undecodable. It is strict only about the
// structure the fold needs: one JSON object with string id, type and time,
// a time that parses as RFC 3339, a data object whose fields have the JSON
// kind the event's data holds (strings, integers that fit int64), and every
// field schema 1 required present. It normalizes exactly as ParseEnvelope
// does (times in UTC, defaults), so for any envelope ParseEnvelope accepts,
// both return the same Input and the same Fingerprint.
//
// Loosening an input rule so that an envelope this reader would refuse can
// be accepted (a required field made optional, a new type, a field of
// another JSON kind) changes the stored format: it needs a new schema
// version and a reader of its own next to this one.
func ParseRecorded(raw []byte) (Input, error) {
	ms, err := parseObject(raw)
	if err != nil {
		return Input{}, fmt.Errorf("recorded envelope is not one JSON object: %w", err)
	}
	env := &recordedFields{ms: ms}
	in := Input{ID: env.str("id"), Source: env.optStr("source"), Type: env.str("type")}
	when := env.str("time")
	data, ok := attributes(ms).get("data")
	if env.err == nil && (!ok || data.kind != '{') {
		env.fail("data", "must be an object")
	}
	if env.err != nil {
		return Input{}, env.err
	}
	decode, ok := recordedV1[in.Type]
	if !ok {
		return Input{}, fmt.Errorf("recorded envelope: type %q is not a type of schema 1", clip(in.Type))
	}
	t, err := time.Parse(time.RFC3339Nano, when)
	if err != nil {
		return Input{}, fmt.Errorf("recorded envelope: time %q does not parse: %w", clip(when), err)
	}
	in.Time = t.UTC()
	f := &recordedFields{ms: data.obj, prefix: "data."}
	in.Data = decode(f)
	if f.err != nil {
		return Input{}, f.err
	}
	fp := in.fingerprint()
	in.fp = &fp
	return in, nil
}

// recordedFields hands out an object's members by the JSON kind the fold
// needs, without any validation rule. The first problem is kept; fields
// nobody asks for are ignored.
type recordedFields struct {
	ms     []member
	prefix string
	err    error
}

func (f *recordedFields) fail(name, format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("recorded envelope: %s%s %s", f.prefix, clip(name), fmt.Sprintf(format, args...))
	}
}

// member returns the member called name; a null counts as absent, as it
// does for the optional fields of ParseEnvelope (a null required field was
// never accepted).
func (f *recordedFields) member(name string) (member, bool) {
	m, ok := attributes(f.ms).get(name)
	if !ok || m.kind == 'n' {
		return member{}, false
	}
	return m, true
}

// optStr returns a string member, "" when absent.
func (f *recordedFields) optStr(name string) string {
	m, ok := f.member(name)
	if !ok {
		return ""
	}
	if m.kind != '"' {
		f.fail(name, "must be a string, not %s", kindName(m.kind))
		return ""
	}
	return m.text
}

// str returns a string member that must be present.
func (f *recordedFields) str(name string) string {
	if _, ok := f.member(name); !ok {
		f.fail(name, "is missing")
		return ""
	}
	return f.optStr(name)
}

// optInt returns an integer member, 0 when absent.
func (f *recordedFields) optInt(name string) int64 {
	m, ok := f.member(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(m.text, 10, 64)
	if m.kind != '0' || err != nil {
		f.fail(name, "must be an integer of 64 bits (got %s %q)", kindName(m.kind), clip(m.text))
		return 0
	}
	return n
}

// integer returns an integer member that must be present.
func (f *recordedFields) integer(name string) int64 {
	if _, ok := f.member(name); !ok {
		f.fail(name, "is missing")
		return 0
	}
	return f.optInt(name)
}

// recordedV1 reads each type's data as schema 1 stored it: the fields
// dataParsers required then are required here, the defaults it applied are
// applied here, and nothing else is checked.
var recordedV1 = map[string]func(*recordedFields) Data{
	TypeOfferPublished: func(f *recordedFields) Data {
		return OfferPublished{OfferID: f.str("offer_id"), PartnerID: f.str("partner_id"), PublisherID: f.str("publisher_id"),
			ListingType: f.str("listing_type"), Storefront: f.str("storefront"), Category: orDefault(f.optStr("category"), CategoryOther)}
	},
	TypeOfferDelisted: func(f *recordedFields) Data {
		return OfferDelisted{OfferID: f.str("offer_id"), Reason: f.optStr("reason")}
	},
	TypePartnerEnrolled: func(f *recordedFields) Data {
		return PartnerEnrolled{PartnerID: f.str("partner_id"), Name: f.str("name"), AccountEmail: f.str("account_email")}
	},
	TypeMarketingContactAssigned: func(f *recordedFields) Data {
		return MarketingContactAssigned{PartnerID: f.str("partner_id"), UserID: f.optStr("user_id"), Email: f.optStr("email"),
			Phone: f.str("phone"), Language: f.str("language")}
	},
	TypeSaleBilled: func(f *recordedFields) Data {
		return SaleBilled{SaleID: f.str("sale_id"), OfferID: f.str("offer_id"), CustomerID: f.str("customer_id"),
			AmountUSDCents: f.integer("amount_usd_cents"), Seats: f.optInt("seats")}
	},
	TypeSaleFlaggedFraud: func(f *recordedFields) Data {
		return SaleFlaggedFraud{SaleID: f.str("sale_id"), Confidence: f.str("confidence")}
	},
	TypeSaleFraudCleared: func(f *recordedFields) Data {
		return SaleFraudCleared{SaleID: f.str("sale_id")}
	},
	TypePurchaseCancelled: func(f *recordedFields) Data {
		return PurchaseCancelled{SaleID: f.str("sale_id"), Reason: f.str("reason")}
	},
	TypeMetricReported: func(f *recordedFields) Data {
		return MetricReported{PartnerID: f.str("partner_id"), Metric: f.str("metric"), Period: f.str("period"), Value: f.integer("value")}
	},
	TypeBenefitActivated: func(f *recordedFields) Data {
		return BenefitActivated{PartnerID: f.str("partner_id"), BenefitID: f.str("benefit_id"), OfferID: f.optStr("offer_id")}
	},
	TypeRewardsTeamContacted: func(f *recordedFields) Data {
		return RewardsTeamContacted{PartnerID: f.str("partner_id"), BenefitID: f.str("benefit_id")}
	},
	TypeEngagementOptedOut: func(f *recordedFields) Data { return recordedEngagement(f) },
	TypeEngagementOptedIn:  func(f *recordedFields) Data { return EngagementOptedIn(recordedEngagement(f)) },
	TypePartnerSanctioned: func(f *recordedFields) Data {
		return PartnerSanctioned{PartnerID: f.str("partner_id"), Ground: f.str("ground"), Note: f.optStr("note")}
	},
	TypePartnerReinstated: func(f *recordedFields) Data {
		return PartnerReinstated{PartnerID: f.str("partner_id")}
	},
}

func recordedEngagement(f *recordedFields) EngagementOptedOut {
	return EngagementOptedOut{PartnerID: f.str("partner_id"), BenefitID: f.optStr("benefit_id"), OfferID: f.optStr("offer_id")}
}
