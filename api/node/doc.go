// Package node starts a whole gateway in one process: the durable store, the terminal
// server, the execution plans, the command engine and the HTTP API, on given addresses.
// feegate serve, the demo and end-to-end tests use it.
//
// It must not contain command logic or protocol code: it only wires the packages that do.
package node
