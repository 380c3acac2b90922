// Package gateway is the command engine: it imports the archive, resolves routes, applies
// idempotency, interlocks and supersede rules, persists commands in the durable store, runs
// the execution plans through one Driver per route kind, and verifies every relay command.
// The plans themselves live in gateway/plan; gateway/gatewaytest has an in-memory Driver
// for tests.
//
// It must not serve HTTP or parse frames itself: the API lives in api, and bytes are the
// codecs' and transport's business.
package gateway
