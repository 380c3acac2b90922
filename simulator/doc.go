// Package simulator simulates DL/T 645 meters, Q/GDW 376.1 terminals and Modbus meters with
// injectable faults, and serves a control API that reports what physically happened to each
// relay.
//
// It is an independent oracle: it uses the codecs and archive with its own networking and
// must never import transport or gateway.
package simulator
