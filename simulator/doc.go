// Package simulator simulates DL/T 645 meters, Q/GDW 376.1 terminals and Modbus meters with
// injectable faults, and serves a control API that reports what physically happened to each
// relay.
//
// A Fleet (New, Start, Close) builds terminals with their meters (sub-package terminal and
// meter), RS-485 buses on pseudo-terminals (Bus) and Modbus TCP meters on one server, with
// addresses deterministic for a seed. Handler is the control API, Archive the fleet's archive
// for the gateway, SetFault switches faults, and LoadScenario reads scenario files.
//
// It is an independent oracle: it uses the codecs and archive with its own networking and
// must never import transport or gateway. Every socket it opens uses the addresses its
// caller gives it; the defaults are loopback.
package simulator
