package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster makes the embedded server one node of a NATS cluster (`ledger
// serve --cluster HOST:PORT --routes URL,... --server-name NAME`). Every node
// must start from the same signing material: copy DATA/credentials of the
// first node to the others before their first start. Run the stream with
// three replicas (Config.StreamOpts, `--replicas 3`) so that it survives the
// loss of a node. It configures the embedded server only: with Config.NATSURL
// the cluster is that server's own configuration.
type Cluster struct {
	Name       string   // cluster name, the same on every node (default "ledger")
	ServerName string   // this node's name: unique in the cluster, the same across restarts
	Listen     string   // host:port of the route listener
	Routes     []string // routes to the nodes (host:port or nats-route://host:port); this node may be listed
}

// serverCluster is the natsserver form of c, with the route credentials
// derived from the signing material.
func (c *Cluster) serverCluster(m *auth.Material) (*natsserver.Cluster, error) {
	if c == nil {
		return nil, nil
	}
	if c.Listen == "" {
		return nil, errors.New("--cluster: the route listener's host:port is required")
	}
	host, port, err := splitListen(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("--cluster: %w", err)
	}
	name := c.Name
	if name == "" {
		name = natsserver.DefaultClusterName
	}
	return &natsserver.Cluster{Name: name, Host: host, Port: port, Routes: c.Routes,
		Username: m.RouteUser, Password: m.RoutePassword}, nil
}

// openStreamTimeout bounds how long Start waits for a clustered JetStream to
// accept the stream: the nodes of a cluster start one by one, and the stream
// (R3) can only be created once enough of them have joined.
const openStreamTimeout = 2 * time.Minute

// openStream opens the event stream, retrying while JetStream is not ready
// yet (a cluster forming or electing leaders). A single server answers at
// once, so this only ever waits on a cluster.
func (l *Ledger) openStream(ctx context.Context, js jetstream.JetStream, opts []eventstore.Option) (*eventstore.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, openStreamTimeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
		es, err := eventstore.Open(octx, js, opts...)
		ocancel()
		if err == nil || !clusterNotReady(err) || ctx.Err() != nil {
			return es, err
		}
		l.log.Info("waiting for JetStream to accept the stream", "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// clusterNotReady reports a stream error that a forming or recovering cluster
// gives before it has a JetStream leader or enough peers: unavailable (503),
// no suitable peers yet, or no answer at all.
func clusterNotReady(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		const noSuitablePeers = 10005 // JSClusterNoPeersErrF
		return apiErr.Code == 503 || apiErr.ErrorCode == noSuitablePeers
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}
