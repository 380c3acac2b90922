package dlt645

import (
	"github.com/feegate/feegate/protocol"
)

// Link-layer constants shared by both editions.
const (
	// StartByte opens the frame and is repeated after the address.
	StartByte = 0x68
	// EndByte closes the frame.
	EndByte = 0x16
	// PreambleByte wakes the receiver. Senders put PreambleLen of them before a frame;
	// receivers accept any number.
	PreambleByte = 0xFE
	// PreambleLen is the number of preamble bytes Encode writes.
	PreambleLen = 4
	// Scramble is added to every data byte on the wire and subtracted on receipt.
	Scramble = 0x33
	// HeaderLen is the length of 68 A0..A5 68 C L.
	HeaderLen = 10
	// MinFrameLen is the length of a frame without data and preamble.
	MinFrameLen = HeaderLen + 2
	// MaxDataLen is the largest L. The standard caps reads at 200 and writes at 50, but
	// encrypted (PA=98) writes exceed 50, so the codec accepts what the byte can hold.
	MaxDataLen = 255
	// MaxFrameLen is the length of the longest frame without preamble.
	MaxFrameLen = MinFrameLen + MaxDataLen
)

// Control-code bits.
const (
	// DirectionBit (D7) is set in replies (slave to master).
	DirectionBit = 0x80
	// AbnormalBit (D6) is set in abnormal (error) replies.
	AbnormalBit = 0x40
	// FollowupBit (D5) is set when more reply frames follow.
	FollowupBit = 0x20
	// FunctionMask selects the function code D4..D0.
	FunctionMask = 0x1F
)

// Control is the control code C.
type Control byte

// IsReply reports whether the direction bit (slave to master) is set.
func (c Control) IsReply() bool { return c&DirectionBit != 0 }

// IsAbnormal reports whether the abnormal-reply bit is set.
func (c Control) IsAbnormal() bool { return c&AbnormalBit != 0 }

// HasFollowup reports whether the follow-up bit is set.
func (c Control) HasFollowup() bool { return c&FollowupBit != 0 }

// Function returns the function code D4..D0.
func (c Control) Function() Function { return Function(c & FunctionMask) }

// Frame is one DL/T 645 frame of either edition. Data holds the data field with the 0x33
// scrambling already removed; the codec adds and removes it.
type Frame struct {
	Address protocol.MeterAddress
	Control Control
	Data    []byte
}

