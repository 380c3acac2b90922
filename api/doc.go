// Package api serves the HTTP/JSON API that the fee-control core uses: commands, batches,
// terminals, meters, the archive, the event stream, metrics and the OpenAPI document.
//
// It must not execute commands itself: it validates requests and hands them to gateway.
package api
