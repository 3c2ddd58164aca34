package projections

import (
	"bytes"
	"fmt"
	"testing"
)

// TestArena: what the arena hands out never overlaps what it handed out
// before, whether it fits the current block, fills it exactly, or is larger
// than a block; an append past a slice's room moves it out of the arena
// instead of overwriting its neighbour.
func TestArena(t *testing.T) {
	var a arena
	var got [][]byte
	var want []string
	for i := range 5000 {
		s := fmt.Sprintf("id-%d", i)
		if i%1000 == 999 {
			s = string(bytes.Repeat([]byte{'x'}, arenaBlock+i)) // larger than a block
		}
		got, want = append(got, a.bytes(s)), append(want, s)
		if r := a.room(3); len(r) != 0 || cap(r) != 3 {
			t.Fatalf("room(3): len %d cap %d", len(r), cap(r))
		}
	}
	over := append(got[10], "-longer"...) // past its room: a copy elsewhere
	for i := range got {
		if string(got[i]) != want[i] {
			t.Fatalf("slice %d reads %.20q, want %.20q", i, got[i], want[i])
		}
	}
	if string(over) != want[10]+"-longer" {
		t.Fatalf("the appended slice reads %q", over)
	}
}
