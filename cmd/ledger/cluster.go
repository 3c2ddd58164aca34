package main

import (
	"flag"
	"strings"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/app"
)

// serveCluster are the flags of `ledger serve` that make the embedded server
// one node of a NATS cluster, and set the stream's replicas.
//
// Three nodes, each started with its own --data, --listen and --cluster,
// the same --routes (all three route listeners) and a --server-name of its
// own, and the same signing material: copy DATA/credentials of the first
// node to the others before they first start (the route password is derived
// from it, and clients' credentials work on every node).
type serveCluster struct {
	listen, routes, name, clusterName string
	replicas                          int
}

func (c *serveCluster) register(fs *flag.FlagSet) {
	fs.StringVar(&c.listen, "cluster", "", "HOST:PORT of the embedded server's route listener: run it as a node of a NATS cluster")
	fs.StringVar(&c.routes, "routes", "", "with --cluster: comma-separated route URLs (host:port or nats-route://host:port) of the nodes, this one may be included")
	fs.StringVar(&c.name, "server-name", "", "with --cluster: this node's name, unique in the cluster and the same across restarts")
	fs.StringVar(&c.clusterName, "cluster-name", "ledger", "with --cluster: the cluster's name, the same on every node")
	fs.IntVar(&c.replicas, "replicas", 0, "replicas of the event stream (default 3 with --cluster, else 1; 3 on an external cluster)")
}

func (c *serveCluster) apply(cfg *app.Config, explicit map[string]bool) error {
	if c.replicas < 0 {
		return usageError{"--replicas must be 1 or more"}
	}
	if c.listen == "" {
		for _, f := range []string{"routes", "server-name", "cluster-name"} {
			if explicit[f] {
				return usageError{"--" + f + " needs --cluster"}
			}
		}
		if c.replicas > 0 {
			cfg.StreamOpts = append(cfg.StreamOpts, eventstore.WithReplicas(c.replicas))
		}
		return nil
	}
	if cfg.NATSURL != "" {
		return usageError{"--cluster makes the embedded server a cluster node; with --nats-url the cluster is that server's configuration"}
	}
	if c.name == "" {
		return usageError{"--cluster needs --server-name (unique per node, stable across restarts)"}
	}
	var routes []string
	for _, r := range strings.Split(c.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			routes = append(routes, r)
		}
	}
	if len(routes) == 0 {
		return usageError{"--cluster needs --routes to the cluster's nodes"}
	}
	cfg.Cluster = &app.Cluster{Name: c.clusterName, ServerName: c.name, Listen: c.listen, Routes: routes}
	replicas := c.replicas
	if replicas == 0 {
		replicas = 3
	}
	cfg.StreamOpts = append(cfg.StreamOpts, eventstore.WithReplicas(replicas))
	return nil
}
