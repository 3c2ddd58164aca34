package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable rejection code (CONTRACT.md). Codes are
// part of the public contract: never rename one.
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
