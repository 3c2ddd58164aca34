package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the data directory's lock, DATA/LOCK: held (flock) by the one
// ledger process that uses the directory, for its whole lifetime, and taken
// before anything else in the directory is touched (credentials, the
// JetStream store, the read models). The kernel releases it when the
// process ends, however it ends, so a SIGKILL leaves no stale lock.
func lockFile(data string) string { return filepath.Join(data, "LOCK") }

// ErrDataDirInUse is returned by Start when another process holds the data
// directory.
var ErrDataDirInUse = errors.New("data directory in use")

// lockDataDir takes the data directory's lock without waiting.
func lockDataDir(data string) (*os.File, error) {
	path := lockFile(data)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another ledger process (%s); stop it first, or use another --data",
				ErrDataDirInUse, data, path)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	// For a person looking: which process holds it.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return f, nil
}
