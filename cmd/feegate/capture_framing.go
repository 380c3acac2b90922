package main

import (
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// captureFrameSpec returns one FrameSpec that finds both Q/GDW 376.1 and DL/T 645 frames in
// a byte stream: both start with 0x68, and the header distinguishes them (68 L L 68 for
// 376.1, 68 A0..A5 68 for 645). A candidate is a frame when either codec accepts it.
func captureFrameSpec() protocol.FrameSpec {
	gw, dl := gw376.Spec, dlt645.Spec
	return protocol.FrameSpec{
		Start:       gw.Start,
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
