package gen

import (
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// appendLine encodes an input as one CloudEvents structured envelope (no
// trailing newline). The line is derived from the Input itself, so the Input
// the generator judges and the line it emits cannot disagree; the tests parse
// the lines back and compare fingerprints.
func appendLine(b []byte, in *domain.Input) []byte {
	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, in.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, in.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, in.Type)
	b = append(b, `,"time":"`...)
	b = in.Time.AppendFormat(b, time.RFC3339)
	b = append(b, `","data":`...)
	b = appendData(b, in.Data)
	return append(b, '}')
}

// obj builds a flat JSON object of string and integer members.
type obj struct {
	b     []byte
	first bool
}

func openObj(b []byte) obj { return obj{b: append(b, '{'), first: true} }

func (o *obj) key(k string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, `":`...)
}

func (o *obj) str(k, v string) {
	o.key(k)
	o.b = appendString(o.b, v)
}

// opt writes a string member only when it is not empty (omitted = absent).
func (o *obj) opt(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *obj) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *obj) close() []byte { return append(o.b, '}') }

func appendData(b []byte, d domain.Data) []byte {
	o := openObj(b)
	switch d := d.(type) {
	case domain.OfferPublished:
		o.str("offer_id", d.OfferID)
		o.str("partner_id", d.PartnerID)
		o.str("publisher_id", d.PublisherID)
		o.str("listing_type", d.ListingType)
		o.str("storefront", d.Storefront)
		o.str("category", d.Category)
	case domain.OfferDelisted:
		o.str("offer_id", d.OfferID)
		o.opt("reason", d.Reason)
	case domain.PartnerEnrolled:
		o.str("partner_id", d.PartnerID)
		o.str("name", d.Name)
		o.str("account_email", d.AccountEmail)
	case domain.MarketingContactAssigned:
		o.str("partner_id", d.PartnerID)
		o.opt("user_id", d.UserID)
		o.opt("email", d.Email)
		o.str("phone", d.Phone)
		o.str("language", d.Language)
	case domain.SaleBilled:
		o.str("sale_id", d.SaleID)
		o.str("offer_id", d.OfferID)
		o.str("customer_id", d.CustomerID)
		o.int("amount_usd_cents", d.AmountUSDCents)
		if d.Seats != 0 {
			o.int("seats", d.Seats)
		}
	case domain.SaleFlaggedFraud:
		o.str("sale_id", d.SaleID)
		o.str("confidence", d.Confidence)
	case domain.SaleFraudCleared:
		o.str("sale_id", d.SaleID)
	case domain.PurchaseCancelled:
		o.str("sale_id", d.SaleID)
		o.str("reason", d.Reason)
	case domain.MetricReported:
		o.str("partner_id", d.PartnerID)
		o.str("metric", d.Metric)
		o.str("period", d.Period)
		o.int("value", d.Value)
	case domain.BenefitActivated:
		o.str("partner_id", d.PartnerID)
		o.str("benefit_id", d.BenefitID)
		o.opt("offer_id", d.OfferID)
	case domain.RewardsTeamContacted:
		o.str("partner_id", d.PartnerID)
		o.str("benefit_id", d.BenefitID)
	case domain.EngagementOptedOut:
		o.str("partner_id", d.PartnerID)
		o.opt("benefit_id", d.BenefitID)
		o.opt("offer_id", d.OfferID)
	case domain.EngagementOptedIn:
		o.str("partner_id", d.PartnerID)
		o.opt("benefit_id", d.BenefitID)
		o.opt("offer_id", d.OfferID)
	case domain.PartnerSanctioned:
		o.str("partner_id", d.PartnerID)
		o.str("ground", d.Ground)
		o.opt("note", d.Note)
	case domain.PartnerReinstated:
		o.str("partner_id", d.PartnerID)
	default:
		panic("gen: no encoding for " + d.EventType())
	}
	return o.close()
}

// appendString writes a JSON string. The generator's strings are printable
// ASCII; quotes, backslashes and control characters are escaped anyway.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
