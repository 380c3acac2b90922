// Package gatewaytest provides an in-memory Driver double with DL/T 645 relay semantics and
// switchable faults, for tests of the engine and the API that need no sockets.
//
// It must not be used by the gateway outside tests; the simulator is the field-like double.
package gatewaytest
