package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// arguments (ledger tier P-1 --json), and returns the positionals. -h,
// -help or --help prints the command's usage on stdout and returns
// flag.ErrHelp, which fail turns into exit status 0.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			printUsage(fs)
			return nil, flag.ErrHelp
		}
	}
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

// positionals names each command's arguments, for its usage line.
var positionals = map[string]string{
	"submit": "[FILE|-]", "publish": "[FILE|-]", "tier": "PARTNER", "benefits": "PARTNER", "history": "PARTNER", "audit": "PARTNER",
	"policy": "show | check FILE", "export": "tiers|history",
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// subcommandHelp prints the usage of a command with subcommands, and where
// each subcommand's flags are.
func subcommandHelp(name string, subs ...string) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	printUsage(fs)
	for _, s := range subs {
		fmt.Fprintf(os.Stdout, "\nrun 'ledger %s %s -h' for its own flags", name, s)
	}
	fmt.Fprintln(os.Stdout)
	return exitOK
}

// printUsage prints a command's usage line and flags on stdout.
func printUsage(fs *flag.FlagSet) {
	out := fs.Output()
	fs.SetOutput(os.Stdout)
	defer fs.SetOutput(out)
	name, _, _ := strings.Cut(fs.Name(), " ")
	fmt.Fprintf(os.Stdout, "usage: ledger %s [flags] %s\n\n%s\n\nflags:\n", fs.Name(), positionals[name], commands()[name].summary)
	fs.PrintDefaults()
}
