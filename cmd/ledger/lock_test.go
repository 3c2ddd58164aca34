package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// metaHashes hashes the JetStream store's meta.inf and meta.sum files.
func metaHashes(t *testing.T, data string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (d.Name() != "meta.inf" && d.Name() != "meta.sum") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSecondServeOnDataDirFails: a second `ledger serve` on a data
// directory in use exits 2 at once, saying the directory is locked, and
// leaves the live store's meta.inf/meta.sum byte-identical (it once started
// a second JetStream on the store and rewrote them).
func TestSecondServeOnDataDirFails(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	defer s.stop()
	before := metaHashes(t, data)
	if len(before) == 0 {
		t.Fatalf("no meta.inf/meta.sum under %s", data)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(binary, "serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitError {
		t.Fatalf("second serve: %v, want exit %d; stderr:\n%s", err, exitError, stderr.String())
	}
	if !strings.Contains(stderr.String(), "locked by another ledger process") {
		t.Errorf("second serve's message does not say the directory is locked:\n%s", stderr.String())
	}
	after := metaHashes(t, data)
	if len(after) != len(before) {
		t.Fatalf("meta files: %d before, %d after", len(before), len(after))
	}
	for p, h := range before {
		if after[p] != h {
			t.Errorf("%s changed", p)
		}
	}
}
