package rpc

import (
	"context"

	"github.com/benefits-ledger/ledger/internal/micro"
)

// Intake endpoints (CONTRACT.md "Outcomes"): every role may call them.
const (
	// EndpointOutcome answers {"id"} with the event's state: recorded,
	// rejected or unknown.
	EndpointOutcome = "outcome"
	// EndpointIntake answers the intake's state (`ledger intake`): queued,
	// the oldest queued event's age, events decided per second. Its
	// subject, ledger.intakeinfo, is outside the intake's ledger.intake.>.
	EndpointIntake = "intakeinfo"
)

// OutcomeRequest is a ledger.outcome request.
type OutcomeRequest struct {
	ID string `json:"id"`
}

// OutcomeDoc is a ledger.outcome reply.
type OutcomeDoc struct {
	ID    string `json:"id"`
	State string `json:"state"` // "recorded", "rejected" or "unknown"
	Seq   uint64 `json:"seq,omitempty"`
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// Outcome states.
const (
	StateRecorded = "recorded"
	StateRejected = "rejected"
	StateUnknown  = "unknown"
)

// Intake is what the intake endpoints need from the running ledger.
type Intake interface {
	Outcome(ctx context.Context, id string) (OutcomeDoc, error)
	IntakeInfo(ctx context.Context) (any, error)
}

// WithIntake adds the outcome and intake endpoints.
func WithIntake(in Intake) Option {
	return func(s *Server, endpoints map[string]func(context.Context, micro.Request)) {
		endpoints[EndpointOutcome] = func(ctx context.Context, req micro.Request) {
			var r OutcomeRequest
			if err := DecodeStrict(req.Data(), &r); err != nil {
				s.fail(req, err)
				return
			}
			doc, err := in.Outcome(ctx, r.ID)
			if err != nil {
				s.fail(req, err)
				return
			}
			s.respondJSON(req, doc)
		}
		endpoints[EndpointIntake] = respond(s, in.IntakeInfo)
	}
}
