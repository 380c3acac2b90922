package dlt645

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

func roundTrip(t *testing.T, f *Frame) *Frame {
	t.Helper()
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Address != f.Address || back.Control != f.Control || !bytes.Equal(back.Data, f.Data) {
		t.Fatalf("round trip changed the frame: %+v -> %+v", f, back)
	}
	return back
}

func TestEveryFunctionRoundTrip(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000161")
	cred := Credentials{Level: 2, Password: Password{0x56, 0x34, 0x12},
		Operator: OperatorCode{0x78, 0x56, 0x34, 0x12}}
	at := time.Date(2026, 12, 4, 15, 30, 0, 0, DefaultLocation())
	must := func(f *Frame, err error) *Frame {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	relay := &RelayCommand{Level: 2, Action: ActionGuarantee, Deadline: at}
	cases := []struct {
		ed   Edition
		fn   Function
		name string
		f    *Frame
	}{
		{Edition2007, FuncSecurity, "security",
			NewSecurityRequest(addr, DIAuthInvalidate, cred.Operator, nil)},
		{Edition2007, FuncBroadcastTime, "broadcast_time", must(NewBroadcastTimeRequest(at))},
		{Edition2007, FuncRead, "read", NewReadRequest(addr, 0x04000503)},
		{Edition2007, FuncReadFollowup, "read_followup", NewReadFollowupRequest(addr, 0x1D00FF01, 1)},
		{Edition2007, FuncReadAddress, "read_address", NewReadAddressRequest()},
		{Edition2007, FuncWrite, "write", must(NewWriteValueRequest(addr, 0x04001401, cred, 30))},
		{Edition2007, FuncWriteAddress, "write_address", NewWriteAddressRequest(addr)},
		{Edition2007, FuncFreeze, "freeze", NewFreezeRequest(addr, FreezeTime{99, 99, 99, 99})},
		{Edition2007, FuncChangeBaud, "change_baud", must(NewChangeBaudRequest(Edition2007, addr, 9600))},
		{Edition2007, FuncChangePassword, "change_password",
			NewChangePasswordRequest(addr, 0x04000C03, cred, Credentials{Level: 2})},
		{Edition2007, FuncClearDemand, "clear_demand", must(NewClearRequest(addr, FuncClearDemand, cred, nil))},
		{Edition2007, FuncClearMeter, "clear_meter", must(NewClearRequest(addr, FuncClearMeter, cred, nil))},
		{Edition2007, FuncClearEvents, "clear_events", NewClearEventsRequest(addr, cred, 0xFFFFFFFF)},
		{Edition2007, FuncRelayControl, "relay_control", must(NewRelayRequest(addr, relay))},
		{Edition2007, FuncOutputControl, "output_control", must(NewOutputControlRequest(addr, 2))},
		{Edition1997, Func97Read, "read", NewReadRequest97(addr, 0x9010)},
		{Edition1997, Func97ReadFollowup, "read_followup", NewReadFollowupRequest97(addr, 0x901F)},
		{Edition1997, Func97Reread, "reread", NewRereadRequest97(addr)},
		{Edition1997, Func97Write, "write", NewWriteRequest97(addr, 0xC011, cred, []byte{0, 0x30, 0x15})},
		{Edition1997, Func97WriteAddress, "write_address", NewWriteAddressRequest97(addr)},
		{Edition1997, Func97ChangeBaud, "change_baud", must(NewChangeBaudRequest(Edition1997, addr, 1200))},
		{Edition1997, Func97ChangePassword, "change_password",
			NewChangePasswordRequest97(addr, cred, Credentials{Level: 1})},
		{Edition1997, Func97ClearDemand, "clear_demand", NewClearDemandRequest97(addr, cred)},
	}
	for _, c := range cases {
		t.Run(c.ed.String()+"/"+c.name, func(t *testing.T) {
			back := roundTrip(t, c.f)
			if back.Function() != c.fn || back.Function().Name(c.ed) != c.name {
				t.Fatalf("function %02X %q", byte(back.Function()), back.Function().Name(c.ed))
			}
			if ed, ok := DetectEdition(back); !ok || ed != c.ed && c.fn != FuncBroadcastTime {
				t.Fatalf("detected %v %v", ed, ok)
			}
			wantReply := !c.f.Address.IsBroadcast()
			if c.f.ExpectsReply() != wantReply {
				t.Fatalf("ExpectsReply = %v", c.f.ExpectsReply())
			}
		})
	}
}

func TestFunctionParsers(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000161")
	at := time.Date(2026, 12, 4, 15, 30, 5, 0, DefaultLocation())
	bt, _ := NewBroadcastTimeRequest(at)
	if !bt.Address.IsBroadcast() || bt.ExpectsReply() {
		t.Fatal("broadcast time must go to 99..99 and expect no reply")
	}
	if got, err := ParseBroadcastTime(bt); err != nil || !got.Equal(at) {
		t.Fatalf("broadcast time %v %v", got, err)
	}
	ra, err := ParseReadAddressReply(NewReply(addr, FuncReadAddress, false, addr[:]))
	if err != nil || ra != addr {
		t.Fatalf("read address %v %v", ra, err)
	}
	cred := Credentials{Level: 4, Operator: OperatorCode{1, 2, 3, 4}}
	w, _ := NewWriteValueRequest(addr, 0x04001401, cred, 30)
	wr, err := ParseWriteRequest(w)
	if err != nil || wr.DI != 0x04001401 || wr.Credentials != cred || !bytes.Equal(wr.Data, []byte{0x30, 0}) {
		t.Fatalf("write request %+v %v", wr, err)
	}
	if err := ParseAck(Edition2007, FuncWrite, NewReply(addr, FuncWrite, false, nil)); err != nil {
		t.Fatal(err)
	}
	err = ParseAck(Edition2007, FuncWrite, NewErrorReply(addr, FuncWrite, 0x04, false))
	if !errors.Is(err, ErrPasswordRejected) {
		t.Fatalf("D4 04: err = %v", err)
	}
	err = ParseAck(Edition1997, Func97Write, NewErrorReply(addr, Func97Write, 0x02, false))
	var me *MeterError
	if !errors.As(err, &me) || me.Kind != KindERR1997 || me.Bits()[0] != "wrong_identifier" {
		t.Fatalf("1997 C4 02: err = %v", err)
	}
	ft, err := ParseFreezeRequest(NewFreezeRequest(addr, FreezeTime{0, 12, 1, FreezeEvery}))
	if err != nil || ft.Hour != 12 || ft.Month != 99 {
		t.Fatalf("freeze %+v %v", ft, err)
	}
	baud, err := ParseChangeBaudReply(Edition2007, NewReply(addr, FuncChangeBaud, false, []byte{0x08}))
	if err != nil || baud != 2400 {
		t.Fatalf("baud %d %v", baud, err)
	}
	if _, err := BaudCode(1234); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("baud 1234: err = %v", err)
	}
	np, err := ParseChangePasswordReply(NewReply(addr, FuncChangePassword, false,
		[]byte{2, 0x56, 0x34, 0x12}))
	if err != nil || np.Password.String() != "123456" {
		t.Fatalf("new password %+v %v", np, err)
	}
	np97, err := ParseChangePasswordReply97(NewReply(addr, Func97ChangePassword, false,
		[]byte{1, 0, 0, 0}))
	if err != nil || np97.Level != 1 {
		t.Fatalf("1997 new password %+v %v", np97, err)
	}
	if _, err := NewOutputControlRequest(addr, 3); err == nil {
		t.Fatal("output mode 3 accepted")
	}
}

