package gw376

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/feegate/feegate/protocol"
)

// Each test here pins one way real masters and terminals depart from the standard.

func TestDeviationConfirmC0BWithMSA(t *testing.T) {
	fx := loadFixtures(t)
	f, us := unitsOf(t, fx, "V05-master-confirm-F1")
	if f.Control.Func != FuncLinkStatus || f.Control.PRM || f.A3.MSA != 1 {
		t.Errorf("C %02X MSA %d", f.Control.Byte(), f.A3.MSA)
	}
	if us.Err != nil || len(us.List) != 1 || us.List[0].Fn != FnConfirmAll {
		t.Errorf("units %+v err %v", us.List, us.Err)
	}
}

func TestDeviationConfirmTrailingZeros(t *testing.T) {
	fx := loadFixtures(t)
	f, us := unitsOf(t, fx, "V20-confirm-F1-nonstd")
	if !f.Control.FCV || us.Err != nil || len(us.List) != 1 {
		t.Fatalf("FCV %v units %d err %v", f.Control.FCV, len(us.List), us.Err)
	}
	if !bytes.Equal(us.Rest, make([]byte, 6)) || us.RestOffset != 4 {
		t.Errorf("surplus at %d = % X, want six zero bytes at 4", us.RestOffset, us.Rest)
	}
}

func TestDeviationLoginWithEC(t *testing.T) {
	fx := loadFixtures(t)
	f, us := unitsOf(t, fx, "V06-login-with-EC")
	if !f.HasEC() || f.EC != (EC{Important: 0x1C, General: 0x04}) {
		t.Errorf("EC %v %+v", f.HasEC(), f.EC)
	}
	if len(us.List) != 1 || us.List[0].Fn != FnLogin || len(f.Data) != IDLen {
		t.Errorf("EC bytes taken as data: % X", f.Data)
	}
}

func TestDeviationHeartbeatClock(t *testing.T) {
	fx := loadFixtures(t)
	_, old := unitsOf(t, fx, "V02-heartbeat-2009")
	_, clocked := unitsOf(t, fx, "V04-heartbeat-2013")
	if len(old.List[0].Fields) != 0 {
		t.Errorf("2009 heartbeat has fields %+v", old.List[0].Fields)
	}
	if n := FindNode(clocked.List[0].Fields,
		"clock"); n == nil || n.Value != "2019-07-03T17:41:17" {
		t.Errorf("2013 heartbeat clock %+v", n)
	}
}

func TestDeviationRgmFramesRejected(t *testing.T) {
	fx := loadFixtures(t)
	_, err := Decode(mustFixture(t, fx, "V43-quirk-05F31-2bytePW"))
	if !errors.Is(err, protocol.ErrBadLength) || !strings.Contains(err.Error(), "PW") {
		t.Errorf("2-byte PW: %v", err)
	}
	_, err = Decode(mustFixture(t, fx, "V44-quirk-0C-F2-CB"))
	if !errors.Is(err, protocol.ErrUnknownFunction) || !strings.Contains(err.Error(), "PRM=1") {
		t.Errorf("C=CB reply: %v", err)
	}
	// The rgm protocol id 11 fails the L check.
	b := append([]byte(nil), mustFixture(t, fx, "V02-heartbeat-2009")...)
	b[1], b[3] = 0x33, 0x33
	if _, err := Decode(b); !errors.Is(err, protocol.ErrBadProtocolID) {
		t.Errorf("protocol id 11: %v", err)
	}
}

func TestBroadcastAndUnitsRequest(t *testing.T) {
	fx := loadFixtures(t)
	f, _ := unitsOf(t, fx, "V35-afn05-F1-trip")
	if !f.IsBroadcast() {
		t.Error("A2 FFFF with group flag not broadcast")
	}
	addr := protocol.TerminalAddress{A1: 200, A2: 0x1234}
	req, err := NewUnitsRequest(addr, 2, AFNControl, 3, []UnitValue{
		{Pn: 1, Fn: 1, Value: map[string]any{"timing": map[string]any{
			"alarm_delay_min": 0, "limit_half_hours": 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if req.IsBroadcast() || !bytes.Equal(req.Data, []byte{0x01, 0x01, 0x01, 0x00, 0x00}) {
		t.Errorf("request data % X", req.Data)
	}
}
