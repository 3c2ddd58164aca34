// Package micro is a copy of nats.go's micro package (github.com/nats-io/
// nats.go v1.55.0, micro/service.go, request.go, conn_hooks.go; Apache
// License 2.0, see LICENSE) with one addition: AsyncHandler, so that a
// service that answers requests from a worker pool still reports each
// request's real processing time and its error replies in $SRV.STATS.
// Upstream measures the time until Handle returns and counts an error only
// if it was sent by then, so a handler that hands its request to a pool
// reports a 1.7 s verify as 7 µs and no errors at all.
//
// The wire protocol ($SRV.PING|INFO|STATS, the schemas, the error headers)
// is upstream's, unchanged: `nats micro` and every micro client see a
// standard service. The changes are the AsyncHandler type (request.go) and
// service.reqHandler/record (service.go).
package micro
