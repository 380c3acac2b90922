package dlt645

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

func TestVectorsFrame(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			f, err := Decode(v.raw)
			if code, ok := v.expect["err"]; ok {
				if err == nil {
					t.Fatalf("decoded %+v, want error %s", f, code)
				}
				if got := protocol.Code(err); got != code {
					t.Fatalf("error code %q (%v), want %q", got, err, code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := v.expect["addr"]; ok && f.Address.String() != want {
				t.Errorf("address %s, want %s", f.Address, want)
			}
			if want, ok := v.expect["c"]; ok && fmt.Sprintf("%02X", byte(f.Control)) != want {
				t.Errorf("control %02X, want %s", byte(f.Control), want)
			}
			if want, ok := v.expect["l"]; ok && strconv.Itoa(len(f.Data)) != want {
				t.Errorf("L %d, want %s", len(f.Data), want)
			}
			ed, ok := DetectEdition(f)
			if !ok || strconv.Itoa(int(ed)) != v.expect["ed"] {
				t.Errorf("edition %d (%v), want %s", ed, ok, v.expect["ed"])
			}

			// Re-encoding gives the same frame without its preamble.
			enc, err := Append(nil, f, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(v.raw, enc) {
				t.Errorf("re-encoded % X, want suffix of % X", enc, v.raw)
			}
		})
	}
}

func TestDecodeRejectsChecksum(t *testing.T) {
	for _, name := range []string{"N01", "N02"} {
		v := vectorByName(t, name)
		_, err := Decode(v.raw)
		var pe *protocol.Error
		if !errors.As(err, &pe) || !errors.Is(err, protocol.ErrBadChecksum) {
			t.Fatalf("%s: err = %v, want ErrBadChecksum", name, err)
		}
		if pe.Offset != len(v.raw)-2 {
			t.Errorf("%s: offset %d, want %d (the CS byte)", name, pe.Offset, len(v.raw)-2)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := vectorByName(t, "D07").raw
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, protocol.ErrShortFrame},
		{"only preamble", []byte{0xFE, 0xFE}, protocol.ErrShortFrame},
		{"no start", append([]byte{0x00}, good...), protocol.ErrBadStart},
		{"second start", func() []byte {
			b := bytes.Clone(good)
			b[7] = 0x69
			return b
		}(), protocol.ErrBadStart},
		{"short", good[:len(good)-1], protocol.ErrShortFrame},
		{"end byte", func() []byte {
			b := bytes.Clone(good)
			b[len(b)-1] = 0x17
			return b
		}(), protocol.ErrBadEnd},
		{"trailing", append(bytes.Clone(good), 0x00), protocol.ErrBadLength},
	}
	for _, c := range cases {
		if _, err := Decode(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDecodeManyPreambleBytes(t *testing.T) {
	raw := append(bytes.Repeat([]byte{0xFE}, 40), vectorByName(t, "D07").raw...)
	f, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.Address.String() != "000000000001" {
		t.Fatalf("address %s", f.Address)
	}
}

func TestEncodeMaxLength(t *testing.T) {
	f := &Frame{Control: 0x91, Data: bytes.Repeat([]byte{0xE3}, MaxDataLen)}
	enc, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != PreambleLen+MaxFrameLen {
		t.Fatalf("length %d", len(enc))
	}
	back, err := Decode(enc)
	if err != nil || !bytes.Equal(back.Data, f.Data) {
		t.Fatalf("round trip: %v", err)
	}
	f.Data = append(f.Data, 0)
	if _, err := Encode(f); !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("L=256: err = %v", err)
	}
}

func TestDecodeIntoReusesData(t *testing.T) {
	raw := vectorByName(t, "D07").raw
	var f Frame
	if err := DecodeInto(&f, raw); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeInto(&f, raw); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("DecodeInto allocates %.1f times per run", allocs)
	}
}

func TestReadRequestEncoding(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000161")
	enc, err := Encode(NewReadRequest(addr, 0x00010000))
	if err != nil {
		t.Fatal(err)
	}
	if want := vectorByName(t, "D08").raw; !bytes.Equal(enc, want) {
		t.Fatalf("encoded % X, want % X", enc, want)
	}
	addr97, _ := protocol.ParseMeterAddress("000000000003")
	enc, _ = Append(nil, NewReadRequest97(addr97, 0xB611), false)
	if want := vectorByName(t, "D26").raw; !bytes.Equal(enc, want) {
		t.Fatalf("1997 encoded % X, want % X", enc, want)
	}
}

func TestParseReadReply(t *testing.T) {
	f, _ := Decode(vectorByName(t, "D07").raw)
	r, err := ParseReadReply(f, 0x00010000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, []byte{0x26, 0x80, 0x22, 0x11}) || r.Followup {
		t.Fatalf("reply %+v", r)
	}
	_, err = ParseReadReply(f, 0x00020000)
	var pe *protocol.Error
	if !errors.As(err, &pe) || !errors.Is(err, protocol.ErrIdentifierMismatch) {
		t.Fatalf("other DI: err = %v", err)
	}
	if DI(pe.Got) != 0x00010000 || DI(pe.Want) != 0x00020000 {
		t.Fatalf("mismatch error carries %X/%X", pe.Got, pe.Want)
	}
	req, _ := Decode(vectorByName(t, "D06").raw)
	if _, err := ParseReadReply(req, 0x00010000); !errors.Is(err, ErrUnexpectedReply) {
		t.Fatalf("request as reply: err = %v", err)
	}

	f97, _ := Decode(vectorByName(t, "D30").raw)
	r97, err := ParseReadReply97(f97, 0x9010)
	if err != nil || !bytes.Equal(r97.Data, []byte{1, 0, 0, 0}) {
		t.Fatalf("1997 reply %+v %v", r97, err)
	}
	if _, err := ParseReadReply97(f97, 0x9020); !errors.Is(err, protocol.ErrIdentifierMismatch) {
		t.Fatalf("1997 other DI: err = %v", err)
	}
}

func TestAbnormalReadReply(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000161")
	f := NewErrorReply(addr, FuncRead, 0x02, false)
	_, err := ParseReadReply(f, 0x00010000)
	var me *MeterError
	if !errors.As(err, &me) || !errors.Is(err, ErrNoData) || !errors.Is(err, ErrAbnormalReply) {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, ErrPasswordRejected) {
		t.Fatal("bit 1 must not match ErrPasswordRejected")
	}
	if got := me.Bits(); len(got) != 1 || got[0] != "no_requested_data" {
		t.Fatalf("bits %v", got)
	}
}

func TestRelayRequestD18(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("558890213594")
	cmd := &RelayCommand{
		Level:    LevelPlain02,
		Action:   ActionTrip,
		Deadline: time.Date(2021, 7, 9, 23, 59, 59, 0, DefaultLocation()),
	}
	f, err := NewRelayRequest(addr, cmd)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := Encode(f)
	if want := vectorByName(t, "D18").raw; !bytes.Equal(enc, want) {
		t.Fatalf("encoded % X\nwant    % X", enc, want)
	}

	// The same instant given in UTC is sent in Beijing time.
	cmd.Deadline = time.Date(2021, 7, 9, 15, 59, 59, 0, time.UTC)
	f, _ = NewRelayRequest(addr, cmd)
	if enc2, _ := Encode(f); !bytes.Equal(enc2, enc) {
		t.Fatalf("UTC deadline encoded % X", enc2)
	}

	back, err := ParseRelayRequest(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Action != ActionTrip || back.Level != 2 || !back.Deadline.Equal(cmd.Deadline) {
		t.Fatalf("parsed %+v", back)
	}
}

func TestRelayReply(t *testing.T) {
	f, _ := Decode(vectorByName(t, "D19").raw)
	if st, err := ParseRelayReply(f); err != nil || st != 0 {
		t.Fatalf("D19: %v %v", st, err)
	}
	addr := f.Address
	_, err := ParseRelayReply(NewErrorReply(addr, FuncRelayControl, 0x04, false))
	if !errors.Is(err, ErrPasswordRejected) {
		t.Fatalf("DC 04: err = %v", err)
	}
	_, err = ParseRelayReply(NewErrorReply(addr, FuncRelayControl, 0x0020, true))
	if !errors.Is(err, ErrGuaranteeActive) || errors.Is(err, ErrPasswordRejected) {
		t.Fatalf("DC word bit 5: err = %v", err)
	}
	_, err = ParseRelayReply(NewErrorReply(addr, FuncRelayControl, 0x0002, true))
	if !errors.Is(err, ErrSecurity) {
		t.Fatalf("DC word bit 1: err = %v", err)
	}
	st, err := ParseRelayReply(NewReply(addr, FuncRelayControl, false, []byte{0x04, 0x01}))
	if err != nil || st != 0x0104 {
		t.Fatalf("9C status word: %v %v", st, err)
	}
	if b := st.Bits(); len(b) != 2 || b[0] != "direct_trip" || b[1] != "guarantee" {
		t.Fatalf("status bits %v", b)
	}
}

func TestFramerEchoAndNoise(t *testing.T) {
	req := vectorByName(t, "D08").raw
	reply := vectorByName(t, "D09").raw
	var stream []byte
	stream = append(stream, req...)
	stream = append(stream, 0x16, 0x68, 0x00, 0x68)
	stream = append(stream, reply...)

	fr := NewFramer(4*MaxFrameLen, true)
	var frames [][]byte
	noise := 0
	for _, c := range stream {
		fr.Write([]byte{c})
		for {
			r := fr.Next(false)
			noise += r.Noise
			if r.Frame == nil {
				break
			}
			frames = append(frames, bytes.Clone(r.Frame))
		}
	}
	if len(frames) != 1 || !bytes.Equal(frames[0], reply) {
		t.Fatalf("frames % X, want only the reply", frames)
	}
	// The echoed request without its 4 FE (16 bytes) and the 4 noise bytes.
	if noise != 16+4 {
		t.Fatalf("noise %d, want 20", noise)
	}
}

func TestFramerCSIs16(t *testing.T) {
	// D12's checksum is 0x16: a delimiter-driven parser would cut it short.
	raw := vectorByName(t, "D12").raw
	fr := NewFramer(1024, false)
	fr.Write(raw[:len(raw)-1])
	if r := fr.Next(false); r.Frame != nil {
		t.Fatalf("frame cut at the CS byte: % X", r.Frame)
	}
	fr.Write(raw[len(raw)-1:])
	if r := fr.Next(false); !bytes.Equal(r.Frame, raw) {
		t.Fatalf("frame % X", r.Frame)
	}
}

func TestEncryptedRelayD20(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("111111111111")
	cipher, _ := hexBytes("865BAA06CDEA44E07EC90AD8D750C27103C131EB")
	op, _ := ParseOperatorCode("12345678")
	f, err := NewEncryptedRelayRequest(addr, &EncryptedRelayRequest{Operator: op,
		CipherMAC: cipher})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := Encode(f)
	if want := vectorByName(t, "D20").raw; !bytes.Equal(enc, want) {
		t.Fatalf("encoded % X\nwant    % X", enc, want)
	}
	back, err := ParseEncryptedRelayRequest(f)
	if err != nil || !bytes.Equal(back.CipherMAC, cipher) || back.Operator != op {
		t.Fatalf("parsed %+v %v", back, err)
	}
	if _, err := ParseRelayRequest(f, nil); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("plain parse of PA=98: err = %v", err)
	}

	plain, err := RelayPlaintext(ActionTrip, 0,
		time.Date(2010, 7, 22, 18, 56, 17, 0, DefaultLocation()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x1A, 0x00, 0x10, 0x07, 0x22, 0x18, 0x56, 0x17}; !bytes.Equal(plain, want) {
		t.Fatalf("plaintext % X, want % X", plain, want)
	}
	a, n2, dl, err := ParseRelayPlaintext(plain, nil)
	if err != nil || a != ActionTrip || n2 != 0 || dl.Hour() != 18 {
		t.Fatalf("plaintext parsed %v %v %v %v", a, n2, dl, err)
	}
}

func TestIdentityAuthFrames(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("111111111111")
	div, err := DispersionFactor("002241020208")
	if err != nil {
		t.Fatal(err)
	}
	if want := [8]byte{0, 0, 0x00, 0x22, 0x41, 0x02, 0x02, 0x08}; div != want {
		t.Fatalf("div % X", div)
	}
	req := &IdentityAuthRequest{Rand1: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		Cipher1: [8]byte{9, 10, 11, 12, 13, 14, 15, 16}, Div: div}
	f := NewIdentityAuthRequest(addr, req)
	if len(f.Data) != 32 {
		t.Fatalf("L = %d, want 32", len(f.Data))
	}
	if !bytes.Equal(f.Data[:4], []byte{0xFF, 0x00, 0x00, 0x07}) {
		t.Fatalf("DI bytes % X", f.Data[:4])
	}
	back, err := ParseIdentityAuthRequest(f)
	if err != nil || *back != *req {
		t.Fatalf("parsed %+v %v", back, err)
	}
	reply := NewIdentityAuthReply(addr, [4]byte{1, 2, 3, 4}, [8]byte{8, 7, 6, 5, 4, 3, 2, 1})
	s, err := ParseIdentityAuthReply(reply, div)
	if err != nil || s.Rand2 != [4]byte{1, 2, 3, 4} || s.ESAMSerial[0] != 8 {
		t.Fatalf("session %+v %v", s, err)
	}
	_, err = ParseIdentityAuthReply(NewErrorReply(addr, FuncSecurity, 0x0008, true), div)
	var me *MeterError
	if !errors.As(err, &me) || me.Kind != KindSERR || !errors.Is(err, ErrSecurity) {
		t.Fatalf("SERR reply: err = %v", err)
	}
	if b := me.Bits(); len(b) != 1 || b[0] != "identity_authentication_failed" {
		t.Fatalf("SERR bits %v", b)
	}
}

func hexBytes(s string) ([]byte, error) {
	return hex.DecodeString(s)
}
