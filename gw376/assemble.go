package gw376

import (
	"errors"

	"github.com/feegate/feegate/protocol"
)

// ErrSequence means a frame of a multi-frame message arrived out of order: a middle or last
// frame without a first one, or an RSEQ that does not follow the previous frame's.
var ErrSequence = errors.New("gw376: multi-frame sequence broken")

// Message is one application message: a single frame, or the frames of a multi-frame
// response or active report from FIR to FIN with RSEQ incrementing by one (mod 16).
type Message struct {
	Address protocol.TerminalAddress
	AFN     AFN
	Dir     Dir
	Frames  []*Frame
}

// Units walks the data units of every frame, in order. Each frame of a multi-frame message
// carries its own identifiers, so the frames are walked one by one.
func (m *Message) Units() []Units {
	out := make([]Units, len(m.Frames))
	for i, f := range m.Frames {
		out[i] = f.Units()
	}
	return out
}

type assemblyKey struct {
	addr protocol.TerminalAddress
	afn  AFN
	dir  Dir
}

type partial struct {
	frames []*Frame
	next   uint8
}

// Assembler collects multi-frame messages by terminal address, AFN and direction. It is not
// safe for concurrent use: one goroutine, such as a connection's reader, owns it.
type Assembler struct {
	pending   map[assemblyKey]*partial
	maxFrames int
}

// NewAssembler returns an assembler that drops a message growing past maxFrames frames
// (minimum 2), so that a peer that never sends FIN cannot grow memory without limit.
func NewAssembler(maxFrames int) *Assembler {
	return &Assembler{pending: map[assemblyKey]*partial{}, maxFrames: max(maxFrames, 2)}
}

// Pending returns the number of incomplete messages held.
func (a *Assembler) Pending() int { return len(a.pending) }

// Add adds frame f, which the assembler keeps (pass frames from Decode, not DecodeInto). It
// returns the message f completes, or nil while a message is incomplete. A frame with FIN
// set and FIR clear that continues no message is complete on its own, as terminals send
// single replies that way. On an out-of-order frame the partial message is dropped and
// ErrSequence returned with the RSEQ received.
func (a *Assembler) Add(f *Frame) (*Message, error) {
	k := assemblyKey{addr: f.Address, afn: f.AFN, dir: f.Dir()}
	p := a.pending[k]
	seq := f.Seq.Num
	switch {
	case f.Seq.FIR:
		var err error
		if p != nil {
			delete(a.pending, k)
			err = protocol.Errorf(ErrSequence, offSEQ, int64(seq),
				"first frame while a %d-frame message of AFN %02X was incomplete: dropped it",
				len(p.frames), byte(f.AFN))
		}
		if f.Seq.FIN {
			return a.message(k, []*Frame{f}), err
		}
		a.pending[k] = &partial{frames: []*Frame{f}, next: (seq + 1) & 0x0F}
		return nil, err
	case p == nil:
		if f.Seq.FIN {
			return a.message(k, []*Frame{f}), nil
		}
		return nil, protocol.Errorf(ErrSequence, offSEQ, int64(seq),
			"middle frame of AFN %02X without a first frame", byte(f.AFN))
	case seq != p.next:
		delete(a.pending, k)
		return nil, protocol.Mismatch(ErrSequence, offSEQ, int64(seq), int64(p.next),
			"RSEQ of the next frame")
	}
	p.frames = append(p.frames, f)
	p.next = (seq + 1) & 0x0F
	if f.Seq.FIN {
		delete(a.pending, k)
		return a.message(k, p.frames), nil
	}
	if len(p.frames) >= a.maxFrames {
		delete(a.pending, k)
		return nil, protocol.Errorf(protocol.ErrFrameTooLarge, -1, int64(len(p.frames)),
			"multi-frame message of AFN %02X exceeds %d frames", byte(f.AFN), a.maxFrames)
	}
	return nil, nil
}

func (a *Assembler) message(k assemblyKey, frames []*Frame) *Message {
	return &Message{Address: k.addr, AFN: k.afn, Dir: k.dir, Frames: frames}
}
