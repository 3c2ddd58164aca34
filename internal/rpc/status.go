package rpc

import (
	"net/http"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// Transport codes: a request refused before the ledger looked at it. The
// HTTP API answers them; they sit here beside the request-level codes (rpc.go)
// so that one table (HTTPStatus) covers every code either transport answers.
const (
	CodeUnauthorized     domain.Code = "unauthorized"                         // no or an unknown bearer token
	CodeUnsupportedMedia             = cloudevents.CodeUnsupportedContentType // a body of a content type the endpoint does not take (HTTP and NATS alike)
	CodeNotFound         domain.Code = "not_found"                            // no such route
	CodeMethodNotAllowed domain.Code = "method_not_allowed"                   // a route without that method
	CodeInvalidHeader    domain.Code = "invalid_header"                       // a malformed header (a repeated or badly encoded ce-* attribute)
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
	case CodeUnauthorized:
		return http.StatusUnauthorized // 401
	case ledger.CodeForbidden:
		return http.StatusForbidden // 403
	case domain.CodeUnknownPartner, CodeNotFound:
		return http.StatusNotFound // 404
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed // 405
	case domain.CodeUnknownOffer, domain.CodeUnknownSale, domain.CodeNotTransactable,
		domain.CodeDuplicateConflict, domain.CodeOfferNotLive, domain.CodeAlreadyEnrolled,
		domain.CodeContactEmailConflict, domain.CodeNotFlagged, domain.CodeAlreadyCancelled,
		domain.CodeNoOpenActivation, domain.CodeNotSanctioned, domain.CodeAlreadySanctioned,
		domain.CodeNotEnrolled, domain.CodeSanctioned, domain.CodeFraudHold, domain.CodeOptedOut,
		domain.CodeNoMarketingContact, domain.CodeNotEntitled, domain.CodeAlreadyActivated:
		return http.StatusConflict // 409: well formed, but the ledger's state refuses it
	case CodeRequestTooLarge, ledger.CodePolicyTooLarge:
		return http.StatusRequestEntityTooLarge // 413
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType // 415
	case CodeInternal, CodeReplyTooLarge:
		return http.StatusInternalServerError // 500: the answer exists but cannot be sent
	case ledger.CodeStorageFull:
		return http.StatusInsufficientStorage // 507: nothing stored; retry once space is freed
	case ledger.CodeProjectionBehind, ledger.CodeDamaged, ledger.CodeUnavailable, CodeBusy:
		return http.StatusServiceUnavailable // 503: try again later
	case CodeTimeout:
		return http.StatusGatewayTimeout // 504
	}
	return http.StatusBadRequest // 400: invalid_request, invalid_field, too_many_lines, …
}