func TestReadAssemblyFollowup(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000161")
	a, req := NewReadAssembly(addr, 0x1D00FF01)
	if req.Function() != FuncRead {
		t.Fatalf("first request %02X", byte(req.Function()))
	}
	first := NewReply(addr, FuncRead, true, []byte{0x01, 0xFF, 0x00, 0x1D, 1, 2, 3})
	next, err := a.Add(first)
	if err != nil || next == nil || next.Function() != FuncReadFollowup || next.Data[4] != 1 {
		t.Fatalf("after first: %+v %v", next, err)
	}
	// A follow-up reply with the wrong SEQ is rejected.
	bad := NewReply(addr, FuncReadFollowup, false, []byte{0x01, 0xFF, 0x00, 0x1D, 9, 2})
	if _, err := a.Add(bad); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("wrong SEQ: err = %v", err)
	}
	second := NewReply(addr, FuncReadFollowup, true, []byte{0x01, 0xFF, 0x00, 0x1D, 4, 5, 1})
	next, err = a.Add(second)
	if err != nil || next == nil || next.Data[4] != 2 {
		t.Fatalf("after second: %+v %v", next, err)
	}
	last := NewReply(addr, FuncReadFollowup, false, []byte{0x01, 0xFF, 0x00, 0x1D, 6, 2})
	next, err = a.Add(last)
	if err != nil || next != nil || !a.Done() {
		t.Fatalf("after last: %+v %v", next, err)
	}
	if !bytes.Equal(a.Data, []byte{1, 2, 3, 4, 5, 6}) || a.Frames != 3 {
		t.Fatalf("assembled % X in %d frames", a.Data, a.Frames)
	}
	other := NewReply(addr, FuncRead, false, []byte{0x00, 0x00, 0x01, 0x00, 1, 2, 3, 4})
	b, _ := NewReadAssembly(addr, 0x1D00FF01)
	if _, err := b.Add(other); !errors.Is(err, protocol.ErrIdentifierMismatch) {
		t.Fatalf("other DI: err = %v", err)
	}
}

func TestMeterErrorAllBitsNamed(t *testing.T) {
	for kind, width := range map[ErrorKind]int{KindERR2007: 8, KindERR1997: 8, KindSERR: 9,
		KindRelayError: 9} {
		e := &MeterError{Kind: kind, Value: uint16(1<<width - 1)}
		bits := e.Bits()
		if len(bits) != width {
			t.Fatalf("kind %d: %d bits named", kind, len(bits))
		}
		for _, b := range bits {
			if len(b) > 4 && b[:4] == "bit_" {
				t.Errorf("kind %d: %s has no name", kind, b)
			}
		}
	}
}
