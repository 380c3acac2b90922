package dlt645

import (
	"fmt"
	"strconv"

	"github.com/feegate/feegate/protocol"
)

// DI is a DL/T 645-2007 data identifier, DI3 in the high byte so that it prints as documents
// write it (00010000). On the wire it is sent DI0 first.
type DI uint32

// String returns the 8 hex digits of d, DI3 first.
func (d DI) String() string { return fmt.Sprintf("%08X", uint32(d)) }

// ParseDI parses 8 hex digits written DI3 first.
func ParseDI(s string) (DI, error) {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(s)),
			"data identifier %q must be 8 hex digits", s)
	}
	return DI(v), nil
}

func (d DI) put(b []byte) {
	b[0], b[1], b[2], b[3] = byte(d), byte(d>>8), byte(d>>16), byte(d>>24)
}

func diFromWire(b []byte) DI {
	return DI(b[0]) | DI(b[1])<<8 | DI(b[2])<<16 | DI(b[3])<<24
}

// DI97 is a DL/T 645-1997 data identifier, DI1 in the high byte (9010). On the wire it is
// sent DI0 first.
type DI97 uint16

// String returns the 4 hex digits of d, DI1 first.
func (d DI97) String() string { return fmt.Sprintf("%04X", uint16(d)) }

// ParseDI97 parses 4 hex digits written DI1 first.
func ParseDI97(s string) (DI97, error) {
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil || len(s) != 4 {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(s)),
			"1997 data identifier %q must be 4 hex digits", s)
	}
	return DI97(v), nil
}

func (d DI97) put(b []byte) { b[0], b[1] = byte(d), byte(d>>8) }

func di97FromWire(b []byte) DI97 { return DI97(b[0]) | DI97(b[1])<<8 }

// NewRequest returns a request frame of function fn to addr carrying data.
func NewRequest(addr protocol.MeterAddress, fn Function, data []byte) *Frame {
	return &Frame{Address: addr, Control: Control(fn), Data: data}
}

// NewReply returns a normal reply frame of function fn from addr carrying data, as a
// meter sends it. With followup set, the follow-up bit marks that more frames follow.
func NewReply(addr protocol.MeterAddress, fn Function, followup bool, data []byte) *Frame {
	c := Control(fn) | DirectionBit
	if followup {
		c |= FollowupBit
	}
	return &Frame{Address: addr, Control: c, Data: data}
}

// NewErrorReply returns the abnormal reply of function fn carrying the error value: one byte
// when wide is false, else two bytes low byte first (SERR of 0x03, error word of 0x1C).
func NewErrorReply(addr protocol.MeterAddress, fn Function, value uint16, wide bool) *Frame {
	data := []byte{byte(value)}
	if wide {
		data = append(data, byte(value>>8))
	}
	return &Frame{Address: addr, Control: Control(fn) | DirectionBit | AbnormalBit, Data: data}
}

// CheckAddress verifies that reply comes from the meter the request went to. A wildcard
// request matches any reply whose digit bytes agree.
func CheckAddress(request, reply *Frame) error {
	if !request.Address.Matches(reply.Address) {
		return protocol.Errorf(protocol.ErrAddressMismatch, 1, 0,
			"reply from %s to a request for %s", reply.Address, request.Address)
	}
	return nil
}

// NewReadRequest returns the 2007 read request (0x11) of di from addr.
func NewReadRequest(addr protocol.MeterAddress, di DI) *Frame {
	data := make([]byte, 4)
	di.put(data)
	return NewRequest(addr, FuncRead, data)
}

// ReadReply is the decoded data of a read reply. Data aliases the frame's data.
type ReadReply struct {
	DI DI
	// Data holds the value bytes after the identifier, without the SEQ byte.
	Data []byte
	// Followup is set when the meter has more frames for this identifier (0xB1, 0xB2).
	Followup bool
	// Seq is the frame number of a read-followup reply (0x92, 0xB2), else 0.
	Seq byte
}

// ParseReadReply decodes a 2007 read reply (0x91, 0xB1) to the request for want. An
// abnormal reply (0xD1) returns its *MeterError; a reply for another identifier returns a
// protocol.ErrIdentifierMismatch, because a meter replying with another identifier gives no
// value for the one requested.
func ParseReadReply(f *Frame, want DI) (ReadReply, error) {
	if err := checkReply(Edition2007, FuncRead, f); err != nil {
		return ReadReply{}, err
	}
	return parseDIReply(f, want, false)
}

func parseDIReply(f *Frame, want DI, seq bool) (ReadReply, error) {
	min := 4
	if seq {
		min = 5
	}
	if len(f.Data) < min {
		return ReadReply{}, protocol.Errorf(protocol.ErrBadLength, 9, int64(len(f.Data)),
			"reply data of %d bytes, need at least %d", len(f.Data), min)
	}
	r := ReadReply{DI: diFromWire(f.Data), Data: f.Data[4:], Followup: f.Control.HasFollowup()}
	if r.DI != want {
		return ReadReply{}, protocol.Mismatch(protocol.ErrIdentifierMismatch, HeaderLen,
			int64(r.DI), int64(want), "DI "+r.DI.String()+" in reply to "+want.String())
	}
	if seq {
		r.Seq = r.Data[len(r.Data)-1]
		r.Data = r.Data[:len(r.Data)-1]
	}
	return r, nil
}

