package main

import (
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// captureFrameSpec returns one FrameSpec that finds both Q/GDW 376.1 and DL/T 645 frames in
// a byte stream: both start with 0x68, and the header distinguishes them (68 L L 68 for
// 376.1, 68 A0..A5 68 for 645).
func captureFrameSpec() protocol.FrameSpec {
	gw, dl := gw376FrameSpec(), dlt645.Spec
	return protocol.FrameSpec{
		Start:       0x68,
		Preamble:    dl.Preamble,
		HasPreamble: dl.HasPreamble,
		Check: func(c []byte) (int, error) {
			n1, err1 := gw.Check(c)
			if n1 > 0 {
				return n1, nil
			}
			n2, err2 := dl.Check(c)
			if n2 > 0 {
				return n2, nil
			}
			if err1 == nil || err2 == nil {
				return 0, nil
			}
			if looksLikeGW376(c) {
				return 0, err1
			}
			return 0, err2
		},
	}
}

// TODO: use the FrameSpec of the gw376 package once it lands; this local check reads only
// the header lengths, checksum and end byte.

func gw376FrameSpec() protocol.FrameSpec {
	return protocol.FrameSpec{Start: 0x68, Check: checkGW376}
}

// checkGW376 checks 68 L L 68 C A(5) ... CS 16 where L carries the user-data length in
// bits 15..2 and the protocol identifier 10 in bits 1..0.
func checkGW376(c []byte) (int, error) {
	if len(c) < 6 {
		return 0, nil
	}
	l1 := uint16(c[1]) | uint16(c[2])<<8
	l2 := uint16(c[3]) | uint16(c[4])<<8
	if l1 != l2 {
		return 0, protocol.Mismatch(protocol.ErrBadLength, 3, int64(l2), int64(l1), "second L field")
	}
	if l1&3 != 2 {
		return 0, protocol.Errorf(protocol.ErrBadProtocolID, 1, int64(l1&3), "L field protocol bits")
	}
	if c[5] != 0x68 {
		return 0, protocol.Errorf(protocol.ErrBadStart, 5, int64(c[5]), "second start byte")
	}
	n := int(l1 >> 2)
	total := n + 8
	if len(c) < total {
		return 0, nil
	}
	if sum := protocol.Sum8(c[6 : 6+n]); sum != c[6+n] {
		return 0, protocol.Mismatch(protocol.ErrBadChecksum, 6+n, int64(c[6+n]), int64(sum), "CS")
	}
	if c[7+n] != 0x16 {
		return 0, protocol.Errorf(protocol.ErrBadEnd, 7+n, int64(c[7+n]), "end byte")
	}
	return total, nil
}
