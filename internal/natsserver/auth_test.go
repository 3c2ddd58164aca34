package natsserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"neither":         {Config{StoreDir: dir}, "no authentication configured"},
		"both":            {Config{StoreDir: dir, Open: true, Auth: &Auth{}}, "exclusive"},
		"bad operator":    {Config{StoreDir: dir, Auth: &Auth{OperatorJWT: "not a jwt"}}, "operator JWT"},
		"TLS without key": {Config{StoreDir: dir, Open: true, TLS: &TLS{CertFile: "c.pem"}}, "both a certificate and a key"},
		"TLS bad files":   {Config{StoreDir: dir, Open: true, TLS: &TLS{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}}, "TLS"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := buildOptions(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMigrateGlobalStore(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "jetstream", "$G", "streams", "LEDGER")
	if err := os.MkdirAll(g, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := Config{StoreDir: dir, Auth: &Auth{StoreAccount: "ACCOUNT"}}
	moved, err := migrateGlobalStore(cfg)
	if err != nil || !moved {
		t.Fatalf("moved %v, err %v", moved, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream", "ACCOUNT", "streams", "LEDGER")); err != nil {
		t.Errorf("not moved: %v", err)
	}
	// Once the account has its own store, a global one is left alone.
	os.MkdirAll(g, 0o700)
	if moved, err := migrateGlobalStore(cfg); moved || err != nil {
		t.Errorf("moved again: %v %v", moved, err)
	}
	if moved, _ := migrateGlobalStore(Config{StoreDir: dir, Open: true}); moved {
		t.Error("moved without Auth")
	}
}

func TestClientRefusedIsWarning(t *testing.T) {
	for msg, want := range map[string]bool{
		`127.0.0.1:1 - cid:16 - "v1.55.0:go" - Publish Violation - Subject "ledger.submit"`: true,
		`127.0.0.1:1 - cid:17 - authentication error`:                                       true,
		`Error on file store: disk full`:                                                    false,
	} {
		if got := clientRefused("%s", msg); got != want {
			t.Errorf("%q: %v", msg, got)
		}
	}
}
