// Package transport moves bytes between the gateway and the field: the terminal server for
// Q/GDW 376.1 sessions, RS-485 bus owners, TCP links to serial servers and Modbus links, with
// request and reply correlation, timeouts and one outstanding request per terminal and bus.
//
// It must not know data identifiers, fee-control rules or commands: those belong to the
// codecs and to gateway.
package transport
