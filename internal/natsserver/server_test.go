package natsserver

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startTest(t *testing.T, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestStartConnectJetStream(t *testing.T) {
	dir := t.TempDir()
	s := startTest(t, Config{StoreDir: dir, Port: -1, SyncAlways: true, ServerName: "ledger-test", Open: true})

	if got := s.NATS().Name(); got != "ledger-test" {
		t.Errorf("server name = %q", got)
	}
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("ClientURL = %q", s.ClientURL())
	}

	for name, connect := range map[string]func() (*nats.Conn, error){
		"in-process": func() (*nats.Conn, error) { return s.Connect() },
		"tcp":        func() (*nats.Conn, error) { return nats.Connect(s.ClientURL()) },
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := connect()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			stream := "T_" + strings.ReplaceAll(name, "-", "_")
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}, Storage: jetstream.FileStorage}); err != nil {
				t.Fatal(err)
			}
			ack, err := js.Publish(ctx, stream+".a", []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if ack.Sequence != 1 {
				t.Errorf("seq = %d", ack.Sequence)
			}
		})
	}

	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("store dir not used: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	first := startTest(t, Config{StoreDir: t.TempDir(), Port: -1, Open: true})
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(first.ClientURL(), "nats://"))
	port, _ := strconv.Atoi(portStr)

	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store dir", Config{Port: -1}, "StoreDir is required"},
		{"bad port", Config{StoreDir: t.TempDir(), Port: 70000}, "invalid port"},
		{"port in use", Config{StoreDir: t.TempDir(), Port: port, Open: true}, "address already in use"},
		{"no authentication", Config{StoreDir: t.TempDir(), Port: -1}, "no authentication configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(context.Background(), tt.cfg)
			if err == nil {
				s.Shutdown()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	for i, want := range []uint64{1, 2} {
		s, err := Start(ctx, Config{StoreDir: dir, Port: -1, SyncAlways: true, Open: true})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := s.Connect()
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}}); err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, "r.x", []byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if ack.Sequence != want {
			t.Errorf("run %d: seq = %d, want %d", i, ack.Sequence, want)
		}
		nc.Close()
		s.Shutdown()
		s.Shutdown() // idempotent
	}
}
