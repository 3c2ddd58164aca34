package app

import "github.com/nats-io/nats.go"

// credsOf is the connection option with the credentials of a role (or
// "ledger", the service identity) of a running ledger's data directory.
func credsOf(l *Ledger, identity string) nats.Option {
	return nats.UserCredentials(CredsFile(l.cfg.DataDir, identity))
}
