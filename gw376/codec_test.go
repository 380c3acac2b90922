package gw376

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

// linkWant is the link-layer decode a fixture must give.
type linkWant struct {
	c        byte
	terminal string
	msa      uint8
	group    bool
	afn      AFN
	seq      byte
	dataLen  int
	ec       *EC
	tp       *Tp
	errKind  error
}

var linkCases = map[string]linkWant{
	"V01-login-2009":     {c: 0xC9, terminal: "01710822", afn: AFNLink, seq: 0x78, dataLen: 4},
	"V02-heartbeat-2009": {c: 0xC9, terminal: "01710822", afn: AFNLink, seq: 0x79, dataLen: 4},
	"V03-logout":         {c: 0xC9, terminal: "01710822", afn: AFNLink, seq: 0x71, dataLen: 4},
	"V04-heartbeat-2013": {c: 0xC9, terminal: "24495845", afn: AFNLink, seq: 0x70, dataLen: 10},
	"V05-master-confirm-F1": {c: 0x0B, terminal: "24495845", msa: 1, afn: AFNConfirm, seq: 0x60,
		dataLen: 4},
	"V06-login-with-EC": {c: 0xE9, terminal: "24495845", afn: AFNLink, seq: 0x70, dataLen: 4,
		ec: &EC{Important: 0x1C, General: 0x04}},
	"V07-relogin-new-tcp": {c: 0xC9, terminal: "24495845", afn: AFNLink, seq: 0x73, dataLen: 4},
	"V13-q-0C-F129": {c: 0x4B, terminal: "01710822", msa: 1, afn: AFNClass1, seq: 0xE2,
		dataLen: 4, tp: &Tp{PFC: 2, Sent: [4]byte{0x39, 0x19, 0x16, 0x28}}},
	"V14-r-0C-F129": {c: 0x88, terminal: "01710822", msa: 1, afn: AFNClass1, seq: 0xA2,
		dataLen: 35, tp: &Tp{PFC: 2, Sent: [4]byte{0x39, 0x19, 0x16, 0x28}}},
	"V15-q-0C-F25": {c: 0x4B, terminal: "01710822", msa: 1, afn: AFNClass1, seq: 0xEB,
		dataLen: 4, tp: &Tp{PFC: 0x0B, Sent: [4]byte{0x13, 0x49, 0x16, 0x28}}},
	"V17-q-0C-F167": {c: 0x4B, terminal: "01710822", msa: 1, afn: AFNClass1, seq: 0xE3,
		dataLen: 4, tp: &Tp{PFC: 3, Sent: [4]byte{0x59, 0x21, 0x16, 0x28}}},
	"V19-confirm-F3-nonstd": {c: 0x00, terminal: "4404" + "0661", afn: AFNConfirm, seq: 0x6A,
		dataLen: 10},
	"V20-confirm-F1-nonstd": {c: 0x10, terminal: "01710822", afn: AFNConfirm, seq: 0x68,
		dataLen: 10},
	"V21-afn10-read-req": {c: 0x4B, terminal: "02001234", msa: 2, afn: AFNForward, seq: 0xE0,
		dataLen: 26, tp: &Tp{Sent: [4]byte{0x13, 0x51, 0x23, 0x21}, DelayMin: 5}},
	"V23-afn10-trip-req": {c: 0x4B, terminal: "02001234", msa: 2, afn: AFNForward, seq: 0xE5,
		dataLen: 38, tp: &Tp{PFC: 0x05, Sent: [4]byte{0x34, 0x05, 0x00, 0x22}, DelayMin: 5}},
	"V25-afn10-close-req": {c: 0x4B, terminal: "02001234", msa: 2, afn: AFNForward, seq: 0xE7,
		dataLen: 38, tp: &Tp{PFC: 0x07, Sent: [4]byte{0x15, 0x07, 0x00, 0x22}, DelayMin: 5}},
	"V27-afn10-relay-req": {c: 0x4B, terminal: "02001234", msa: 2, afn: AFNForward, seq: 0xE6,
		dataLen: 26, tp: &Tp{PFC: 0x06, Sent: [4]byte{0x12, 0x06, 0x00, 0x22}, DelayMin: 5}},
	"V30-afn05-F49": {c: 0x4A, terminal: "02001234", msa: 2, afn: AFNControl, seq: 0xF1,
		dataLen: 5, tp: &Tp{PFC: 0x01, Sent: [4]byte{0x07, 0x56, 0x23, 0x21}, DelayMin: 5}},
	"V32-afn04-F10": {c: 0x4A, terminal: "02001234", msa: 2, afn: AFNSetParam, seq: 0xF1,
		dataLen: 33, tp: &Tp{PFC: 0x01, Sent: [4]byte{0x30, 0x22, 0x23, 0x23}, DelayMin: 5}},
	"V33-afn04-F10-deny": {c: 0xA8, terminal: "02001234", msa: 2, afn: AFNConfirm, seq: 0xE1,
		dataLen: 4, ec: &EC{Important: 0x4F},
		tp: &Tp{PFC: 0x01, Sent: [4]byte{0x21, 0x21, 0x23, 0x23}, DelayMin: 5}},
	"V35-afn05-F1-trip": {c: 0x4A, terminal: "0000FFFF", msa: 0x10, group: true,
		afn: AFNControl, seq: 0xE1, dataLen: 5,
		tp: &Tp{PFC: 0x02, Sent: [4]byte{0x56, 0x13, 0x17, 0x04}, DelayMin: 5}},
	"V36-afn05-F2-allow": {c: 0x6A, terminal: "0000FFFF", msa: 0x10, group: true,
		afn: AFNControl, seq: 0xE0, dataLen: 4,
		tp: &Tp{PFC: 0x01, Sent: [4]byte{0x23, 0x12, 0x17, 0x04}, DelayMin: 5}},
	"V37-afn05-F25": {c: 0x4A, terminal: "0000FFFF", msa: 0x10, group: true,
		afn: AFNControl, seq: 0xEB, dataLen: 5,
		tp: &Tp{PFC: 0x0C, Sent: [4]byte{0x25, 0x36, 0x17, 0x04}, DelayMin: 5}},
	"V38-afn05-F33": {c: 0x6A, terminal: "0000FFFF", msa: 0x10, group: true,
		afn: AFNControl, seq: 0xEC, dataLen: 4,
		tp: &Tp{PFC: 0x0D, Sent: [4]byte{0x40, 0x37, 0x17, 0x04}, DelayMin: 5}},
	"V40-reset-req": {c: 0x41, terminal: "02001234", msa: 2, afn: AFNReset, seq: 0xF0,
		dataLen: 4, tp: &Tp{PFC: 0x00, Sent: [4]byte{0x28, 0x53, 0x13, 0x07}, DelayMin: 5}},
	"V41-reset-ack": {c: 0xA0, terminal: "02001234", msa: 2, afn: AFNConfirm, seq: 0xE0,
		dataLen: 4, ec: &EC{Important: 0x11},
		tp: &Tp{PFC: 0x00, Sent: [4]byte{0x27, 0x52, 0x13, 0x07}, DelayMin: 5}},
	"V43-quirk-05F31-2bytePW": {errKind: protocol.ErrBadLength},
	"V44-quirk-0C-F2-CB":      {errKind: protocol.ErrUnknownFunction},
}

