package projections

// arena carves a fold transaction's keys and values out of a few large
// blocks instead of allocating each one: bbolt keeps the slices Put is
// given until the transaction commits, and the arena lives exactly as long
// (one per txFacts). A batch of 8,192 events wrote about two small slices
// per event this way (an envelope's id and value, a sale's id). Not safe
// for concurrent use, like the transaction.
type arena struct {
	free []byte // the rest of the current block
	last int    // the size of the current block
}

// The arena's first block is small, for the transactions of a few events a
// live ledger commits one after another, and each next one twice the last
// up to arenaBlock: 64 KiB holds the keys and values of about two thousand
// envelopes, so a rebuild's batch of 8,192 takes a handful, and a block left
// mostly unused at the commit wastes little.
const (
	arenaFirstBlock = 1 << 10
	arenaBlock      = 64 << 10
)

// room returns an empty slice with room for n bytes, for appending up to n
// into without a new allocation.
func (a *arena) room(n int) []byte {
	if n > len(a.free) {
		a.last = min(max(2*a.last, arenaFirstBlock), arenaBlock)
		a.free = make([]byte, max(a.last, n))
	}
	b := a.free[:0:n]
	a.free = a.free[n:]
	return b
}

// bytes returns a copy of s in the arena.
func (a *arena) bytes(s string) []byte { return append(a.room(len(s)), s...) }
