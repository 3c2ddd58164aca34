package domain

// Input event types (DOMAIN.md §2).
const (
	TypeOfferPublished           = "OfferPublished"
	TypeOfferDelisted            = "OfferDelisted"
	TypePartnerEnrolled          = "PartnerEnrolled"
	TypeMarketingContactAssigned = "MarketingContactAssigned"
	TypeSaleBilled               = "SaleBilled"
	TypeSaleFlaggedFraud         = "SaleFlaggedFraud"
	TypeSaleFraudCleared         = "SaleFraudCleared"
	TypePurchaseCancelled        = "PurchaseCancelled"
	TypeMetricReported           = "MetricReported"
	TypeBenefitActivated         = "BenefitActivated"
	TypeRewardsTeamContacted     = "RewardsTeamContacted"
	TypeEngagementOptedOut       = "EngagementOptedOut"
	TypeEngagementOptedIn        = "EngagementOptedIn"
	TypePartnerSanctioned        = "PartnerSanctioned"
	TypePartnerReinstated        = "PartnerReinstated"
)

// Enumerations of data fields.
const (
	ListingList       = "list"
	ListingTrial      = "trial"
	ListingConsulting = "consulting"
	ListingTransact   = "transact"

	CategoryM365  = "m365-app"
	CategoryOther = "other"

	ConfidenceSuspected = "suspected"
	ConfidenceConfirmed = "confirmed"

	MetricTeamsMAU     = "teams_mau"
	MetricBizAppsValue = "bizapps_value"
)

var (
	listingTypes  = []string{ListingList, ListingTrial, ListingConsulting, ListingTransact}
	storefronts   = []string{"appsource", "azure-marketplace"}
	categories    = []string{CategoryM365, "business-app", "azure-app", CategoryOther}
	confidences   = []string{ConfidenceSuspected, ConfidenceConfirmed}
	cancelReasons = []string{"accidental", "before-use", "other"}
	metrics       = []string{MetricTeamsMAU, MetricBizAppsValue}
	grounds       = []string{"illegal-activity", "fraudulent-purchase", "delisted", "ip-violation", "sponsorship-violation"}
)

// Data is the typed, validated and normalized data of an input event. Its JSON
// encoding (field order fixed by the struct) is the canonical form that
// content comparison hashes.
type Data interface {
	EventType() string
}

// partnerScoped is implemented by data that names its partner directly.
type partnerScoped interface {
	Data
	Partner() string
}

// OfferPublished is the data of an OfferPublished event (DOMAIN.md §2): a
// publication of an offer, which creates its partner if new.
type OfferPublished struct {
	OfferID     string `json:"offer_id"`
	PartnerID   string `json:"partner_id"`
	PublisherID string `json:"publisher_id"`
	ListingType string `json:"listing_type"`
	Storefront  string `json:"storefront"`
	Category    string `json:"category"`
}

// OfferDelisted is the data of an OfferDelisted event: the end of an
// offer's current publication.
type OfferDelisted struct {
	OfferID string `json:"offer_id"`
	Reason  string `json:"reason,omitempty"`
}

// PartnerEnrolled is the data of a PartnerEnrolled event: the partner's
// enrolment in the rewards program, once.
type PartnerEnrolled struct {
	PartnerID    string `json:"partner_id"`
	Name         string `json:"name"`
	AccountEmail string `json:"account_email"`
}

// MarketingContactAssigned is the data of a MarketingContactAssigned event:
// the partner's marketing contact, replacing the previous one.
type MarketingContactAssigned struct {
	PartnerID string `json:"partner_id"`
	UserID    string `json:"user_id,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone"`
	Language  string `json:"language"`
}

// SaleBilled is the data of a SaleBilled event: one sale of a transact
// offer, in integer US cents; sale_id is unique forever.
type SaleBilled struct {
	SaleID         string `json:"sale_id"`
	OfferID        string `json:"offer_id"`
	CustomerID     string `json:"customer_id"`
	AmountUSDCents int64  `json:"amount_usd_cents"`
	Seats          int64  `json:"seats,omitempty"`
}

// SaleFlaggedFraud is the data of a SaleFlaggedFraud event: a suspected
// or confirmed fraud flag on a sale.
type SaleFlaggedFraud struct {
	SaleID     string `json:"sale_id"`
	Confidence string `json:"confidence"`
}

// SaleFraudCleared is the data of a SaleFraudCleared event: it lifts a
// sale's flag.
type SaleFraudCleared struct {
	SaleID string `json:"sale_id"`
}

