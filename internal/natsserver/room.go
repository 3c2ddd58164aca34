package natsserver

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// Storage settings. Both are explicit so that the limits do not depend on
// the moment the server starts.
const (
	// DefaultMaxStore is JetStream's limit on file storage (max_store) when
	// Config.MaxStore is 0: 1 TiB, nats-server's own fallback
	// (server.JetStreamMaxStoreDefault). Left unset, the server sizes the
	// limit from the disk's free space at start (75% of it, plus what it
	// holds): a ledger restarted on a nearly full disk then refuses every
	// write ("insufficient resources") even after space is freed.
	DefaultMaxStore int64 = server.JetStreamMaxStoreDefault

	// DefaultMinFreeDisk is the free space the ledger keeps on the store's
	// disk when Config.MinFreeDisk is 0: an append that would leave less is
	// refused (storage_full) before it is sent. A write that fails on a
	// full disk (ENOSPC) disables writes to the stream until the server
	// restarts, and may leave an atomic batch half stored; the reserve
	// keeps the disk from ever getting there. 256 MiB holds the largest
	// atomic batch (1,000 lines of 64 KiB) twice over, staged and
	// committed, with room for the read models' own writes.
	DefaultMinFreeDisk int64 = 256 << 20
)

// errNoRoom is wrapped by every RoomFor refusal.
var errNoRoom = errors.New("natsserver: no room")

// RoomFor reports whether an append storing about need bytes fits, with a
// nil error, or why not: it would take JetStream's file storage over
// max_store, or leave less than the reserve (min_free_disk) free on the
// store's disk. An atomic batch is staged on disk before it is committed,
// so need is counted twice against the disk.
func (s *Server) RoomFor(need int64) error {
	jsi, err := s.ns.Jsz(&server.JSzOptions{})
	if err != nil {
		return fmt.Errorf("natsserver: JetStream usage: %w", err)
	}
	if jsi.Disabled {
		return errors.New("natsserver: JetStream is not enabled")
	}
	if used, limit := int64(jsi.Store), jsi.Config.MaxStore; limit > 0 && used+need > limit {
		return fmt.Errorf("%w: JetStream holds %d bytes of its %d-byte limit (max_store), the append needs %d more",
			errNoRoom, used, limit, need)
	}
	free, ok, err := freeDisk(s.storeDir)
	if err != nil {
		return fmt.Errorf("natsserver: free space of %s: %w", s.storeDir, err)
	}
	if ok && free-2*need < s.minFree {
		return fmt.Errorf("%w: %d bytes free on the disk of %s, the append needs %d (twice: staged and stored), and %d stay free (min_free_disk)",
			errNoRoom, free, s.storeDir, need, s.minFree)
	}
	return nil
}
