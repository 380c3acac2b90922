package gw376

import (
	"errors"
	"testing"

	"github.com/feegate/feegate/protocol"
)

// eventFrame returns an AFN0E reply frame with the given SEQ flags and RSEQ.
func eventFrame(addr protocol.TerminalAddress, fir, fin bool, rseq uint8) *Frame {
	data, _ := AppendUnits(nil, AFNClass3, Up, []UnitValue{{Fn: 1, Value: map[string]any{
		"ec1": 3, "ec2": 0, "pm": 0, "pn": 3, "records": []any{}}}})
	return &Frame{Control: Control{Up: true, PRM: true, Func: FuncUserData}, Address: addr,
		AFN: AFNClass3, Seq: Seq{FIR: fir, FIN: fin, Num: rseq}, Data: data}
}

func TestAssemblerMultiFrame(t *testing.T) {
	addr := protocol.TerminalAddress{A1: 2449, A2: 0x5845}
	a := NewAssembler(8)
	// First, middle and last with RSEQ 15, 0, 1: the counter wraps.
	for i, f := range []*Frame{eventFrame(addr, true, false, 15), eventFrame(addr, false, false,
		0)} {
		m, err := a.Add(f)
		if m != nil || err != nil {
			t.Fatalf("frame %d: message %v err %v", i, m, err)
		}
	}
	other := protocol.TerminalAddress{A1: 2449, A2: 1}
	if m, err := a.Add(eventFrame(other, true, true,
		3)); err != nil || m == nil || len(m.Frames) != 1 {
		t.Fatalf("another terminal's single frame: %v %v", m, err)
	}
	m, err := a.Add(eventFrame(addr, false, true, 1))
	if err != nil || m == nil {
		t.Fatalf("last frame: %v %v", m, err)
	}
	if len(m.Frames) != 3 || m.Address != addr || m.AFN != AFNClass3 {
		t.Errorf("message %+v", m)
	}
	for i, us := range m.Units() {
		if us.Err != nil || len(us.List) != 1 {
			t.Errorf("frame %d units %v err %v", i, len(us.List), us.Err)
		}
	}
	if a.Pending() != 0 {
		t.Errorf("pending = %d", a.Pending())
	}
}

func TestAssemblerSingleFinOnly(t *testing.T) {
	a := NewAssembler(4)
	m, err := a.Add(eventFrame(protocol.TerminalAddress{A1: 1, A2: 1}, false, true, 2))
	if err != nil || m == nil || len(m.Frames) != 1 {
		t.Fatalf("FIR=0 FIN=1 alone: %v %v", m, err)
	}
}

func TestAssemblerSequenceErrors(t *testing.T) {
	addr := protocol.TerminalAddress{A1: 1, A2: 1}
	a := NewAssembler(4)
	if _, err := a.Add(eventFrame(addr, false, false, 2)); !errors.Is(err, ErrSequence) {
		t.Errorf("middle without first: %v", err)
	}
	a.Add(eventFrame(addr, true, false, 2))
	_, err := a.Add(eventFrame(addr, false, true, 4))
	var pe *protocol.Error
	if !errors.Is(err, ErrSequence) || !errors.As(err, &pe) || pe.Got != 4 || pe.Want != 3 {
		t.Errorf("gap: %v", err)
	}
	if a.Pending() != 0 {
		t.Errorf("broken message kept")
	}
	a.Add(eventFrame(addr, true, false, 0))
	m, err := a.Add(eventFrame(addr, true, true, 1))
	if !errors.Is(err, ErrSequence) || m == nil {
		t.Errorf("restart: %v %v", m, err)
	}
	a.Add(eventFrame(addr, true, false, 0))
	for i := uint8(1); i < 3; i++ {
		a.Add(eventFrame(addr, false, false, i))
	}
	if _, err := a.Add(eventFrame(addr, false, false, 3)); !errors.Is(err,
		protocol.ErrFrameTooLarge) {
		t.Errorf("over max frames: %v", err)
	}
}

func TestAssemblerCapturedSeqBytes(t *testing.T) {
	// A captured three-frame AFN0E active report carried SEQ 40, 01 and 22.
	addr := protocol.TerminalAddress{A1: 2449, A2: 0x5845}
	a := NewAssembler(8)
	var m *Message
	for i, seq := range []byte{0x40, 0x01, 0x22} {
		f := eventFrame(addr, false, false, 0)
		f.Seq = SeqFromByte(seq)
		var err error
		m, err = a.Add(f)
		if err != nil {
			t.Fatalf("frame %d (SEQ %02X): %v", i, seq, err)
		}
		if (m != nil) != (i == 2) {
			t.Fatalf("frame %d (SEQ %02X): message %v", i, seq, m)
		}
	}
	if len(m.Frames) != 3 {
		t.Errorf("message has %d frames", len(m.Frames))
	}
}
