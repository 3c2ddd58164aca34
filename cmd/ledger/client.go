package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// DefaultNATSURL is where clients look for the ledger without --nats or
// $LEDGER_NATS_URL.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// clientFlags are the connection flags every client command takes.
type clientFlags struct {
	url   string
	creds string
	tlsCA string
	json  bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "nats", "", "NATS URL of the ledger (default $LEDGER_NATS_URL, else "+DefaultNATSURL+")")
	fs.StringVar(&c.creds, "creds", "", "credentials file (default $LEDGER_CREDS, else ./ledger-data/credentials/admin.creds if present)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "CA certificate (PEM) that signed the ledger's TLS certificate, for tls:// URLs (default $LEDGER_TLS_CA)")
	fs.BoolVar(&c.json, "json", false, "print JSON documents")
}

// connect finds the server and credentials and returns an RPC client.
func (c *clientFlags) connect(e *env, extra ...nats.Option) (*rpc.Client, func(), error) {
	nc, err := c.dial(e, extra...)
	if err != nil {
		return nil, nil, err
	}
	return rpc.NewClient(nc), nc.Close, nil
}

// dial finds the server and credentials as CONTRACT.md says: flag, then
// environment, then the default. extra options come last (submit's
// reconnect policy).
func (c *clientFlags) dial(e *env, extra ...nats.Option) (*nats.Conn, error) {
	url := firstOf(c.url, e.getenv("LEDGER_NATS_URL"), DefaultNATSURL)
	opts := []nats.Option{nats.Name("ledger-cli"), nats.Timeout(5 * time.Second)}
	creds := firstOf(c.creds, e.getenv("LEDGER_CREDS"))
	if creds == "" {
		if def := filepath.Join("ledger-data", "credentials", "admin.creds"); fileExists(def) {
			creds = def
		}
	}
	if creds != "" {
		if !fileExists(creds) {
			return nil, fmt.Errorf("credentials file %s: not found", creds)
		}
		opts = append(opts, nats.UserCredentials(creds))
	}
	if ca := firstOf(c.tlsCA, e.getenv("LEDGER_TLS_CA")); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, connectError(url, creds, err)
	}
	return nc, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// parseFlags parses a command's flags, allowing flags after positional
// arguments (ledger tier P-1 --json), and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

var errHelp = errors.New("help requested")
