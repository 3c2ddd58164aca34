package projections

// arena carves a fold transaction's keys and values out of a few large
// blocks instead of allocating each one: bbolt keeps the slices Put is
// given until the transaction commits, and the arena lives exactly as long
// (one per txFacts). A batch of 8,192 events wrote about two small slices
// per event this way (an envelope's id and value, a sale's id). Not safe
// for concurrent use, like the transaction.
type arena struct {
	free []byte // the rest of the current block
}

// arenaBlock is the size of a block: 64 KiB holds the keys and values of
// about two thousand envelopes, so a batch takes a handful, and a block
// left mostly unused at the commit wastes little.
const arenaBlock = 64 << 10

// room returns an empty slice with room for n bytes, for appending up to n
// into without a new allocation.
func (a *arena) room(n int) []byte {
	if n > len(a.free) {
		a.free = make([]byte, max(arenaBlock, n))
	}
	b := a.free[:0:n]
	a.free = a.free[n:]
	return b
}

// bytes returns a copy of s in the arena.
func (a *arena) bytes(s string) []byte { return append(a.room(len(s)), s...) }
