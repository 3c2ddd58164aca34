package natsserver

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults for the client listener. 4222 is the port every NATS tool assumes,
// and loopback keeps a development ledger off the network unless asked.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 4222

	// MaxPayload is the largest message the server takes: the size
	// nats-server recommends as a ceiling, up from its default of 1 MiB, so
	// a submit request of up to rpc.MaxRequestBytes reaches the ledger.
	MaxPayload = 8 << 20
)

// buildOptions turns a Config into nats-server Options. It is the single
// place where the embedded server is configured, so that later work can add
// what a production deployment needs without touching Start:
//
//   - accounts, users and role permissions: operator mode with the JWTs
//     of Config.Auth (applyAuth, auth.go);
//   - TLS for clients (applyTLS, auth.go);
//   - clustering for an R3 stream: route listener, routes and route
//     authentication (applyCluster, cluster.go), where JetStream also
//     needs a unique opts.ServerName per node.
func buildOptions(cfg Config) (*server.Options, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	host := cfg.Host
	if host == "" {
		host = DefaultHost
	}
	port := cfg.Port
	switch {
	case port == 0:
		port = DefaultPort
	case port == server.RANDOM_PORT:
		// Tests ask the kernel for a free port.
	case port < 0 || port > 65535:
		return nil, fmt.Errorf("natsserver: invalid port %d", port)
	}

	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// SyncAlways makes the file store fsync every write before the
		// publish is acknowledged: an acknowledged sale must survive power
		// loss. The default (sync every 2 minutes) can lose acknowledged data.
		SyncAlways: cfg.SyncAlways,
		// The ledger process owns signal handling and shuts the server down
		// itself; the server must not install its own handlers.
		NoSigs: true,
		// The ASCII-art banner is noise inside another program's log.
		DisableJetStreamBanner: true,
		MaxPayload:             MaxPayload,
		// An explicit limit: unset, the server sizes it from the disk's
		// free space at each start (see DefaultMaxStore).
		JetStreamMaxStore: maxStore(cfg),
	}
	if cfg.MaxPayload > 0 {
		opts.MaxPayload = cfg.MaxPayload
	}
	// Accounts, users and permissions (operator mode), and client TLS: see auth.go.
	if err := applyAuth(opts, cfg); err != nil {
		return nil, err
	}
	if err := applyTLS(opts, cfg.TLS); err != nil {
		return nil, err
	}
	// Routes to the other nodes of a cluster: see cluster.go.
	if err := applyCluster(opts, cfg); err != nil {
		return nil, err
	}
	return opts, nil
}

// maxStore is Config.MaxStore or its default.
func maxStore(cfg Config) int64 {
	if cfg.MaxStore > 0 {
		return cfg.MaxStore
	}
	return DefaultMaxStore
}

// minFreeDisk is Config.MinFreeDisk or its default (negative: none).
func minFreeDisk(cfg Config) int64 {
	switch {
	case cfg.MinFreeDisk > 0:
		return cfg.MinFreeDisk
	case cfg.MinFreeDisk < 0:
		return 0
	}
	return DefaultMinFreeDisk
}