func TestDecodeFixtures(t *testing.T) {
	fx := loadFixtures(t)
	if len(fx) != len(linkCases) {
		t.Errorf("fixtures has %d frames, test table %d", len(fx), len(linkCases))
	}
	for name, want := range linkCases {
		t.Run(name, func(t *testing.T) {
			raw := mustFixture(t, fx, name)
			f, err := Decode(raw)
			if want.errKind != nil {
				if !errors.Is(err, want.errKind) {
					t.Fatalf("err = %v, want %v", err, want.errKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Control.Byte(); got != want.c {
				t.Errorf("C = %02X, want %02X", got, want.c)
			}
			if got := f.Address.String(); got != want.terminal {
				t.Errorf("terminal = %s, want %s", got, want.terminal)
			}
			if f.A3.MSA != want.msa || f.A3.Group != want.group {
				t.Errorf("A3 = %+v, want MSA %d group %v", f.A3, want.msa, want.group)
			}
			if f.AFN != want.afn {
				t.Errorf("AFN = %02X, want %02X", f.AFN, want.afn)
			}
			if got := f.Seq.Byte(); got != want.seq {
				t.Errorf("SEQ = %02X, want %02X", got, want.seq)
			}
			if len(f.Data) != want.dataLen {
				t.Errorf("data area = %d bytes, want %d", len(f.Data), want.dataLen)
			}
			if (want.ec != nil) != f.HasEC() || (want.ec != nil && f.EC != *want.ec) {
				t.Errorf("EC = %v %+v, want %+v", f.HasEC(), f.EC, want.ec)
			}
			if (want.tp != nil) != f.HasTp() || (want.tp != nil && f.Tp != *want.tp) {
				t.Errorf("Tp = %v %+v, want %+v", f.HasTp(), f.Tp, want.tp)
			}
			again, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Errorf("re-encoded\n% X\nwant\n% X", again, raw)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	good := []byte{0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02,
		0x78, 0x00, 0x00, 0x01, 0x00, 0xE0, 0x16}
	cases := []struct {
		name string
		at   int
		val  byte
		kind error
	}{
		{"first start", 0, 0x69, protocol.ErrBadStart},
		{"protocol id 11", 1, 0x33, protocol.ErrBadProtocolID},
		{"protocol id 01", 1, 0x31, protocol.ErrBadProtocolID},
		{"L differs", 3, 0x36, protocol.ErrBadLength},
		{"second start", 5, 0x67, protocol.ErrBadStart},
		{"checksum", 18, 0xE1, protocol.ErrBadChecksum},
		{"end byte", 19, 0x17, protocol.ErrBadEnd},
	}
	for _, c := range cases {
		b := append([]byte(nil), good...)
		b[c.at] = c.val
		_, err := Decode(b)
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.kind)
		}
	}
	if _, err := Decode(good[:12]); !errors.Is(err, protocol.ErrShortFrame) {
		t.Errorf("short: err = %v", err)
	}
	if _, err := Decode(append(append([]byte(nil), good...), 0)); !errors.Is(err,
		protocol.ErrBadLength) {
		t.Errorf("trailing byte: err = %v", err)
	}
	small := []byte{0x68, 0x1E, 0x00, 0x1E, 0x00, 0x68}
	if _, err := checkFrame(small, MaxL1); !errors.Is(err, protocol.ErrBadLength) {
		t.Errorf("L1 7: err = %v", err)
	}
}

func TestHeartbeatBuild(t *testing.T) {
	fx := loadFixtures(t)
	addr := protocol.TerminalAddress{A1: 2449, A2: 0x5845}
	clock := time.Date(2019, 7, 3, 17, 41, 17, 0, time.UTC)
	f := Heartbeat(addr, 0, &clock)
	got, err := Encode(&f)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustFixture(t, fx, "V04-heartbeat-2013"); !bytes.Equal(got, want) {
		t.Errorf("2013 heartbeat\n% X\nwant\n% X", got, want)
	}

	old := protocol.TerminalAddress{A1: 171, A2: 0x0822}
	f = Heartbeat(old, 9, nil)
	got, _ = Encode(&f)
	if want := mustFixture(t, fx, "V02-heartbeat-2009"); !bytes.Equal(got, want) {
		t.Errorf("2009 heartbeat\n% X\nwant\n% X", got, want)
	}
	f = Login(old, 8)
	got, _ = Encode(&f)
	if want := mustFixture(t, fx, "V01-login-2009"); !bytes.Equal(got, want) {
		t.Errorf("login\n% X\nwant\n% X", got, want)
	}
	f = Logout(old, 1)
	got, _ = Encode(&f)
	if want := mustFixture(t, fx, "V03-logout"); !bytes.Equal(got, want) {
		t.Errorf("logout\n% X\nwant\n% X", got, want)
	}
}

func TestConfirmBuild(t *testing.T) {
	fx := loadFixtures(t)
	hb, err := Decode(mustFixture(t, fx, "V04-heartbeat-2013"))
	if err != nil {
		t.Fatal(err)
	}
	c := ConfirmAll(hb)
	if c.Control.Byte() != 0x0B || c.A3.MSA != 0 || c.Seq.Byte() != 0x60 {
		t.Errorf("confirm C=%02X MSA=%d SEQ=%02X", c.Control.Byte(), c.A3.MSA, c.Seq.Byte())
	}
	raw, err := Encode(&c)
	if err != nil {
		t.Fatal(err)
	}
	// The captured master used MSA 1; ours sends MSA 0, so only A3 and CS differ.
	want := append([]byte(nil), mustFixture(t, fx, "V05-master-confirm-F1")...)
	want[offA3] = 0
	want[len(want)-2] -= 2
	if !bytes.Equal(raw, want) {
		t.Errorf("confirm\n% X\nwant\n% X", raw, want)
	}

	lg := Login(protocol.TerminalAddress{A1: 4404, A2: 0x0661}, 10)
	each, err := ConfirmLink(&lg)
	if err != nil {
		t.Fatal(err)
	}
	wantData := []byte{0x00, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00}
	if !bytes.Equal(each.Data, wantData) {
		t.Errorf("F3 data % X, want % X", each.Data, wantData)
	}
	if each.Control.Byte() != 0x0B || each.Seq.Byte() != 0x6A {
		t.Errorf("F3 C=%02X SEQ=%02X", each.Control.Byte(), each.Seq.Byte())
	}
}

func TestRequestAndReply(t *testing.T) {
	addr := protocol.TerminalAddress{A1: 200, A2: 0x1234}
	if _, err := NewRequest(addr, 0, AFNClass1, 1, nil); !errors.Is(err,
		protocol.ErrInvalidAddress) {
		t.Errorf("MSA 0: err = %v", err)
	}
	id, _ := IDFor(0, 2)
	req, err := NewRequest(addr, 2, AFNControl, 5, id.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	req.SetTp(NewTp(7, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 5))
	if req.Control.Byte() != 0x4A || !req.Seq.CON || !req.HasPW() {
		t.Errorf("AFN05 request C=%02X CON=%v PW=%v", req.Control.Byte(), req.Seq.CON, req.HasPW())
	}
	raw, err := Encode(&req)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Tp != req.Tp || back.Seq != req.Seq || !bytes.Equal(back.Data, req.Data) {
		t.Errorf("round trip %+v, want %+v", back, req)
	}
	d, h, m, s, err := back.Tp.SentClock()
	if err != nil || d != 2 || h != 3 || m != 4 || s != 5 {
		t.Errorf("Tp clock %d %d:%d:%d %v", d, h, m, s, err)
	}

	ack := ReplyConfirm(back, false)
	ack.Control.ACD = true
	ack.EC = EC{Important: 3, General: 9}
	raw, err = Encode(&ack)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.Control.Byte() != 0xA0 || got.A3.MSA != 2 || got.Seq.Num != 5 || got.EC != ack.EC ||
		got.Tp != req.Tp {
		t.Errorf("deny reply %+v", got)
	}
	if !bytes.Equal(got.Data, []byte{0, 0, 2, 0}) {
		t.Errorf("deny data % X", got.Data)
	}
}

func TestDADT(t *testing.T) {
	cases := []struct {
		pn   uint16
		fn   uint8
		wire [4]byte
	}{
		{1, 1, [4]byte{0x01, 0x01, 0x01, 0x00}},
		{2, 3, [4]byte{0x02, 0x01, 0x04, 0x00}},
		{9, 25, [4]byte{0x01, 0x02, 0x01, 0x03}},
		{8, 31, [4]byte{0x80, 0x01, 0x40, 0x03}},
		{0, 129, [4]byte{0x00, 0x00, 0x01, 0x10}},
		{16, 167, [4]byte{0x80, 0x02, 0x40, 0x14}},
		{2040, 248, [4]byte{0x80, 0xFF, 0x80, 0x1E}},
		{PnAll, 170, [4]byte{0xFF, 0x00, 0x02, 0x15}},
	}
	for _, c := range cases {
		id, err := IDFor(c.pn, c.fn)
		if err != nil {
			t.Fatal(err)
		}
		if got := id.Append(nil); !bytes.Equal(got, c.wire[:]) {
			t.Errorf("p%d F%d = % X, want % X", c.pn, c.fn, got, c.wire)
		}
		back := IDFromWire(c.wire[:])
		pns, err := back.DA.AppendPns(nil)
		if err != nil || len(pns) != 1 || pns[0] != c.pn {
			t.Errorf("% X pns = %v %v", c.wire, pns, err)
		}
		fns, err := back.DT.AppendFns(nil)
		if err != nil || len(fns) != 1 || fns[0] != c.fn {
			t.Errorf("% X fns = %v %v", c.wire, fns, err)
		}
	}
	if _, err := DAForPn(2041); err == nil {
		t.Error("pn 2041 accepted")
	}
	if _, err := DTForFn(249); err == nil {
		t.Error("F249 accepted")
	}
	if _, err := (DA{Bits: 0x03, Group: 0}).AppendPns(nil); err == nil {
		t.Error("DA 03 00 accepted")
	}
	var da DA
	for _, pn := range []uint16{9, 11, 16} {
		if err := da.Add(pn); err != nil {
			t.Fatal(err)
		}
	}
	if err := da.Add(17); err == nil {
		t.Error("p17 merged into group 2")
	}
	pns, _ := da.AppendPns(nil)
	if len(pns) != 3 || pns[0] != 9 || pns[1] != 11 || pns[2] != 16 {
		t.Errorf("pns = %v", pns)
	}
}

// isVariantError reports whether err is one of the checks Decode makes beyond the framer's:
// the AUX length and the uplink master-only function codes.
func isVariantError(err error) bool {
	return errors.Is(err, protocol.ErrBadLength) || errors.Is(err, protocol.ErrUnknownFunction) ||
		errors.Is(err, protocol.ErrInvalidAddress)
}
