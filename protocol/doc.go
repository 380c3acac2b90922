// Package protocol holds what every wire codec of feegate shares: BCD digits, the 8-bit
// checksum, meter and terminal addresses, the stream-framer contract and the typed codec
// errors.
//
// It knows bytes only. It must not import any other feegate package, open a socket or a port,
// or know a data identifier: those belong to dlt645, gw376 and transport.
package protocol
