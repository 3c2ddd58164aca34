package rpc

import (
	"strconv"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// TestHTTPStatusAgreesWithMicroStatus: the one table (HTTPStatus) gives the
// status the RPC's micro error headers carry today for every code the RPC
// answers, except where the table is finer (413, 409), so status() can
// become strconv.Itoa(HTTPStatus(c)) without a surprise.
func TestHTTPStatusAgreesWithMicroStatus(t *testing.T) {
	finer := map[domain.Code]bool{CodeRequestTooLarge: true, domain.CodeDuplicateConflict: true}
	for _, c := range []domain.Code{CodeBadRequest, CodeTooManyLines, CodeRequestTooLarge, CodeTimeout, CodeInternal,
		domain.CodeUnknownPartner, domain.CodeInvalidField, domain.CodeDuplicateConflict, ledger.CodeForbidden,
		ledger.CodeProjectionBehind, ledger.CodeDamaged, ledger.CodeUnavailable, ledger.CodeLineTooLong} {
		got, micro := strconv.Itoa(HTTPStatus(c)), status(c)
		if got != micro && !finer[c] {
			t.Errorf("%s: HTTPStatus %s, micro status %s", c, got, micro)
		}
	}
}
