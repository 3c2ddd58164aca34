package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/benefits-ledger/ledger/internal/app"
)

func TestServeClusterFlags(t *testing.T) {
	parse := func(args ...string) (app.Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		natsURL := fs.String("nats-url", "", "")
		var c serveCluster
		c.register(fs)
		if err := fs.Parse(args); err != nil {
			return app.Config{}, err
		}
		cfg := app.Config{NATSURL: *natsURL}
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		err := c.apply(&cfg, explicit)
		return cfg, err
	}

	cfg, err := parse("--cluster", "127.0.0.1:6222", "--server-name", "n1", "--routes", "127.0.0.1:6222, 127.0.0.1:6223,nats-route://127.0.0.1:6224")
	if err != nil {
		t.Fatal(err)
	}
	want := app.Cluster{Name: "ledger", ServerName: "n1", Listen: "127.0.0.1:6222", Routes: []string{"127.0.0.1:6222", "127.0.0.1:6223", "nats-route://127.0.0.1:6224"}}
	if cfg.Cluster == nil || cfg.Cluster.Name != want.Name || cfg.Cluster.ServerName != want.ServerName ||
		cfg.Cluster.Listen != want.Listen || strings.Join(cfg.Cluster.Routes, " ") != strings.Join(want.Routes, " ") {
		t.Errorf("cluster %+v, want %+v", cfg.Cluster, want)
	}
	if len(cfg.StreamOpts) != 1 {
		t.Errorf("a cluster node gets the stream's replicas (3 by default): %d stream options", len(cfg.StreamOpts))
	}
	if cfg, err := parse("--nats-url", "nats://x:4222", "--replicas", "3"); err != nil || cfg.Cluster != nil || len(cfg.StreamOpts) != 1 {
		t.Errorf("external cluster with --replicas: %+v %v", cfg, err)
	}
	if cfg, err := parse(); err != nil || cfg.Cluster != nil || len(cfg.StreamOpts) != 0 {
		t.Errorf("no cluster flags: %+v %v", cfg, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--routes", "127.0.0.1:6222"}, "--routes needs --cluster"},
		{[]string{"--server-name", "n1"}, "--server-name needs --cluster"},
		{[]string{"--cluster", "127.0.0.1:6222", "--routes", "127.0.0.1:6222"}, "--server-name"},
		{[]string{"--cluster", "127.0.0.1:6222", "--server-name", "n1"}, "--routes"},
		{[]string{"--cluster", "127.0.0.1:6222", "--server-name", "n1", "--routes", "x:1", "--nats-url", "nats://x:4222"}, "--nats-url"},
		{[]string{"--replicas", "-1"}, "--replicas"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
