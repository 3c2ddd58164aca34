// Package rpc is the ledger's NATS service ("ledger", built with nats.go/micro
// so $SRV.PING|INFO|STATS discovery works) and the client the CLI uses.
// Requests and replies are the JSON documents of CONTRACT.md; errors carry
// the micro error headers and a JSON body {"code":…,"error":…}.
package rpc

import (
	"github.com/benefits-ledger/ledger/domain"
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

// ErrorBody is the JSON body of an error reply.
type ErrorBody struct {
	Code  domain.Code `json:"code"`
	Error string      `json:"error"`
}
