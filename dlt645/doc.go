// Package dlt645 encodes and decodes DL/T 645 frames of the 2007 and 1997 editions: the
// link frame with its 0x33 scrambling and checksum, a stream framer, every function's request
// builder and reply parser, the data-identifier table, relay control (0x1C) and the hooks of
// the encrypted (PA=98) path.
//
// It knows bytes, not ports: it must not open a serial port or a socket, sleep, retry or log.
// Moving bytes and timing them belong to transport.
//
// # API in brief
//
// Frames (both editions share the layout FE… 68 A0..A5 68 C L DATA CS 16):
//   - Frame{Address, Control, Data}: Data is unscrambled; Control has IsReply, IsAbnormal,
//     HasFollowup and Function.
//   - Decode(b) and DecodeInto(&f, b) accept any number of leading 0xFE and check both start
//     bytes, L, the checksum and the end byte, returning *protocol.Error kinds
//     (ErrShortFrame, ErrBadStart, ErrBadChecksum, ErrBadEnd, ErrBadLength). DecodeInto
//     reuses f.Data and does not allocate once it is large enough.
//   - Append(dst, f, preamble) and Encode(f) (with the 4×FE preamble) scramble and sum.
//   - Spec is the protocol.FrameSpec; NewFramer(max, repliesOnly) returns a
//     protocol.Framer that drops echoed requests when repliesOnly is set (IsReplyFrame).
//   - DetectEdition(f) guesses 2007 or 1997 from the function code.
//
// Requests and replies (2007 unless the name ends in 97):
//   - NewReadRequest(addr, di), ParseReadReply(f, di): the echoed DI must equal the
//     requested one, else protocol.ErrIdentifierMismatch. NewReadAssembly collects
//     follow-up frames (0x12 with SEQ) into one value. NewReadRequest97, ParseReadReply97.
//   - NewRelayRequest(addr, &RelayCommand{...}) builds a plain 0x1C (PA 02/04), the deadline
//     sent as ss mm hh DD MM YY in Asia/Shanghai unless Location is set; ParseRelayRequest
//     is the meter's side; ParseRelayReply decodes 9C (L=0 or a 2-byte status word) and DC.
//   - Abnormal replies come back as *MeterError, which matches ErrAbnormalReply and the
//     sentinels of its set bits (ErrNoData, ErrPasswordRejected, ErrSecurity,
//     ErrGuaranteeActive, ErrDeadlineInvalid, ErrMeterSuspended) under errors.Is.
//   - CheckAddress(request, reply) verifies the reply's address.
//
// Concurrency: the package functions and the table are safe for concurrent use; a Frame,
// a ReadAssembly and a Framer belong to one goroutine.
package dlt645
