package transport

import (
	"bytes"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// DLT645Exchange returns the Exchange of one DL/T 645 request frame as dlt645.Encode or
// dlt645.Append builds it, with or without its 0xFE preamble. The preamble is written
// separately as Preamble645, and broadcast frames wait for no reply. Only a reply frame
// (direction bit set) from the addressed meter with the request's function code is
// accepted, and a normal reply to a read must repeat the request's data identifier. So an
// echo, or a late reply to an earlier request that timed out, is skipped rather than taken
// for this request's reply. kind labels the metrics, such as "read" or "relay_control".
func DLT645Exchange(frame []byte, kind string) (Exchange, error) {
	p := 0
	for p < len(frame) && frame[p] == dlt645.PreambleByte {
		p++
	}
	frame = frame[p:]
	n, err := dlt645.Check(frame)
	if err != nil {
		return Exchange{}, &BusError{Kind: ErrInvalidRequest, Err: err}
	}
	if n != len(frame) {
		return Exchange{}, &BusError{Kind: ErrInvalidRequest,
			Err: protocol.Errorf(protocol.ErrBadLength, -1, int64(len(frame)),
				"request must be one whole DL/T 645 frame of %d bytes", n)}
	}
	var addr protocol.MeterAddress
	copy(addr[:], frame[1:7])
	function := dlt645.Control(frame[8]).Function()
	// The identifier bytes stay scrambled: the reply scrambles them the same way.
	var di []byte
	switch function {
	case dlt645.FuncRead:
		di = frame[dlt645.HeaderLen:min(dlt645.HeaderLen+4, len(frame)-2)]
	case dlt645.Func97Read:
		di = frame[dlt645.HeaderLen:min(dlt645.HeaderLen+2, len(frame)-2)]
	}
	return Exchange{
		Frame:     frame,
		Preamble:  Preamble645,
		Spec:      &dlt645.Spec,
		Broadcast: addr.IsBroadcast(),
		Accept: func(reply []byte) bool {
			if !dlt645.IsReplyFrame(reply) {
				return false
			}
			var from protocol.MeterAddress
			copy(from[:], reply[1:7])
			if !addr.Matches(from) {
				return false
			}
			c := dlt645.Control(reply[8])
			if c.Function() != function {
				return false
			}
			if c.IsAbnormal() || len(di) == 0 {
				return true
			}
			data := reply[dlt645.HeaderLen : len(reply)-2]
			return len(data) >= len(di) && bytes.Equal(data[:len(di)], di)
		},
		Protocol: "dlt645",
		Kind:     kind,
	}, nil
}
