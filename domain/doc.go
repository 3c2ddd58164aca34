// Package domain holds the rules of the marketplace benefits program as pure Go:
// parsing and validating input events, the write-side decider, and the read-side
// folds that answer tier, benefits, history and attention questions for any
// partner, any instant and any knowledge cut-off.
//
// Nothing here performs I/O or reads the wall clock: callers pass "now", the
// policy and the recorded facts. The same rule functions serve the decider and
// the queries, so the two cannot disagree.
//
// Two clocks matter everywhere. Event time is when a thing happened in the
// business; the recorded sequence is when the ledger learned of it. Every fact
// carries both, and a View is compiled for one knowledge cut-off (a sequence).
package domain
