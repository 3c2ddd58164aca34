package natsserver

import (
	"errors"
	"testing"
)

// TestStorageSettings: max_store is always explicit (never sized from the
// free space at start), and the reserve defaults as documented.
func TestStorageSettings(t *testing.T) {
	tests := []struct {
		name               string
		maxStore, minFree  int64
		wantMax, wantMinFr int64
	}{
		{"defaults", 0, 0, DefaultMaxStore, DefaultMinFreeDisk},
		{"set", 5 << 20, 1 << 20, 5 << 20, 1 << 20},
		{"no reserve", 0, -1, DefaultMaxStore, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startTest(t, Config{StoreDir: t.TempDir(), Port: -1, Open: true, MaxStore: tt.maxStore, MinFreeDisk: tt.minFree})
			if got := s.NATS().JetStreamConfig().MaxStore; got != tt.wantMax {
				t.Errorf("JetStream max_store = %d, want %d", got, tt.wantMax)
			}
			if s.minFree != tt.wantMinFr {
				t.Errorf("min_free_disk = %d, want %d", s.minFree, tt.wantMinFr)
			}
		})
	}
}

// TestRoomFor refuses what would pass max_store or eat into the disk's
// reserve, and lets the rest through.
func TestRoomFor(t *testing.T) {
	s := startTest(t, Config{StoreDir: t.TempDir(), Port: -1, Open: true, MaxStore: 1 << 20, MinFreeDisk: -1})
	tests := []struct {
		name    string
		need    int64
		minFree int64
		ok      bool
	}{
		{"fits", 1 << 10, 0, true},
		{"over max_store", 2 << 20, 0, false},
		{"reserve larger than any disk", 1, 1 << 62, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.minFree = tt.minFree
			err := s.RoomFor(tt.need)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, errNoRoom)) {
				t.Errorf("RoomFor(%d) = %v, want ok %v", tt.need, err, tt.ok)
			}
		})
	}
}
