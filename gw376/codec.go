package gw376

import (
	"github.com/feegate/feegate/protocol"
)

// Offsets of the fixed fields in a frame.
const (
	offC    = 6
	offA    = 7
	offA3   = 11
	offAFN  = 12
	offSEQ  = 13
	offData = 14
)

// Spec is the stream-framer description of Q/GDW 376.1 frames with L1 up to MaxL1, for
// protocol.Scan and protocol.NewFramer. It is read-only and safe to share.
var Spec = NewFrameSpec(MaxL1)

// NewFrameSpec returns a framer description that accepts frames with L1 at most maxL1
// (clamped to MinL1–MaxL1), for channels that cap the frame size lower than networks do,
// such as dedicated radio (L1 ≤ 255).
func NewFrameSpec(maxL1 int) protocol.FrameSpec {
	maxL1 = min(max(maxL1, MinL1), MaxL1)
	return protocol.FrameSpec{
		Start: StartByte,
		Check: func(candidate []byte) (int, error) { return checkFrame(candidate, maxL1) },
	}
}

// checkFrame returns the length of the frame at the start of b, 0 when b is a valid prefix
// that needs more bytes, or the reason no frame starts at b. It never allocates on success.
func checkFrame(b []byte, maxL1 int) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] != StartByte {
		return 0, protocol.Mismatch(protocol.ErrBadStart, 0, int64(b[0]), StartByte,
			"first start byte")
	}
	if len(b) >= 3 {
		l := uint16(b[1]) | uint16(b[2])<<8
		if l&3 != ProtocolID {
			return 0, protocol.Mismatch(protocol.ErrBadProtocolID, 1, int64(l&3), ProtocolID,
				"L field protocol bits D1-D0")
		}
		l1 := int(l >> 2)
		if l1 < MinL1 || l1 > maxL1 {
			return 0, protocol.Errorf(protocol.ErrBadLength, 1, int64(l1),
				"L1 must be %d to %d", MinL1, maxL1)
		}
	}
	if len(b) >= 4 && b[3] != b[1] {
		return 0, protocol.Mismatch(protocol.ErrBadLength, 3, int64(b[3]), int64(b[1]),
			"second L field differs from the first")
	}
	if len(b) >= 5 && b[4] != b[2] {
		return 0, protocol.Mismatch(protocol.ErrBadLength, 4, int64(b[4]), int64(b[2]),
			"second L field differs from the first")
	}
	if len(b) < HeaderLen {
		return 0, nil
	}
	if b[5] != StartByte {
		return 0, protocol.Mismatch(protocol.ErrBadStart, 5, int64(b[5]), StartByte,
			"second start byte")
	}
	l1 := int(uint16(b[1])|uint16(b[2])<<8) >> 2
	total := l1 + Overhead
	if len(b) < total {
		return 0, nil
	}
	cs := protocol.Sum8(b[HeaderLen : HeaderLen+l1])
	if b[HeaderLen+l1] != cs {
		return 0, protocol.Mismatch(protocol.ErrBadChecksum, HeaderLen+l1, int64(b[HeaderLen+l1]),
			int64(cs), "CS over C, A and the application layer")
	}
	if b[total-1] != EndByte {
		return 0, protocol.Mismatch(protocol.ErrBadEnd, total-1, int64(b[total-1]), EndByte,
			"end byte")
	}
	return total, nil
}

// Decode decodes the single frame b. The returned frame owns its Data, so b may be reused.
func Decode(b []byte) (*Frame, error) {
	f := new(Frame)
	if err := DecodeInto(f, b); err != nil {
		return nil, err
	}
	f.Data = append([]byte(nil), f.Data...)
	return f, nil
}

