package natsserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// Auth runs the server in operator (JWT) mode: every client presents a user
// JWT signed for an account this operator issued, and nothing else gets in,
// in-process and loopback clients included. The JWTs are made by the caller
// (package auth); this package only hands them to the server.
type Auth struct {
	OperatorJWT   string
	SystemAccount string            // public key of the system account
	Accounts      map[string]string // account public key → account JWT (served from memory)
	// StoreAccount is the public key of the account that owns the ledger's
	// JetStream data. A store written by a server without authentication
	// (the global account) is moved to it on start, so that a data
	// directory from before authentication keeps its stream.
	StoreAccount string
}

// TLS enables TLS on the client listener. In-process connections do not use
// it (the server exempts them), so the ledger's own connection is unchanged.
type TLS struct {
	CertFile, KeyFile string // PEM
}

// applyAuth configures operator mode. A Config without Auth must say Open.
func applyAuth(opts *server.Options, cfg Config) error {
	if cfg.Auth == nil {
		if !cfg.Open {
			return errors.New("natsserver: no authentication configured (set Auth, or Open for a test server)")
		}
		return nil
	}
	if cfg.Open {
		return errors.New("natsserver: Auth and Open are exclusive")
	}
	a := cfg.Auth
	oc, err := jwt.DecodeOperatorClaims(a.OperatorJWT)
	if err != nil {
		return fmt.Errorf("natsserver: operator JWT: %w", err)
	}
	resolver := &server.MemAccResolver{}
	for pub, tok := range a.Accounts {
		if err := resolver.Store(pub, tok); err != nil {
			return fmt.Errorf("natsserver: account %s: %w", pub, err)
		}
	}
	opts.TrustedOperators = []*jwt.OperatorClaims{oc}
	opts.AccountResolver = resolver
	opts.SystemAccount = a.SystemAccount
	return nil
}

// applyTLS configures TLS for client connections.
func applyTLS(opts *server.Options, t *TLS) error {
	if t == nil {
		return nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return errors.New("natsserver: TLS needs both a certificate and a key file")
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.CertFile, KeyFile: t.KeyFile})
	if err != nil {
		return fmt.Errorf("natsserver: TLS: %w", err)
	}
	opts.TLSConfig = tc
	opts.TLS = true
	opts.TLSTimeout = 2 // seconds, for the handshake
	return nil
}

// globalAccount is the directory name of the account a server without
// authentication keeps its JetStream data in.
const globalAccount = server.DEFAULT_GLOBAL_ACCOUNT

// migrateGlobalStore moves JetStream data written without authentication
// (under the global account) to the account that owns it now. It does
// nothing when there is no such data or the account already has its own.
func migrateGlobalStore(cfg Config) (bool, error) {
	if cfg.Auth == nil || cfg.Auth.StoreAccount == "" {
		return false, nil
	}
	base := filepath.Join(cfg.StoreDir, server.JetStreamStoreDir)
	from, to := filepath.Join(base, globalAccount), filepath.Join(base, cfg.Auth.StoreAccount)
	if _, err := os.Stat(from); err != nil {
		return false, nil
	}
	if _, err := os.Stat(to); err == nil {
		return false, nil
	}
	if err := os.Rename(from, to); err != nil {
		return false, fmt.Errorf("natsserver: moving the store of the global account to %s: %w", cfg.Auth.StoreAccount, err)
	}
	return true, nil
}

// clientRefused reports a server error line that only says a client was
// refused: bad or missing credentials, or a publish or subscription its
// permissions do not allow.
func clientRefused(format string, v ...any) bool {
	msg := fmt.Sprintf(format, v...)
	for _, s := range []string{"authentication error", "Publish Violation", "Subscription Violation", "Authorization Error", "Permissions Violation"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
