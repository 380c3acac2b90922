// Package capturetest writes small pcapng captures of TCP sessions for tests: segments in any
// order, retransmissions and frames split across segments, over Ethernet and IPv4 or IPv6.
//
// It is for tests only: it must not be imported by production code.
package capturetest