// DecodeInto decodes the single frame b into f without allocating: f.Data aliases b and is
// valid only as long as b is. b must hold exactly one frame.
//
// Uplinks with PRM set and a function code only a master sends (1 reset, 11 request class 2
// data) are rejected: the "rgm" variant of the protocol sends replies that way, and decoding
// them as ordinary frames would misread them.
func DecodeInto(f *Frame, b []byte) error {
	total, err := checkFrame(b, MaxL1)
	if err != nil {
		return err
	}
	if total == 0 {
		return protocol.Errorf(protocol.ErrShortFrame, -1, int64(len(b)),
			"frame needs at least %d bytes",
			frameNeed(b))
	}
	if total != len(b) {
		return protocol.Mismatch(protocol.ErrBadLength, total, int64(len(b)), int64(total),
			"bytes after the end byte: input length differs from L1+8")
	}

	f.Control = ControlFromByte(b[offC])
	if f.Control.Up && f.Control.PRM &&
		(f.Control.Func == FuncReset || f.Control.Func == FuncRequestClass2) {
		return protocol.Errorf(protocol.ErrUnknownFunction, offC, int64(b[offC]),
			"uplink C with PRM=1 and function code %d (%s) is a master-only service: "+
				"not a standard Q/GDW 376.1 frame (the \"rgm\" variant sends replies this way)",
			f.Control.Func, FunctionName(true, f.Control.Func))
	}
	// NOTE: Jilin terminal firmware is known to send a 4-byte A2 (7-byte address). Such
	// frames are not supported, so they fail the AUX length check or the unit walk.
	addr, err := protocol.TerminalAddressFromWire(b[offA:])
	if err != nil {
		return protocol.Errorf(protocol.ErrInvalidAddress, offA, int64(b[offA])|int64(b[offA+1])<<8,
			"A1 region code is not 4 BCD digits")
	}
	f.Address = addr
	f.A3 = protocol.A3FromByte(b[offA3])
	f.AFN = AFN(b[offAFN])
	f.Seq = SeqFromByte(b[offSEQ])

	end := total - 2 // offset of CS
	aux := f.auxLen()
	if end-offData < aux {
		return protocol.Errorf(protocol.ErrBadLength, offData, int64(end-offData),
			"%s needs %d AUX bytes (%s) after SEQ but the frame has %d; "+
				"a shorter PW (such as the 2-byte PW of the \"rgm\" variant) is not supported",
			auxOwner(f), aux, auxParts(f), end-offData)
	}
	dataEnd := end - aux
	f.Data = b[offData:dataEnd:dataEnd]
	p := dataEnd
	if f.HasPW() {
		copy(f.PW[:], b[p:p+PWLen])
		p += PWLen
	} else {
		f.PW = [PWLen]byte{}
	}
	if f.HasEC() {
		f.EC = EC{Important: b[p], General: b[p+1]}
		p += ECLen
	} else {
		f.EC = EC{}
	}
	if f.HasTp() {
		f.Tp = Tp{PFC: b[p], Sent: [4]byte{b[p+1], b[p+2], b[p+3], b[p+4]}, DelayMin: b[p+5]}
	} else {
		f.Tp = Tp{}
	}
	return nil
}

// frameNeed returns how many bytes the frame prefix b announces, or the header length.
func frameNeed(b []byte) int {
	if len(b) < 3 {
		return HeaderLen
	}
	return int(uint16(b[1])|uint16(b[2])<<8)>>2 + Overhead
}

func auxOwner(f *Frame) string {
	dir := "downlink"
	if f.Control.Up {
		dir = "uplink"
	}
	return "AFN " + hexByte(byte(f.AFN)) + " " + dir
}

func auxParts(f *Frame) string {
	s := ""
	add := func(p string) {
		if s != "" {
			s += " + "
		}
		s += p
	}
	if f.HasPW() {
		add("PW 16")
	}
	if f.HasEC() {
		add("EC 2")
	}
	if f.HasTp() {
		add("Tp 6")
	}
	return s
}

func hexByte(b byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[b>>4], digits[b&0x0F]})
}

// Encode returns the wire bytes of f.
func Encode(f *Frame) ([]byte, error) {
	return Append(make([]byte, 0, f.Len()), f)
}

// Append appends the wire bytes of f to dst. It computes L and CS and writes the AUX parts
// that f's fields call for (see Frame). It does not allocate when dst has room.
func Append(dst []byte, f *Frame) ([]byte, error) {
	l1 := MinL1 + len(f.Data) + f.auxLen()
	if l1 > MaxL1 {
		return dst, protocol.Errorf(protocol.ErrFrameTooLarge, -1, int64(l1),
			"L1 exceeds %d: split the data units over several frames", MaxL1)
	}
	if f.Address.A1 > 9999 {
		return dst, protocol.Errorf(protocol.ErrInvalidAddress, -1, int64(f.Address.A1),
			"A1 region code must be 0 to 9999")
	}
	if f.A3.MSA > 127 {
		return dst, protocol.Errorf(protocol.ErrInvalidAddress, -1, int64(f.A3.MSA),
			"MSA must be 0 to 127")
	}
	if f.Seq.Num > 15 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(f.Seq.Num),
			"PSEQ/RSEQ must be 0 to 15")
	}
	l := uint16(l1<<2 | ProtocolID)
	start := len(dst)
	dst = append(dst, StartByte, byte(l), byte(l>>8), byte(l), byte(l>>8), StartByte,
		f.Control.Byte(), 0, 0, 0, 0, f.A3.Byte(), byte(f.AFN), f.Seq.Byte())
	f.Address.PutWire(dst[start+offA:])
	dst = append(dst, f.Data...)
	if f.HasPW() {
		dst = append(dst, f.PW[:]...)
	}
	if f.HasEC() {
		dst = append(dst, f.EC.Important, f.EC.General)
	}
	if f.HasTp() {
		dst = append(dst, f.Tp.PFC, f.Tp.Sent[0], f.Tp.Sent[1], f.Tp.Sent[2], f.Tp.Sent[3],
			f.Tp.DelayMin)
	}
	dst = append(dst, protocol.Sum8(dst[start+HeaderLen:]), EndByte)
	return dst, nil
}