// PurchaseCancelled is the data of a PurchaseCancelled event: a sale that
// no longer counts, at any instant, once known.
type PurchaseCancelled struct {
	SaleID string `json:"sale_id"`
	Reason string `json:"reason"`
}

// MetricReported is the data of a MetricReported event: a (partner, metric,
// period) value that replaces any earlier report of the same key.
type MetricReported struct {
	PartnerID string `json:"partner_id"`
	Metric    string `json:"metric"`
	Period    string `json:"period"`
	Value     int64  `json:"value"`
}

// BenefitActivated is the data of a BenefitActivated event: a partner
// activating a benefit, through an offer's grant when OfferID is set.
type BenefitActivated struct {
	PartnerID string `json:"partner_id"`
	BenefitID string `json:"benefit_id"`
	OfferID   string `json:"offer_id,omitempty"`
}

// RewardsTeamContacted is the data of a RewardsTeamContacted event: it
// marks the earliest open activation of the benefit as contacted.
type RewardsTeamContacted struct {
	PartnerID string `json:"partner_id"`
	BenefitID string `json:"benefit_id"`
}

// EngagementOptedOut and EngagementOptedIn share their scope: neither field
// means every engagement of the partner.
type EngagementOptedOut struct {
	PartnerID string `json:"partner_id"`
	BenefitID string `json:"benefit_id,omitempty"`
	OfferID   string `json:"offer_id,omitempty"`
}

// EngagementOptedIn is the data of an EngagementOptedIn event: it ends
// the opt-outs of the same scope (EngagementOptedOut).
type EngagementOptedIn EngagementOptedOut

// PartnerSanctioned is the data of a PartnerSanctioned event: the start of
// a sanction, which revokes activations inside their periods after it.
type PartnerSanctioned struct {
	PartnerID string `json:"partner_id"`
	Ground    string `json:"ground"`
	Note      string `json:"note,omitempty"`
}

// PartnerReinstated is the data of a PartnerReinstated event: the end of
// the current sanction.
type PartnerReinstated struct {
	PartnerID string `json:"partner_id"`
}

// EventType returns TypeOfferPublished: the type whose data OfferPublished is.
func (OfferPublished) EventType() string { return TypeOfferPublished }

// EventType returns TypeOfferDelisted: the type whose data OfferDelisted is.
func (OfferDelisted) EventType() string { return TypeOfferDelisted }

// EventType returns TypePartnerEnrolled: the type whose data PartnerEnrolled is.
func (PartnerEnrolled) EventType() string { return TypePartnerEnrolled }

// EventType returns TypeMarketingContactAssigned: the type whose data MarketingContactAssigned is.
func (MarketingContactAssigned) EventType() string { return TypeMarketingContactAssigned }

// EventType returns TypeSaleBilled: the type whose data SaleBilled is.
func (SaleBilled) EventType() string { return TypeSaleBilled }

// EventType returns TypeSaleFlaggedFraud: the type whose data SaleFlaggedFraud is.
func (SaleFlaggedFraud) EventType() string { return TypeSaleFlaggedFraud }

// EventType returns TypeSaleFraudCleared: the type whose data SaleFraudCleared is.
func (SaleFraudCleared) EventType() string { return TypeSaleFraudCleared }

// EventType returns TypePurchaseCancelled: the type whose data PurchaseCancelled is.
func (PurchaseCancelled) EventType() string { return TypePurchaseCancelled }

// EventType returns TypeMetricReported: the type whose data MetricReported is.
func (MetricReported) EventType() string { return TypeMetricReported }

// EventType returns TypeBenefitActivated: the type whose data BenefitActivated is.
func (BenefitActivated) EventType() string { return TypeBenefitActivated }

// EventType returns TypeRewardsTeamContacted: the type whose data RewardsTeamContacted is.
func (RewardsTeamContacted) EventType() string { return TypeRewardsTeamContacted }

// EventType returns TypeEngagementOptedOut: the type whose data EngagementOptedOut is.
func (EngagementOptedOut) EventType() string { return TypeEngagementOptedOut }

// EventType returns TypeEngagementOptedIn: the type whose data EngagementOptedIn is.
func (EngagementOptedIn) EventType() string { return TypeEngagementOptedIn }

// EventType returns TypePartnerSanctioned: the type whose data PartnerSanctioned is.
func (PartnerSanctioned) EventType() string { return TypePartnerSanctioned }

// EventType returns TypePartnerReinstated: the type whose data PartnerReinstated is.
func (PartnerReinstated) EventType() string { return TypePartnerReinstated }

