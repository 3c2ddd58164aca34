package natsserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster makes the server one node of a NATS cluster, with JetStream
// clustered: a stream with 3 replicas keeps accepting writes, and keeps
// every acknowledged one, when one of three nodes is lost.
//
// Every node must trust the same operator and resolve the same accounts
// (Config.Auth built from the same signing material), use the same cluster
// Name and route credentials, and have a ServerName of its own that stays
// the same across restarts: JetStream identifies a peer by its name.
type Cluster struct {
	Name string // cluster name, the same on every node (required)
	Host string // route listener host (default: Config.Host)
	Port int    // route listener port (required; -1 = random free port)

	// Routes are the route URLs of the nodes (nats-route://host:port, or
	// just host:port); a node may list itself, the server skips it.
	// JetStream clustering needs at least one.
	Routes []string

	// Route authentication: a node accepts routes from, and solicits with,
	// this user and password only. Required with Auth: a route carries
	// every account's traffic, so an open route listener would bypass the
	// operator's accounts altogether.
	Username, Password string
}

// DefaultClusterName is the cluster name the ledger uses when none is given.
const DefaultClusterName = "ledger"

// applyCluster configures the route listener, the routes and their
// authentication. JetStream then runs clustered (meta group over the
// routes); it needs a unique ServerName per node, checked here.
func applyCluster(opts *server.Options, cfg Config) error {
	c := cfg.Cluster
	if c == nil {
		return nil
	}
	switch {
	case cfg.ServerName == "":
		return errors.New("natsserver: a cluster node needs a ServerName of its own (JetStream identifies peers by name)")
	case strings.ContainsAny(cfg.ServerName, " \t\r\n"):
		return fmt.Errorf("natsserver: server name %q: no spaces", cfg.ServerName)
	case c.Name == "" || strings.ContainsAny(c.Name, " \t\r\n"):
		return fmt.Errorf("natsserver: cluster name %q: required, no spaces", c.Name)
	case c.Port == 0 || (c.Port != server.RANDOM_PORT && (c.Port < 0 || c.Port > 65535)):
		return fmt.Errorf("natsserver: invalid cluster port %d", c.Port)
	case len(c.Routes) == 0:
		return errors.New("natsserver: a cluster node needs routes to the other nodes")
	case (c.Username == "") != (c.Password == ""):
		return errors.New("natsserver: route authentication needs both a user and a password")
	case cfg.Auth != nil && c.Username == "":
		return errors.New("natsserver: an authenticated server needs route authentication on its cluster listener")
	}
	host := c.Host
	if host == "" {
		host = opts.Host
	}
	routes := make([]*url.URL, 0, len(c.Routes))
	for _, r := range c.Routes {
		u, err := RouteURL(r)
		if err != nil {
			return err
		}
		if c.Username != "" && u.User == nil {
			u.User = url.UserPassword(c.Username, c.Password)
		}
		routes = append(routes, u)
	}
	opts.Cluster = server.ClusterOpts{
		Name:     c.Name,
		Host:     host,
		Port:     c.Port,
		Username: c.Username,
		Password: c.Password,
		// Seconds: a node that is restarting takes a moment to listen.
		AuthTimeout: 2,
	}
	opts.Routes = routes
	return nil
}

// RouteURL parses a route as given on a command line: nats-route://host:port
// (nats:// is accepted too) or plain host:port.
func RouteURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "nats-route://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("natsserver: route %q: %w", s, err)
	}
	if u.Scheme != "nats-route" && u.Scheme != "nats" {
		return nil, fmt.Errorf("natsserver: route %q: scheme must be nats-route", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return nil, fmt.Errorf("natsserver: route %q: want host:port", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return nil, fmt.Errorf("natsserver: route %q: bad port", s)
	}
	return u, nil
}
