// Package gw376 encodes and decodes Q/GDW 376.1 frames of the 2009 and 2013 editions: the
// link layer (L, C, A, AFN, SEQ, AUX), the data-unit identifiers DA/DT, the data-unit tables
// with the Appendix A formats, ERC event records, multi-frame assembly and a stream framer.
//
// It knows bytes, not sockets: it must not open a connection, keep sessions, retry or log.
// Sessions and request correlation belong to transport.
//
// # Link layer
//
//   - Frame holds one frame: Control (C), Address (A1A2) and A3 (group flag, MSA), AFN, Seq,
//     Data (the data-unit area DA DT data ...), PW, EC and Tp. Which AUX parts a frame has
//     follows from its fields: PW on downlinks of AFN 01, 04, 05, 06, 0F and 10 (AFN.HasPW),
//     EC on uplinks with ACD set, Tp when Seq.TpV is set.
//   - Decode returns a frame that owns its bytes; DecodeInto fills a caller's frame without
//     allocating, with Data aliasing the input (the heartbeat hot path).
//   - Encode and Append write a frame, computing L and CS.
//   - Spec (and NewFrameSpec for a lower L1 cap) plugs the frame format into
//     protocol.Framer and protocol.Scan.
//   - DAForPn, DTForFn, IDFor, DA.AppendPns and DT.AppendFns convert between identifiers and
//     pn/Fn; p0 is DA 00 00 and PnAll stands for DA FF 00.
//
// # Builders
//
// A terminal sends Login, Logout, Heartbeat (with or without its clock), Reply (data
// response, C=88), ReplyConfirm (AFN00 F1/F2) and ReplyConfirmEach (AFN00 F3). A master sends
// NewRequest (MSA 1–127, a PSEQ, PW zero), ConfirmAll (AFN00 F1) and ConfirmEach or
// ConfirmLink (AFN00 F3) with MSA 0, RSEQ equal to the frame's PSEQ and Tp echoed. Frame.SetTp
// adds a time label made with NewTp.
//
// Errors are *protocol.Error values wrapping the sentinels of package protocol, so callers
// test the kind with errors.Is and read the offending value and offset with errors.As.
//
// Nothing in this package keeps state between calls: every function is safe for concurrent
// use on distinct frames.
package gw376
