package rpc

import (
	"net/http"

	"github.com/benefits-ledger/ledger/domain"
)

// HTTPStatus is the HTTP status that answers a request-level error of code
// c: the one table, for the HTTP API and for the status the RPC's micro
// error headers carry (status). A code not listed is the caller's
// mistake: 400.
//
// busy is 503 (the server is at its bound of concurrent requests); the HTTP
// API answers a token over its request rate 429 with the same code, the one
// deliberate exception, so that a client backs off on either.
func HTTPStatus(c domain.Code) int {
	switch c {
	case domain.CodeUnauthorized:
		return http.StatusUnauthorized // 401
	case domain.CodeForbidden:
		return http.StatusForbidden // 403
	case domain.CodeUnknownPartner, domain.CodeNotFound:
		return http.StatusNotFound // 404
	case domain.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed // 405
	case domain.CodeUnknownOffer, domain.CodeUnknownSale, domain.CodeNotTransactable,
		domain.CodeDuplicateConflict, domain.CodeOfferNotLive, domain.CodeAlreadyEnrolled,
		domain.CodeContactEmailConflict, domain.CodeNotFlagged, domain.CodeAlreadyCancelled,
		domain.CodeNoOpenActivation, domain.CodeNotSanctioned, domain.CodeAlreadySanctioned,
		domain.CodeNotEnrolled, domain.CodeSanctioned, domain.CodeFraudHold, domain.CodeOptedOut,
		domain.CodeNoMarketingContact, domain.CodeNotEntitled, domain.CodeAlreadyActivated:
		return http.StatusConflict // 409: well formed, but the ledger's state refuses it
	case domain.CodeRequestTooLarge, domain.CodePolicyTooLarge:
		return http.StatusRequestEntityTooLarge // 413
	case domain.CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType // 415
	case domain.CodeInternal, domain.CodeReplyTooLarge:
		return http.StatusInternalServerError // 500: the answer exists but cannot be sent
	case domain.CodeStorageFull:
		return http.StatusInsufficientStorage // 507: nothing stored; retry once space is freed
	case domain.CodeProjectionBehind, domain.CodeLogDamaged, domain.CodeUnavailable, domain.CodeBusy:
		return http.StatusServiceUnavailable // 503: try again later
	case domain.CodeTimeout:
		return http.StatusGatewayTimeout // 504
	}
	return http.StatusBadRequest // 400: invalid_request, invalid_field, too_many_lines, …
}
