package rpc

import (
	"context"

	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/micro"
)

// Administrative endpoints.
const (
	EndpointVerify  = "verify"
	EndpointRebuild = "rebuild"
	EndpointBackup  = "backup"
)

// Option adds endpoints to the service.
type Option func(s *Server, endpoints map[string]func(context.Context, micro.Request))

// Admin is what the administrative endpoints need from the running ledger.
type Admin interface {
	// Verify rebuilds the read models from the log in a temporary file and
	// compares them with the live ones.
	Verify(ctx context.Context) (ledger.VerifyReport, error)
	// Rebuild rebuilds the read models into a new file while the current
	// one keeps serving, and swaps it in.
	Rebuild(ctx context.Context) (ledger.RebuildReport, error)
	// Backup replaces the read models' backup (the copy a start without
	// read models restores) with the live read models now.
	Backup(ctx context.Context) (ledger.BackupReport, error)
}

// WithAdmin adds the verify, rebuild and backup endpoints.
func WithAdmin(a Admin) Option {
	return func(s *Server, endpoints map[string]func(context.Context, micro.Request)) {
		endpoints[EndpointVerify] = respond(s, a.Verify)
		endpoints[EndpointRebuild] = respond(s, a.Rebuild)
		endpoints[EndpointBackup] = respond(s, a.Backup)
	}
}

// respond adapts an argument-less call to an endpoint.
func respond[D any](s *Server, fn func(context.Context) (D, error)) func(context.Context, micro.Request) {
	return func(ctx context.Context, req micro.Request) {
		doc, err := fn(ctx)
		if err != nil {
			s.fail(req, err)
			return
		}
		s.respondJSON(req, doc)
	}
}
