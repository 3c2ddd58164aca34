// Package rpc is the ledger's NATS service ("ledger", built with nats.go/micro
// so $SRV.PING|INFO|STATS discovery works) and the client the CLI uses.
// Requests and replies are the JSON documents of CONTRACT.md; errors carry
// the micro error headers and a JSON body {"code":…,"error":…}.
package rpc

import (
	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
)

// Service identity.
const (
	ServiceName    = "ledger"
	ServiceVersion = "1.0.0"
	Group          = "ledger"
)

// Endpoints, each on subject "ledger.<name>".
const (
	EndpointSubmit    = "submit"
	EndpointTier      = "tier"
	EndpointBenefits  = "benefits"
	EndpointHistory   = "history"
	EndpointAudit     = "audit"
	EndpointAttention = "attention"
	EndpointStats     = "stats"
)

// Subject is the NATS subject of an endpoint.
func Subject(endpoint string) string { return Group + "." + endpoint }

// Request-level codes (a whole request refused; nothing recorded).
const (
	CodeTooManyLines    domain.Code = "too_many_lines"
	CodeRequestTooLarge domain.Code = "request_too_large"
	CodeTimeout         domain.Code = "timeout"
	// CodeBusy is ledger.CodeBusy: the ledger holds as many requests as its
	// Limits allow (per endpoint, per connection, in all), or the rebuild,
	// verify or what-if it needs is already running. Retry later.
	CodeBusy = ledger.CodeBusy
	// CodeReplyTooLarge answers a request whose reply is over the NATS
	// server's max payload: the reply cannot be sent, this small error is.
	CodeReplyTooLarge domain.Code = "reply_too_large"
	CodeBadRequest    domain.Code = "invalid_request"
	CodeInternal      domain.Code = "internal"
)

// ErrorBody is the JSON body of an error reply.
type ErrorBody struct {
	Code  domain.Code `json:"code"`
	Error string      `json:"error"`
}
