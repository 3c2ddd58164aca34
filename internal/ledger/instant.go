package ledger

import (
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// ParseInstant reads a query instant: RFC 3339 with an offset, or a plain
// date YYYY-MM-DD (midnight UTC), in UTC. A bad value is invalid_field
// naming the field.
func ParseInstant(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, &domain.Error{Code: domain.CodeInvalidField, Field: field,
			Msg: fmt.Sprintf("%s must be an RFC 3339 time with offset or a date YYYY-MM-DD (got %.64q)", field, s)}
	}
	return t.UTC(), nil
}
