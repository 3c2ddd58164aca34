package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/nats-io/nats.go"
)

// serveSecurity are the flags of `ledger serve` about credentials and TLS.
// The embedded server makes and checks its own credentials (app.Start); an
// external server (--nats-url) has its own, and the ledger only presents its
// credentials file to it.
type serveSecurity struct {
	tlsCert, tlsKey string // embedded server: TLS on the client listener
	creds, tlsCA    string // external server: the ledger's credentials, the server's CA
}

func (s *serveSecurity) register(fs *flag.FlagSet) {
	fs.StringVar(&s.tlsCert, "tls-cert", "", "TLS certificate (PEM) for the embedded server's client listener; clients then use tls:// URLs")
	fs.StringVar(&s.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&s.creds, "creds", "", "with --nats-url: the ledger's credentials file on that server")
	fs.StringVar(&s.tlsCA, "tls-ca", "", "with --nats-url: CA certificate (PEM) that signed that server's TLS certificate")
}

func (s *serveSecurity) apply(cfg *app.Config) error {
	if cfg.NATSURL == "" {
		if s.creds != "" || s.tlsCA != "" {
			return usageError{"--creds and --tls-ca are for an external server (--nats-url); the embedded server makes its own credentials"}
		}
		if (s.tlsCert == "") != (s.tlsKey == "") {
			return usageError{"--tls-cert and --tls-key go together"}
		}
		cfg.TLSCert, cfg.TLSKey = s.tlsCert, s.tlsKey
		return nil
	}
	if s.tlsCert != "" || s.tlsKey != "" {
		return usageError{"--tls-cert and --tls-key configure the embedded server; with --nats-url, TLS is that server's configuration"}
	}
	if s.creds != "" {
		if !fileExists(s.creds) {
			return fmt.Errorf("credentials file %s: not found", s.creds)
		}
		cfg.NATSOpts = append(cfg.NATSOpts, nats.UserCredentials(s.creds))
	}
	if s.tlsCA != "" {
		cfg.NATSOpts = append(cfg.NATSOpts, nats.RootCAs(s.tlsCA))
	}
	return nil
}

// connectError explains a refused connection: which credentials were used.
func connectError(url, creds string, err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		if creds == "" {
			return fmt.Errorf("the ledger at %s refused the connection: no credentials (use --creds FILE or $LEDGER_CREDS; `ledger serve` writes them under DATA/credentials): %w", url, err)
		}
		return fmt.Errorf("the ledger at %s refused the credentials in %s: %w", url, creds, err)
	}
	return fmt.Errorf("cannot reach the ledger at %s: %w", url, err)
}
