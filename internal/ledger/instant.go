package ledger

import (
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// ParseInstant reads a query instant (at, known_at, from_time, to_time):
// RFC 3339 with an offset (domain.ParseInstant), or a plain date
// YYYY-MM-DD (midnight UTC), in UTC, from MinQueryInstant to
// MaxQueryInstant. A bad value is invalid_field naming the field.
func ParseInstant(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		var perr error
		if t, perr = domain.ParseInstant(s); perr != nil {
			return t, &domain.Error{Code: domain.CodeInvalidField, Field: field,
				Msg: fmt.Sprintf("%s must be an RFC 3339 time with offset or a date YYYY-MM-DD (got %q): %v", field, domain.Clip(s), perr)}
		}
	}
	t = t.UTC()
	if t.Before(MinQueryInstant) || t.After(MaxQueryInstant) {
		return t, &domain.Error{Code: domain.CodeInvalidField, Field: field, Msg: fmt.Sprintf("%s must be from %s to %s (got %q)",
			field, MinQueryInstant.Format(time.RFC3339), MaxQueryInstant.Format(time.RFC3339), domain.Clip(s))}
	}
	return t, nil
}