// Partner returns the partner the data names.
func (d OfferPublished) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d PartnerEnrolled) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d MarketingContactAssigned) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d MetricReported) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d BenefitActivated) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d RewardsTeamContacted) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d EngagementOptedOut) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d EngagementOptedIn) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d PartnerSanctioned) Partner() string { return d.PartnerID }

// Partner returns the partner the data names.
func (d PartnerReinstated) Partner() string { return d.PartnerID }

// dataParsers builds each type's data from its fields. Every getter marks its
// field as known; fields nobody asked for are reported as unknown.
var dataParsers = map[string]func(*fields) Data{
	TypeOfferPublished: func(f *fields) Data {
		return OfferPublished{
			OfferID:     f.id("offer_id", true),
			PartnerID:   f.partnerID("partner_id"),
			PublisherID: f.id("publisher_id", true),
			ListingType: f.enum("listing_type", true, listingTypes),
			Storefront:  f.enum("storefront", true, storefronts),
			Category:    orDefault(f.enum("category", false, categories), CategoryOther),
		}
	},
	TypeOfferDelisted: func(f *fields) Data {
		return OfferDelisted{OfferID: f.id("offer_id", true), Reason: f.text("reason", false)}
	},
	TypePartnerEnrolled: func(f *fields) Data {
		return PartnerEnrolled{PartnerID: f.partnerID("partner_id"), Name: f.text("name", true), AccountEmail: f.email("account_email", true)}
	},
	TypeMarketingContactAssigned: func(f *fields) Data {
		d := MarketingContactAssigned{
			PartnerID: f.partnerID("partner_id"),
			UserID:    f.id("user_id", false),
			Email:     f.email("email", false),
			Phone:     f.check("phone", true, validPhone, "must be a phone number of 6 to 20 digits, spaces, ( ) or -, optionally after +"),
			Language:  f.check("language", true, validLanguage, "must be a BCP 47 language tag"),
		}
		if d.UserID == "" && d.Email == "" {
			f.fail(fieldError("data.user_id", "or data.email is required"))
		}
		return d
	},
	TypeSaleBilled: func(f *fields) Data {
		return SaleBilled{
			SaleID:         f.id("sale_id", true),
			OfferID:        f.id("offer_id", true),
			CustomerID:     f.id("customer_id", true),
			AmountUSDCents: f.integer("amount_usd_cents", true, 1, MaxAmountCents),
			Seats:          f.integer("seats", false, 0, MaxSeats),
		}
	},
	TypeSaleFlaggedFraud: func(f *fields) Data {
		return SaleFlaggedFraud{SaleID: f.id("sale_id", true), Confidence: f.enum("confidence", true, confidences)}
	},
	TypeSaleFraudCleared: func(f *fields) Data {
		return SaleFraudCleared{SaleID: f.id("sale_id", true)}
	},
	TypePurchaseCancelled: func(f *fields) Data {
		return PurchaseCancelled{SaleID: f.id("sale_id", true), Reason: f.enum("reason", true, cancelReasons)}
	},
	TypeMetricReported: func(f *fields) Data {
		return MetricReported{
			PartnerID: f.partnerID("partner_id"),
			Metric:    f.enum("metric", true, metrics),
			Period:    f.check("period", true, validPeriod, "must be a month, YYYY-MM"),
			Value:     f.integer("value", true, 0, MaxMetricValue),
		}
	},
	TypeBenefitActivated: func(f *fields) Data {
		return BenefitActivated{PartnerID: f.partnerID("partner_id"), BenefitID: f.id("benefit_id", true), OfferID: f.id("offer_id", false)}
	},
	TypeRewardsTeamContacted: func(f *fields) Data {
		return RewardsTeamContacted{PartnerID: f.partnerID("partner_id"), BenefitID: f.id("benefit_id", true)}
	},
	TypeEngagementOptedOut: func(f *fields) Data { return parseEngagement(f) },
	TypeEngagementOptedIn:  func(f *fields) Data { return EngagementOptedIn(parseEngagement(f)) },
	TypePartnerSanctioned: func(f *fields) Data {
		return PartnerSanctioned{PartnerID: f.partnerID("partner_id"), Ground: f.enum("ground", true, grounds), Note: f.text("note", false)}
	},
	TypePartnerReinstated: func(f *fields) Data {
		return PartnerReinstated{PartnerID: f.partnerID("partner_id")}
	},
}

func parseEngagement(f *fields) EngagementOptedOut {
	return EngagementOptedOut{PartnerID: f.partnerID("partner_id"), BenefitID: f.id("benefit_id", false), OfferID: f.id("offer_id", false)}
}

// KnownType reports whether typ is an input event type.
func KnownType(typ string) bool {
	_, ok := dataParsers[typ]
	return ok
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
