package eventstore

// ReadOption configures one Read.
type ReadOption func(*readOptions)

type readOptions struct {
	to uint64 // 0: no bound of the caller's
}

// UpTo makes Read stop after sequence seq: it delivers no record past seq,
// and returns nil once it has delivered seq (or the last record at or
// before it). UpTo(0) sets no bound.
func UpTo(seq uint64) ReadOption {
	return func(o *readOptions) { o.to = seq }
}

// AppendOption configures one Append.
type AppendOption func(*appendOptions)

type appendOptions struct {
	lastSeq *uint64
}

// ExpectLastSeq makes an append succeed only if the stream's last sequence
// is still seq (Nats-Expected-Last-Sequence on the first message): no other
// writer has appended anything since the caller last saw the stream's end.
//
// It implies every per-partner expectation the caller could make from a
// state that is complete up to seq, and costs the server one comparison,
// where a per-partner check looks up the partner's last message, loading its
// block, which then stays in the server's memory for as long as checks keep
// touching it: with thousands of partners, that is most of the stream. The
// price is that any append by another writer fails it, including one to
// other partners; a writer that meets contention should fall back to
// per-partner expectations. Append takes one or the other, not both.
func ExpectLastSeq(seq uint64) AppendOption {
	return func(o *appendOptions) { o.lastSeq = &seq }
}
