package natsserver

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func TestClusterOptionErrors(t *testing.T) {
	dir := t.TempDir()
	good := func() Cluster {
		return Cluster{Name: "c", Port: 6222, Routes: []string{"127.0.0.1:6222"}, Username: "route", Password: "pw"}
	}
	with := func(change func(*Cluster)) *Cluster { c := good(); change(&c); return &c }
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	opJWT, err := jwt.NewOperatorClaims(opPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"no server name": {Config{StoreDir: dir, Open: true, Cluster: with(func(*Cluster) {})}, "ServerName"},
		"no cluster name": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Name = "" })}, "cluster name"},
		"no port": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Port = 0 })}, "cluster port"},
		"no routes": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Routes = nil })}, "routes"},
		"bad route": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Routes = []string{"http://x:1"} })}, "scheme"},
		"route without port": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Routes = []string{"nats-route://x"} })}, "host:port"},
		"user without password": {Config{StoreDir: dir, Open: true, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Password = "" })}, "both a user and a password"},
		"authenticated server, open routes": {Config{StoreDir: dir, Auth: &Auth{OperatorJWT: opJWT}, ServerName: "n1",
			Cluster: with(func(c *Cluster) { c.Username, c.Password = "", "" })}, "route authentication"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := buildOptions(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestClusterOptions(t *testing.T) {
	opts, err := buildOptions(Config{StoreDir: t.TempDir(), Open: true, ServerName: "n2", Host: "127.0.0.1",
		Cluster: &Cluster{Name: "ledger", Port: 6223, Routes: []string{"10.0.0.1:6222", "nats-route://10.0.0.2:6222"},
			Username: "route", Password: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "n2" || opts.Cluster.Name != "ledger" || opts.Cluster.Host != "127.0.0.1" || opts.Cluster.Port != 6223 ||
		opts.Cluster.Username != "route" || opts.Cluster.Password != "secret" {
		t.Errorf("cluster options %+v (server name %q)", opts.Cluster, opts.ServerName)
	}
	if len(opts.Routes) != 2 {
		t.Fatalf("routes %v", opts.Routes)
	}
	for _, u := range opts.Routes {
		pw, _ := u.User.Password()
		if u.Scheme != "nats-route" || u.User.Username() != "route" || pw != "secret" {
			t.Errorf("route %s: want nats-route with the route credentials", u.Redacted())
		}
	}
}

// TestClusterRoutesAuthenticated: nodes with the same route credentials
// form a cluster; a node with other credentials is refused.
func TestClusterRoutesAuthenticated(t *testing.T) {
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	routes := []string{"127.0.0.1:" + strconv.Itoa(ports[0]), "127.0.0.1:" + strconv.Itoa(ports[1])}
	node := func(name string, port int, password string, log *slog.Logger) *Server {
		return startTest(t, Config{StoreDir: t.TempDir(), Port: -1, Open: true, ServerName: name, Logger: log,
			Cluster: &Cluster{Name: "test", Port: port, Routes: routes, Username: "route", Password: password}})
	}
	logs := &lockedBuffer{}
	a := node("a", ports[0], "right", slog.New(slog.NewTextHandler(logs, nil)))
	b := node("b", ports[1], "right", nil)
	waitFor(t, "a route between a and b", func() bool { return a.NATS().NumRoutes() > 0 && b.NATS().NumRoutes() > 0 })

	intruder := node("intruder", ports[2], "wrong", nil)
	waitFor(t, "a refusing the intruder's route", func() bool {
		return strings.Contains(strings.ToLower(logs.String()), "authentication error")
	})
	if n := intruder.NATS().NumRoutes(); n != 0 {
		t.Errorf("the intruder has %d routes", n)
	}
	for _, s := range []*Server{a, b} {
		rz, err := s.NATS().Routez(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rz.Routes {
			if r.RemoteName != "a" && r.RemoteName != "b" {
				t.Errorf("%s has a route to %q", s.Name(), r.RemoteName)
			}
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
