package domain

import "time"

// Event is a recorded event: an accepted input, the partner it belongs to, its
// place in the log, and what the decider determined when accepting it. The
// stream stores the input exactly as received; the rest travels in headers.
type Event struct {
	Input
	Seq      uint64
	Recorded time.Time // the ledger's clock when it decided
	Partner  string

	// Grant is the line and period a BenefitActivated was accepted under.
	Grant *GrantNote
	// Target is the sequence of the activation a RewardsTeamContacted names.
	Target uint64
	// Chain is the event's tamper-evidence chain value as recorded (hex; ""
	// for events recorded before the chain existed). The domain keeps it
	// opaque: it is the partner's link for its next event.
	Chain string
}

// GrantNote is the decider's choice for an activation. It is fixed at
// acceptance: "already_activated" compares against it, whatever the
// activation's status is later.
type GrantNote struct {
	Line    string
	OfferID string
	Period  Period
}

// stamp is the event's Stamp.
func (e Event) stamp() Stamp { return Stamp{Seq: e.Seq, Time: e.Time, Event: e.ID} }
