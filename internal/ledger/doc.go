// Package ledger wires the running service: the Writer decides input events
// and appends them to the JetStream log, the Projector folds the log into the
// bbolt read models, and Queries answer from them. The rules themselves live
// in package domain; this package only moves events and facts around.
package ledger
