// Package gw376 encodes and decodes Q/GDW 376.1 frames of the 2009 and 2013 editions. It
// covers the link layer (L, C, A, AFN, SEQ, AUX), the data-unit identifiers DA/DT and the
// data-unit tables with the Appendix A formats. It also decodes ERC event records, assembles
// multi-frame messages and describes the frame format to the stream framer.
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
// # Data units
//
// One table row (UnitDef) per AFN, Fn and direction lists the unit's fields with their
// Appendix A formats; LookupUnit and UnitDefs read it. Frame.Units and WalkUnits split a
// data-unit area into Units, each with decoded Nodes; ObjectOf turns nodes into an ordered
// JSON object, with invalid BCD as null plus a "_raw" sibling. UnitDef.Append and
// AppendUnits encode from such an object or a map, and NewUnitsRequest builds a request
// from them. Event records (ERC) decode by their own table (LookupERC) inside AFN0E units.
// A unit whose Fn the table lacks ends the walk with Units.Err set and the rest kept raw.
//
// Typed forms write the same bytes as their rows: RemoteTrip (AFN05 F1), ForwardRequest and
// ForwardReply (AFN10 F1, with DecodeEmbedded for the DL/T 645 frame), ForwardRead and
// ForwardReadReply (AFN10 F9), ControlSettings and ControlState (AFN0C F5, F6),
// MeterConfig (AFN04/0A F10), MeterRelayState (AFN0C F161), ERC5, ERC14 and AppendEvents
// (AFN0E).
//
// # Multi-frame messages
//
// An Assembler, one per connection, groups frames FIR to FIN with RSEQ counting up into a
// Message, keyed by terminal, AFN and direction.
//
// Errors are *protocol.Error values wrapping the sentinels of package protocol, so callers
// test the kind with errors.Is and read the offending value and offset with errors.As.
//
// Apart from Assembler, nothing in this package keeps state between calls: every function
// is safe for concurrent use on distinct frames.
package gw376