// Decode decodes one frame from b: any number of leading 0xFE bytes, then exactly one frame.
// The returned frame owns a fresh copy of its data.
func Decode(b []byte) (*Frame, error) {
	f := new(Frame)
	if err := DecodeInto(f, b); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeInto decodes one frame from b into f, as Decode does, reusing f.Data's backing array.
// It allocates only when f.Data has less capacity than the frame's data, so a caller that
// keeps one Frame per goroutine decodes without allocating. Bytes after the end byte are
// an error.
func DecodeInto(f *Frame, b []byte) error {
	p := 0
	for p < len(b) && b[p] == PreambleByte {
		p++
	}
	n, err := checkFrame(b[p:], true)
	if err != nil {
		return shiftOffset(err, p)
	}
	if p+n != len(b) {
		return protocol.Errorf(protocol.ErrBadLength, p+n, int64(len(b)-p-n),
			"%d bytes after the end byte", len(b)-p-n)
	}
	fr := b[p : p+n]
	copy(f.Address[:], fr[1:7])
	f.Control = Control(fr[8])
	l := int(fr[9])
	if cap(f.Data) < l {
		f.Data = make([]byte, l)
	}
	f.Data = f.Data[:l]
	for i := 0; i < l; i++ {
		f.Data[i] = fr[HeaderLen+i] - Scramble
	}
	return nil
}

// shiftOffset moves the offset of a codec error by the skipped preamble length.
func shiftOffset(err error, by int) error {
	if e, ok := err.(*protocol.Error); ok && by > 0 && e.Offset >= 0 {
		c := *e
		c.Offset += by
		return &c
	}
	return err
}

// checkFrame validates the frame at the start of b (no preamble). It returns the frame
// length, or 0 with a nil error when b is a valid prefix and complete is false.
func checkFrame(b []byte, complete bool) (int, error) {
	need := func(n int) bool { return len(b) < n }
	if need(1) {
		return 0, shortOrWait(complete, 0, len(b))
	}
	if b[0] != StartByte {
		return 0, protocol.Mismatch(protocol.ErrBadStart, 0, int64(b[0]), StartByte,
			"first start byte")
	}
	if need(8) {
		return 0, shortOrWait(complete, 0, len(b))
	}
	if b[7] != StartByte {
		return 0, protocol.Mismatch(protocol.ErrBadStart, 7, int64(b[7]), StartByte,
			"second start byte")
	}
	if need(HeaderLen) {
		return 0, shortOrWait(complete, 0, len(b))
	}
	n := MinFrameLen + int(b[9])
	if need(n) {
		return 0, shortOrWait(complete, n, len(b))
	}
	if cs := protocol.Sum8(b[:n-2]); b[n-2] != cs {
		return 0, protocol.Mismatch(protocol.ErrBadChecksum, n-2, int64(b[n-2]), int64(cs), "CS")
	}
	if b[n-1] != EndByte {
		return 0, protocol.Mismatch(protocol.ErrBadEnd, n-1, int64(b[n-1]), EndByte, "end byte")
	}
	return n, nil
}

func shortOrWait(complete bool, want, got int) error {
	if !complete {
		return nil
	}
	if want == 0 {
		return protocol.Errorf(protocol.ErrShortFrame, got, int64(got),
			"%d bytes end before the frame header", got)
	}
	return protocol.Mismatch(protocol.ErrShortFrame, got, int64(got), int64(want),
		"frame length")
}

// Check is the length-driven check of a stream candidate for protocol.FrameSpec: it reads L
// from the header and never searches for an end byte, so 0x16, 0x68 and 0xFE inside a frame
// are data.
func Check(candidate []byte) (int, error) { return checkFrame(candidate, false) }

// Spec describes DL/T 645 frames to protocol.Scan and protocol.Framer. Framed output starts
// at the first 0x68: preamble bytes are reported as skipped, not as noise.
var Spec = protocol.FrameSpec{
	Start:       StartByte,
	Preamble:    PreambleByte,
	HasPreamble: true,
	Check:       Check,
}

// IsReplyFrame reports whether frame, as returned by a Framer, has the direction bit set.
// Use it as Framer.Accept to drop echoed requests on adapters that echo what they send.
func IsReplyFrame(frame []byte) bool {
	return len(frame) > 8 && frame[8]&DirectionBit != 0
}

// IsRequestFrame reports whether frame has the direction bit clear, for the meter side.
func IsRequestFrame(frame []byte) bool {
	return len(frame) > 8 && frame[8]&DirectionBit == 0
}

// NewFramer returns a stream framer for DL/T 645 that buffers at most maxBuffered bytes, or
// MaxFrameLen when maxBuffered is smaller but not 0, because a smaller buffer could never
// hold a frame with L=255. A maxBuffered of 0 sets no limit. With repliesOnly set, request
// frames are dropped and reported as skipped, which filters the echo of an RS-485 adapter.
// The framer is owned by one goroutine, as protocol.Framer documents.
func NewFramer(maxBuffered int, repliesOnly bool) *protocol.Framer {
	if maxBuffered > 0 && maxBuffered < MaxFrameLen {
		maxBuffered = MaxFrameLen
	}
	fr := protocol.NewFramer(Spec, maxBuffered)
	if repliesOnly {
		fr.Accept = IsReplyFrame
	}
	return fr
}

// Append appends the wire form of f to dst: PreambleLen bytes of 0xFE when preamble is set,
// then the frame with its data scrambled. It fails when f.Data is longer than MaxDataLen.
func Append(dst []byte, f *Frame, preamble bool) ([]byte, error) {
	if len(f.Data) > MaxDataLen {
		return dst, protocol.Errorf(protocol.ErrFrameTooLarge, 9, int64(len(f.Data)),
			"data field longer than %d bytes", MaxDataLen)
	}
	if preamble {
		dst = append(dst, PreambleByte, PreambleByte, PreambleByte, PreambleByte)
	}
	start := len(dst)
	dst = append(dst, StartByte)
	dst = append(dst, f.Address[:]...)
	dst = append(dst, StartByte, byte(f.Control), byte(len(f.Data)))
	for _, c := range f.Data {
		dst = append(dst, c+Scramble)
	}
	dst = append(dst, protocol.Sum8(dst[start:]), EndByte)
	return dst, nil
}

// Encode returns the wire form of f as a master sends it, with the 4-byte 0xFE preamble.
func Encode(f *Frame) ([]byte, error) {
	return Append(make([]byte, 0, PreambleLen+MinFrameLen+len(f.Data)), f, true)
}

// Function returns the frame's function code.
func (f *Frame) Function() Function { return f.Control.Function() }

// ExpectsReply reports whether a meter replies to the request f. Broadcast frames get no
// reply.
func (f *Frame) ExpectsReply() bool {
	return !f.Control.IsReply() && !f.Address.IsBroadcast()
}
