// Package auth is the ledger's authorization model: the roles, which event
// types each may submit, and how the roles map onto NATS operators, accounts,
// users and subject permissions (nats.go). It also creates and keeps the
// credentials of the embedded server (creds.go).
//
// The model in one paragraph. The embedded server runs in operator (JWT)
// mode with no anonymous access. The "ledger" account holds the event stream
// and the ledger's own service user, and nothing else: it is the only user
// that may publish to ledger.events.> or change the stream, and since no
// client shares its account, no client's request can make a responder (the
// ledger's service, the JetStream API, micro discovery) publish a reply into
// the stream — the server rewrites reply subjects that cross an account
// boundary. Every role has an account of its own that imports what the role
// may call: the queries and discovery; ledger.submit, renamed to
// ledger.submit.<role>, so the ledger learns the caller's role from the
// subject it receives, which no client can choose; for the admin and the
// auditor, verify and the stream's read-only JetStream API, with consumer
// creation and deletion renamed to the ledger's reader gate, which bounds
// and checks them. The ledger then checks each line's event type against
// the role (Role.CheckSubmit). The submitting roles also import the intake
// (ledger.intake.> renamed to ledger.intake.<role>.>, captured by the INTAKE
// stream in the ledger account, the PubAck returning through the import),
// and every role imports the read API of the OUTCOMES stream, its consumer
// creation going through the reader gate, which filters it to the role's own
// ledger.outcomes.<role> (admin and auditor: all). The role accounts have no
// JetStream of their own: they can create no streams, consumers or storage.
package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/benefits-ledger/ledger/domain"
)

// Role is who a client is, as far as the ledger is concerned.
type Role string

// The roles. Every role may query; each submits its own event types.
const (
	Billing     Role = "billing"      // sales, fraud, cancellations, metrics
	Storefront  Role = "storefront"   // offers, enrolment, contacts, activations, opt-outs
	RewardsTeam Role = "rewards-team" // contact reports
	Compliance  Role = "compliance"   // sanctions and reinstatements
	Auditor     Role = "auditor"      // queries and read-only replay of the stream; submits nothing
	Admin       Role = "admin"        // everything but writing the stream directly
)

// roles in the order they are listed to people.
var roles = []Role{Billing, Storefront, RewardsTeam, Compliance, Auditor, Admin}

// submits lists the event types each role may submit. Admin may submit
// every type (see Role.SubmitsAll); a role absent here submits nothing.
var submits = map[Role][]string{
	Billing: {domain.TypeSaleBilled, domain.TypeSaleFlaggedFraud, domain.TypeSaleFraudCleared,
		domain.TypePurchaseCancelled, domain.TypeMetricReported},
	Storefront: {domain.TypeOfferPublished, domain.TypeOfferDelisted, domain.TypePartnerEnrolled,
		domain.TypeMarketingContactAssigned, domain.TypeBenefitActivated,
		domain.TypeEngagementOptedOut, domain.TypeEngagementOptedIn},
	RewardsTeam: {domain.TypeRewardsTeamContacted},
	Compliance:  {domain.TypePartnerSanctioned, domain.TypePartnerReinstated},
}

// Roles lists every role.
func Roles() []Role { return slices.Clone(roles) }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(roles, r) {
		return r, nil
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q (roles: %s)", s, strings.Join(names, ", "))
}

func (r Role) String() string { return string(r) }

// SubmitsAll reports whether the role may submit every event type.
func (r Role) SubmitsAll() bool { return r == Admin }

// MaySubmitAny reports whether the role may submit anything at all.
func (r Role) MaySubmitAny() bool { return r.SubmitsAll() || len(submits[r]) > 0 }

// EventTypes lists the event types the role may submit (nil for admin, who
// may submit all of them, and for the auditor, who may submit none).
func (r Role) EventTypes() []string { return slices.Clone(submits[r]) }

// MaySubmit reports whether the role may submit events of type typ.
func (r Role) MaySubmit(typ string) bool {
	return r.SubmitsAll() || slices.Contains(submits[r], typ)
}

// CheckSubmit returns nil when the role may submit events of type typ, and
// otherwise an error that names the role, the type and what the role may
// submit. The writer answers such a line with code "forbidden".
func (r Role) CheckSubmit(typ string) error {
	if r.MaySubmit(typ) {
		return nil
	}
	if !r.MaySubmitAny() {
		return fmt.Errorf("role %s may not submit events (%s refused); it may only query", r, typ)
	}
	return fmt.Errorf("role %s may not submit %s events; it may submit %s", r, typ, strings.Join(submits[r], ", "))
}
