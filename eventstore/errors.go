package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownOutcome means a write was sent but its result never came back
	// (timeout, lost connection): the events may or may not be stored. The
	// caller must re-check (PartnerLastSeq, its idempotency index) before
	// retrying, or it risks a duplicate.
	ErrUnknownOutcome = errors.New("eventstore: outcome of the append is unknown")

	// ErrUnavailable means the stream did not take the append (no leader
	// answered, the leader changed or the connection broke before the
	// commit was sent): nothing was stored, and the append may be retried
	// once the stream is back.
	ErrUnavailable = errors.New("eventstore: the stream is unavailable; nothing was stored")

	// ErrStorageFull means the server has no room for the append: JetStream's
	// store limit (max_store) or the disk's free-space reserve would be
	// exceeded, or the server answered "insufficient resources". Nothing
	// was stored; the append succeeds again once room is made, without a
	// restart.
	ErrStorageFull = errors.New("eventstore: no storage room for the append; nothing was stored")

	// ErrConflict is matched by every *ConflictError (errors.Is), for callers
	// that do not need the details.
	ErrConflict = errors.New("eventstore: expected sequence conflict")

	// ErrInvalid marks arguments rejected before anything is sent.
	ErrInvalid = errors.New("eventstore: invalid argument")

	// ErrSequenceGap means a reader saw stream sequences that are not
	// consecutive. The stream denies deletes and purges, so this is never
	// expected; projecting past it would silently lose events.
	ErrSequenceGap = errors.New("eventstore: sequence gap")
)

// ConflictError reports that a partner's last sequence (or, with
// ExpectLastSeq, the stream's: Partner is then "") was not what the caller
// expected, so nothing from the append was stored. Actual is the last
// sequence as re-read after the failure, or as the server reported it (0 if
// unknown or none).
type ConflictError struct {
	Partner  string
	Expected uint64
	Actual   uint64
}

// Error names the partner (or the stream) and both sequences.
func (e *ConflictError) Error() string {
	if e.Partner == "" {
		return fmt.Sprintf("eventstore: stream: expected last sequence %d, actual %d", e.Expected, e.Actual)
	}
	return fmt.Sprintf("eventstore: partner %s: expected last sequence %d, actual %d", e.Partner, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
