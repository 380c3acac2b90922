// Package gw376 encodes and decodes Q/GDW 376.1 frames of the 2009 and 2013 editions: the
// link layer (L, C, A, AFN, SEQ, AUX), the data-unit identifiers DA/DT, the data-unit tables
// with the Appendix A formats, ERC event records, multi-frame assembly and a stream framer.
//
// It knows bytes, not sockets: it must not open a connection, keep sessions, retry or log.
// Sessions and request correlation belong to transport.
package gw376
