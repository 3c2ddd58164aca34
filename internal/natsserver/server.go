// Package natsserver runs the NATS server with JetStream inside the ledger
// process. JetStream is the ledger's source of truth, so the embedded server
// is configured for durability first (file storage, optional fsync on every
// write) and is started and stopped explicitly by the ledger.
package natsserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyTimeout bounds how long Start waits for the listener and JetStream.
// Recovering a large store can take a while, but a server that is not up
// after this long is better reported than waited for.
const readyTimeout = 10 * time.Second

// Config describes the embedded server.
type Config struct {
	StoreDir   string // JetStream file storage directory (required)
	Host       string // default "127.0.0.1"
	Port       int    // default 4222; -1 = random free port (server.RANDOM_PORT), for tests
	SyncAlways bool   // fsync every write; the ledger passes true by default
	ServerName string // optional; required (unique, stable) on a cluster node

	// MaxStore is JetStream's file storage limit in bytes (max_store);
	// 0 means DefaultMaxStore. MinFreeDisk is the free space RoomFor keeps
	// on the store's disk; 0 means DefaultMinFreeDisk, negative none.
	MaxStore    int64
	MinFreeDisk int64
	Logger      *slog.Logger // optional; server log lines go here (routine ones at debug level)

	// Auth is required: the server never runs without authentication
	// unless Open is set, which only tests of other packages do.
	Auth *Auth
	Open bool
	TLS  *TLS // optional TLS on the client listener

	// Cluster makes the server a node of a NATS cluster (cluster.go);
	// nil runs a single node.
	Cluster *Cluster

	// MaxPayload replaces the server's max payload (0: MaxPayload). Tests
	// lower it to reach the reply size limit with small data.
	MaxPayload int32
}

// Server is a running embedded NATS server.
type Server struct {
	ns       *server.Server
	log      *slog.Logger
	storeDir string // for RoomFor
	minFree  int64  // for RoomFor
	stopOnce sync.Once
}

// Start builds the server from cfg, starts it and waits until it accepts
// connections and JetStream is enabled. A server that fails to start (port in
// use, unusable store directory) is shut down and its error returned.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	opts, err := buildOptions(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if moved, err := migrateGlobalStore(cfg); err != nil {
		return nil, err
	} else if moved {
		log.Warn("moved the JetStream store written without authentication to the ledger's account", "account", cfg.Auth.StoreAccount)
	}

	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: new server: %w", err)
	}
	fatal := make(chan error, 1)
	// Debug and trace stay off inside the server: they log every protocol
	// message and cost far more than they tell.
	ns.SetLoggerV2(&slogAdapter{log: log, fatal: fatal}, false, false, false)

	go ns.Start()

	s := &Server{ns: ns, log: log, storeDir: cfg.StoreDir, minFree: minFreeDisk(cfg)}
	if err := s.waitReady(ctx, fatal); err != nil {
		s.Shutdown()
		return nil, err
	}
	if cfg.Cluster != nil {
		log.Info("nats server ready", "url", ns.ClientURL(), "store_dir", cfg.StoreDir, "sync_always", cfg.SyncAlways,
			"server_name", cfg.ServerName, "cluster", cfg.Cluster.Name, "routes_listen", ns.ClusterAddr())
	} else {
		log.Info("nats server ready", "url", ns.ClientURL(), "store_dir", cfg.StoreDir, "sync_always", cfg.SyncAlways,
			"max_store", opts.JetStreamMaxStore, "min_free_disk", s.minFree)
	}
	return s, nil
}

// waitReady polls the server instead of calling ReadyForConnections once with
// the whole timeout, because the server only reports a listen failure through
// its logger (Fatalf) and would otherwise keep us waiting the full timeout.
func (s *Server) waitReady(ctx context.Context, fatal <-chan error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case err := <-fatal:
			return fmt.Errorf("natsserver: start: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("natsserver: start: %w", ctx.Err())
		default:
		}
		// ReadyForConnections sleeps 25ms between its own checks when given
		// more than 25ms, so this loop does not spin.
		if s.ns.ReadyForConnections(50*time.Millisecond) && s.ns.JetStreamEnabled() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsserver: start: not ready for connections with JetStream after %s", readyTimeout)
		}
	}
}

// ClientURL is the URL other processes use to reach this server.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Connect opens an in-process client connection: no TCP, no loopback port,
// which is both faster and unaffected by the listener's address.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{nats.InProcessServer(s.ns)}, opts...)
	nc, err := nats.Connect("", all...)
	if err != nil {
		return nil, fmt.Errorf("natsserver: in-process connect: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped, so that the
// store directory can be reopened (or removed) right after. Calling it more
// than once is safe.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.log.Debug("nats server stopped")
	})
}

// Name is the server's name (Config.ServerName, or the server's ID when none
// was given): what stream info reports as a replica or leader.
func (s *Server) Name() string { return s.ns.Name() }

// NATS exposes the underlying server for monitoring and tests.
func (s *Server) NATS() *server.Server { return s.ns }
