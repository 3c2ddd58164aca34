package ledger

import (
	"context"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// CodeForbidden answers a line whose event type the submitter may not submit.
const CodeForbidden domain.Code = "forbidden"

// Permit says whether a submission may record events of a type: nil permits
// it; an error refuses the line with that error's message and its code, or
// CodeForbidden when it has none. A nil Permit permits every type.
type Permit func(eventType string) error

// SubmitAs is Submit for a submitter limited by permit (its role). A refused
// line changes nothing, and the lines after it are still submitted.
func (w *Writer) SubmitAs(ctx context.Context, permit Permit, lines [][]byte) ([]LineResult, error) {
	return w.submit(ctx, permit, lines)
}

// refuse applies the submission's permit to a line before it is decided, so
// a refused line is neither decided nor appended. A line whose envelope does
// not parse is left to the decider: it rejects it for the same reason, and
// since only a parsed envelope is ever recorded, the permit sees every type
// that could be.
func (s *submission) refuse(raw []byte, now time.Time, r *LineResult) bool {
	if s.permit == nil {
		return false
	}
	in, err := domain.ParseEnvelope(raw, now)
	if err != nil {
		return false
	}
	perr := s.permit(in.Type)
	if perr == nil {
		return false
	}
	r.ID, r.Code, r.Error = in.ID, domain.CodeOf(perr), perr.Error()
	if r.Code == "" {
		r.Code = CodeForbidden
	}
	return true
}
