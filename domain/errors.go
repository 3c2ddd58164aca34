package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable rejection code (CONTRACT.md). Codes are
// part of the public contract: never rename one. Every code the ledger
// answers, on any transport, is declared in this file.
type Code string

// Rejection codes of input lines.
const (
	CodeInvalidJSON          Code = "invalid_json"
	CodeInvalidEnvelope      Code = "invalid_envelope"
	CodeUnknownType          Code = "unknown_type"
	CodeInvalidField         Code = "invalid_field"
	CodeUnknownPartner       Code = "unknown_partner"
	CodeUnknownOffer         Code = "unknown_offer"
	CodeUnknownSale          Code = "unknown_sale"
	CodeNotTransactable      Code = "not_transactable"
	CodeDuplicateConflict    Code = "duplicate_conflict"
	CodeOfferNotLive         Code = "offer_not_live"
	CodeAlreadyEnrolled      Code = "already_enrolled"
	CodeContactEmailConflict Code = "contact_email_conflict"
	CodeNotFlagged           Code = "not_flagged"
	CodeAlreadyCancelled     Code = "already_cancelled"
	CodeNoOpenActivation     Code = "no_open_activation"
	CodeNotSanctioned        Code = "not_sanctioned"
	CodeAlreadySanctioned    Code = "already_sanctioned"

	// Activation checks, in the order DOMAIN.md §5 applies them.
	CodeNotEnrolled        Code = "not_enrolled"
	CodeSanctioned         Code = "sanctioned"
	CodeFraudHold          Code = "fraud_hold"
	CodeOptedOut           Code = "opted_out"
	CodeNoMarketingContact Code = "no_marketing_contact"
	CodeNotEntitled        Code = "not_entitled"
	CodeAlreadyActivated   Code = "already_activated"
)

// Line codes beyond the rules: a line refused for who sent it or how, or
// (CodeEmptyMessage) an intake message with no line in it.
const (
	// CodeForbidden answers a line whose event type the submitter's role
	// may not submit.
	CodeForbidden Code = "forbidden"
	// CodeLineTooLong answers a line over the writer's MaxLineBytes.
	CodeLineTooLong Code = "line_too_long"
	// CodeEmptyMessage is the outcome of an intake message with no event in
	// it (an empty body, an empty batch): it is acked, never retried.
	CodeEmptyMessage Code = "empty_message"
	// CodeInputError is the code of `ledger submit`'s stop line when its
	// input could not be read (no ledger answer carries it).
	CodeInputError Code = "input_error"
)

// Request codes: a whole request refused or failed; nothing was recorded.
// The RPC and the HTTP API answer them; rpc.HTTPStatus maps each to its
// status, one table for both transports.
const (
	CodeInvalidRequest  Code = "invalid_request" // not one JSON object of the request's exact fields
	CodeTooManyLines    Code = "too_many_lines"
	CodeRequestTooLarge Code = "request_too_large"
	CodeTimeout         Code = "timeout"
	// CodeBusy refuses a request at once because the resource it needs is
	// taken: as many requests pending as the RPC's limits allow (per
	// endpoint, per connection, in all), a rebuild or verify already
	// running, another what-if page being computed. Retry later.
	CodeBusy Code = "busy"
	// CodeReplyTooLarge answers a request whose reply is over the NATS
	// server's max payload: the reply cannot be sent, this small error is.
	CodeReplyTooLarge Code = "reply_too_large"
	// CodePolicyTooLarge: the what-if policy file is over its limit.
	CodePolicyTooLarge Code = "policy_too_large"
	// CodeInvalidPolicy: the what-if policy file does not parse or
	// validate; the error names the field.
	CodeInvalidPolicy Code = "invalid_policy"
	// CodeProjectionBehind: the read models have not reached the knowledge
	// a query asks for (min_seq) in time.
	CodeProjectionBehind Code = "projection_behind"
	// CodeLogDamaged: the log cannot be folded (a record that does not
	// decode, a gap): the read models stop rather than guess.
	CodeLogDamaged Code = "log_damaged"
	// CodeUnavailable: the event store did not answer (no leader, no
	// connection); nothing was stored, retrying is safe.
	CodeUnavailable Code = "unavailable"
	// CodeStorageFull: the event store has no room (its max_store limit or
	// the disk's free-space reserve): nothing of the line was stored, and
	// submitting it again succeeds once room is made, without a restart.
	CodeStorageFull Code = "storage_full"
	CodeInternal    Code = "internal"
)

// Transport codes: a request refused before the ledger looked at it.
const (
	CodeUnauthorized Code = "unauthorized" // no or an unknown bearer token
	// CodeUnsupportedMediaType refuses a whole message whose Content-Type
	// is none of the CloudEvents modes' media types (HTTP and NATS alike):
	// there is no line to answer for.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	CodeNotFound             Code = "not_found"          // no such route
	CodeMethodNotAllowed     Code = "method_not_allowed" // a route without that method
	CodeInvalidHeader        Code = "invalid_header"     // a malformed header (a repeated or badly encoded ce-* attribute)
)

// Error is a coded rejection. Field names the offending attribute or data
// field (for example "data.amount_usd_cents") when there is one.
type Error struct {
	Code  Code
	Field string
	Msg   string
}

// Error returns the message, which names the field when there is one; the
// code is Code (CodeOf finds it in a chain).
func (e *Error) Error() string { return e.Msg }

// reject builds a coded rejection with a formatted message.
func reject(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// fieldError is an invalid_field rejection naming the field.
func fieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidField, Field: field, Msg: field + " " + fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of a coded rejection anywhere in err's chain, or ""
// when err is not a rejection (an infrastructure failure).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Duplicate reports that an input repeats something already recorded: nothing
// new is recorded and the original sequence is returned. It is an error value
// so that Decide keeps the ([]Event, error) shape, like io.EOF; callers treat
// it as success.
type Duplicate struct {
	Seq uint64
}

// Error says which sequence the input duplicates.
func (d *Duplicate) Error() string { return fmt.Sprintf("duplicate of sequence %d", d.Seq) }

// IsDuplicate reports whether err is a Duplicate and, if so, its original sequence.
func IsDuplicate(err error) (uint64, bool) {
	var d *Duplicate
	if errors.As(err, &d) {
		return d.Seq, true
	}
	return 0, false
}
