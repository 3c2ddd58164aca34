package ledger

import (
	"context"

	"github.com/benefits-ledger/ledger/domain"
)

// Permit says whether a submission may record events of a type: nil permits
// it; an error refuses the line with that error's message and its code, or
// domain.CodeForbidden when it has none. A nil Permit permits every type.
type Permit func(eventType string) error

// SubmitAs is Submit for a submitter limited by permit (its role). A refused
// line changes nothing, and the lines after it are still submitted.
func (w *Writer) SubmitAs(ctx context.Context, permit Permit, lines [][]byte) ([]LineResult, error) {
	return w.submit(ctx, permit, lines)
}

// admit is the submission's permit as the domain pipeline's admission check:
// it runs on the parsed envelope before routing, so a refused line is
// neither decided nor appended, and it costs no second parse.
func (s *submission) admit() func(domain.Input) error {
	if s.permit == nil {
		return nil
	}
	return func(in domain.Input) error {
		err := s.permit(in.Type)
		if err == nil || domain.CodeOf(err) != "" {
			return err
		}
		return &domain.Error{Code: domain.CodeForbidden, Msg: err.Error()}
	}
}
