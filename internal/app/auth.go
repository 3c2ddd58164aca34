package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
)

// CredentialsDir is where the embedded server's credentials live:
// DATA/credentials, one ROLE.creds per role plus ledger.creds (the service
// identity, for other ledger processes) and keys.json (the signing keys).
func CredentialsDir(data string) string { return filepath.Join(data, "credentials") }

// CredsFile is the credentials file of a role, or of the ledger's own
// service identity (auth.ServiceUser), in a data directory.
func CredsFile(data, identity string) string {
	return auth.CredsFile(CredentialsDir(data), identity)
}

// serviceInboxPrefix is the ledger's own inbox prefix, embedded server or
// external. Readers of the stream share the ledger's account and may
// subscribe to _INBOX.>; the ledger's replies (publish acknowledgements, its
// consumers' messages) go where they cannot listen, nor learn the subjects
// to aim a consumer's deliveries at.
const serviceInboxPrefix = "_LEDGER_INBOX"

// startEmbedded creates or loads the credentials, starts the embedded
// server in operator mode with them (no anonymous access, loopback
// included) and connects the ledger in-process as its service user.
func (l *Ledger) startEmbedded(ctx context.Context) error {
	cfg := l.cfg
	host, port, err := splitListen(cfg.Listen)
	if err != nil {
		return err
	}
	var tls *natsserver.TLS
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return errors.New("TLS needs both --tls-cert and --tls-key")
		}
		tls = &natsserver.TLS{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey}
	}
	dir := CredentialsDir(cfg.DataDir)
	m, err := auth.Provision(dir, l.log.With("component", "auth"))
	if err != nil {
		return err
	}
	if len(m.Issued) > 0 {
		l.log.Info("credentials issued", "dir", dir, "identities", m.Issued)
	}
	cluster, err := cfg.Cluster.serverCluster(m)
	if err != nil {
		return err
	}
	var serverName string
	if cfg.Cluster != nil {
		serverName = cfg.Cluster.ServerName
	}
	l.srv, err = natsserver.Start(ctx, natsserver.Config{StoreDir: storeDir(cfg.DataDir), Host: host, Port: port,
		SyncAlways: !cfg.NoSync, Logger: l.log.With("component", "nats"), TLS: tls,
		Auth: &natsserver.Auth{OperatorJWT: m.OperatorJWT, SystemAccount: m.SystemAccount,
			Accounts: m.AccountJWTs, StoreAccount: m.LedgerAccount},
		ServerName: serverName, Cluster: cluster, MaxPayload: cfg.MaxPayload, MaxStore: cfg.MaxStore, MinFreeDisk: cfg.MinFreeDisk})
	if err != nil {
		return err
	}
	l.nc, err = l.srv.Connect(nats.Name("ledger"), nats.UserJWTAndSeed(m.ServiceJWT, string(m.ServiceSeed)),
		nats.CustomInboxPrefix(serviceInboxPrefix))
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	return nil
}
