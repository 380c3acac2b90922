// Package dlt645 encodes and decodes DL/T 645 frames of the 2007 and 1997 editions: the
// link frame with its 0x33 scrambling and checksum, a stream framer, every function's request
// builder and reply parser, the data-identifier table, relay control (0x1C) and the hooks of
// the encrypted (PA=98) path.
//
// It knows bytes, not ports: it must not open a serial port or a socket, sleep, retry or log.
// Moving bytes and timing them belong to transport.
package dlt645