// NewReadFollowupRequest returns the 2007 read-followup request (0x12) of frame seq of di.
func NewReadFollowupRequest(addr protocol.MeterAddress, di DI, seq byte) *Frame {
	data := make([]byte, 5)
	di.put(data)
	data[4] = seq
	return NewRequest(addr, FuncReadFollowup, data)
}

// ParseReadFollowupReply decodes a 2007 read-followup reply (0x92, 0xB2): DI, data, SEQ.
func ParseReadFollowupReply(f *Frame, want DI) (ReadReply, error) {
	if err := checkReply(Edition2007, FuncReadFollowup, f); err != nil {
		return ReadReply{}, err
	}
	return parseDIReply(f, want, true)
}

// NewReadRequest97 returns the 1997 read request (0x01) of di from addr.
func NewReadRequest97(addr protocol.MeterAddress, di DI97) *Frame {
	data := make([]byte, 2)
	di.put(data)
	return NewRequest(addr, Func97Read, data)
}

// NewReadFollowupRequest97 returns the 1997 read-followup request (0x02) of di.
func NewReadFollowupRequest97(addr protocol.MeterAddress, di DI97) *Frame {
	data := make([]byte, 2)
	di.put(data)
	return NewRequest(addr, Func97ReadFollowup, data)
}

// NewRereadRequest97 returns the 1997 re-read request (0x03), which has no data: the meter
// sends its last reply again.
func NewRereadRequest97(addr protocol.MeterAddress) *Frame {
	return NewRequest(addr, Func97Reread, nil)
}

// ReadReply97 is the decoded data of a 1997 read reply. Data aliases the frame's data.
type ReadReply97 struct {
	DI       DI97
	Data     []byte
	Followup bool
}

// ParseReadReply97 decodes a 1997 read reply (0x81, 0xA1; 0x82, 0xA2 for read-followup;
// 0x83 for re-read) to the request for want.
func ParseReadReply97(f *Frame, want DI97) (ReadReply97, error) {
	fn := f.Function()
	if fn != Func97ReadFollowup && fn != Func97Reread {
		fn = Func97Read
	}
	if err := checkReply(Edition1997, fn, f); err != nil {
		return ReadReply97{}, err
	}
	if len(f.Data) < 2 {
		return ReadReply97{}, protocol.Errorf(protocol.ErrBadLength, 9, int64(len(f.Data)),
			"reply data of %d bytes, need at least 2", len(f.Data))
	}
	r := ReadReply97{DI: di97FromWire(f.Data), Data: f.Data[2:], Followup: f.Control.HasFollowup()}
	if r.DI != want {
		return ReadReply97{}, protocol.Mismatch(protocol.ErrIdentifierMismatch, HeaderLen,
			int64(r.DI), int64(want), "DI "+r.DI.String()+" in reply to "+want.String())
	}
	return r, nil
}

// ReadAssembly collects the frames of one 2007 read into one value: the first reply (0x91
// or 0xB1), then read-followup replies (0x92, 0xB2) while the follow-up bit is set. It is
// not safe for concurrent use.
type ReadAssembly struct {
	Address protocol.MeterAddress
	DI      DI
	// Data is the concatenated value bytes of every frame so far.
	Data []byte
	// Frames counts the replies added.
	Frames int
	done   bool
	seq    byte
}

// NewReadAssembly starts a read of di from addr and returns it with the first request.
func NewReadAssembly(addr protocol.MeterAddress, di DI) (*ReadAssembly, *Frame) {
	return &ReadAssembly{Address: addr, DI: di}, NewReadRequest(addr, di)
}

// Done reports whether the last frame has arrived.
func (a *ReadAssembly) Done() bool { return a.done }

// Add adds a reply. It returns the next request to send, or nil when the read is complete.
// A reply from a meter the read was not sent to returns protocol.ErrAddressMismatch, and
// a read that still has follow-up frames after SEQ 255 returns protocol.ErrFrameTooLarge,
// because the one-byte SEQ cannot ask for more. A rejected reply leaves the assembly as
// it was, so the caller may retry the same request.
func (a *ReadAssembly) Add(f *Frame) (*Frame, error) {
	if a.done {
		return nil, unexpected(f, "read of %s is already complete", a.DI)
	}
	if !a.Address.Matches(f.Address) {
		return nil, protocol.Errorf(protocol.ErrAddressMismatch, 1, 0,
			"reply from %s to a read of %s from %s", f.Address, a.DI, a.Address)
	}
	var r ReadReply
	var err error
	if a.Frames == 0 {
		r, err = ParseReadReply(f, a.DI)
	} else {
		r, err = ParseReadFollowupReply(f, a.DI)
		if err == nil && r.Seq != a.seq {
			err = protocol.Mismatch(protocol.ErrInvalidValue, -1, int64(r.Seq), int64(a.seq),
				"SEQ of the read-followup reply")
		}
	}
	if err != nil {
		return nil, err
	}
	if r.Followup && a.seq == 0xFF {
		return nil, protocol.Errorf(protocol.ErrFrameTooLarge, -1, int64(a.Frames+1),
			"read of %s still has follow-up frames after SEQ 255", a.DI)
	}
	a.Data = append(a.Data, r.Data...)
	a.Frames++
	if !r.Followup {
		a.done = true
		return nil, nil
	}
	a.seq++
	return NewReadFollowupRequest(a.Address, a.DI, a.seq), nil
}
