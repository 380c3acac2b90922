package dlt645

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/feegate/feegate/protocol"
)

// codecError returns the *protocol.Error inside err, failing the test when there is none.
func codecError(t *testing.T, err error) *protocol.Error {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v carries no *protocol.Error", err)
	}
	return pe
}

func TestReadValueErrorOffsetInFrame(t *testing.T) {
	addr := protocol.MeterAddress{0x01}
	cases := []struct {
		name   string
		di     DI
		value  []byte
		kind   error
		offset int // in the frame without preamble: header, 4 DI bytes, then the value
	}{
		// Byte 2 of the energy value is 0x2A, not two BCD digits.
		{"bcd", 0x00010000, []byte{0x26, 0x80, 0x2A, 0x11}, protocol.ErrInvalidBCD, 16},
		// The day byte (wire byte 3 of ssmmhhDDMMYY) is 0x3A.
		{"time", 0x1D000101, []byte{0x00, 0x00, 0x00, 0x3A, 0x01, 0x21},
			protocol.ErrInvalidBCD, 17},
		// The month byte is 0x13, valid BCD but out of range.
		{"time range", 0x1D000101, []byte{0x00, 0x00, 0x00, 0x01, 0x13, 0x21},
			protocol.ErrInvalidValue, 18},
		// The second member of the tariff block has 0xF0 in its byte 1.
		{"block member", 0x0001FF00, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x00, 0x00},
			protocol.ErrInvalidBCD, 19},
	}
	for _, tc := range cases {
		data := make([]byte, 4, 4+len(tc.value))
		tc.di.put(data)
		f := NewReply(addr, FuncRead, false, append(data, tc.value...))
		_, _, err := ReadValue(f, tc.di)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.kind)
			continue
		}
		if pe := codecError(t, err); pe.Offset != tc.offset {
			t.Errorf("%s: offset %d, want %d (%v)", tc.name, pe.Offset, tc.offset, err)
		}
	}
}

func TestReadValue97ErrorOffsetInFrame(t *testing.T) {
	// 9010 energy with 0xB0 in byte 3: header, 2 DI bytes, then byte 3 of the value.
	f := NewReply(protocol.MeterAddress{0x01}, Func97Read, false,
		[]byte{0x10, 0x90, 0x00, 0x00, 0x00, 0xB0})
	_, _, err := ReadValue97(f, 0x9010)
	if pe := codecError(t, err); pe.Offset != 15 {
		t.Fatalf("offset %d, want 15 (%v)", pe.Offset, err)
	}
}

func TestDecimalLargeScale(t *testing.T) {
	texts := []struct {
		d    Decimal
		want string
	}{
		{Decimal{Units: 5, Scale: 12}, "0.000000000005"},
		{Decimal{Units: -123, Scale: 20}, "-0.00000000000000000123"},
		{Decimal{Units: 123456, Scale: 3}, "123.456"},
		{Decimal{Units: -5, Scale: 1}, "-0.5"},
		{Decimal{Units: math.MinInt64, Scale: 0}, "-9223372036854775808"},
		{Decimal{Units: math.MinInt64, Scale: 2}, "-92233720368547758.08"},
	}
	for _, tc := range texts {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%#v prints %q, want %q", tc.d, got, tc.want)
		}
	}

	if r, ok := (Decimal{Units: 5}).Rescale(12); !ok || r.Units != 5e12 {
		t.Errorf("5 at scale 12 = %v %v, want 5000000000000", r, ok)
	}
	if _, ok := (Decimal{Units: 1}).Rescale(19); ok {
		t.Errorf("1 at scale 19 overflows int64 but Rescale reported success")
	}
	if r, ok := (Decimal{Units: 0, Scale: 30}).Rescale(0); !ok || r.Units != 0 {
		t.Errorf("0 at scale 30 to scale 0 = %v %v", r, ok)
	}
	if _, ok := (Decimal{Units: 7, Scale: 25}).Rescale(0); ok {
		t.Errorf("7e-25 to scale 0 loses digits but Rescale reported success")
	}
	if (Decimal{Units: 1}).Equal(Decimal{Units: 1, Scale: 25}) {
		t.Errorf("1 equals 1e-25")
	}
	if got := (Decimal{Units: 25, Scale: 12}).Float64(); got != 25e-12 {
		t.Errorf("Float64 = %g, want 2.5e-11", got)
	}
}

func TestDecodeValueBCDSizeLimit(t *testing.T) {
	// A 10-byte BCD row built by a caller: the high byte 0x12 must not be dropped.
	long := &Item{Format: FormatBCD, Size: 10, Name: "long"}
	value := []byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x12}
	if v, err := DecodeValue(long, value); !errors.Is(err, protocol.ErrBadLength) {
		t.Errorf("10-byte BCD decoded to %v, %v; want ErrBadLength", v.Data, err)
	}
	empty := &Item{Format: FormatBCDSigned, Size: 0, Name: "empty"}
	if _, err := DecodeValue(empty, nil); !errors.Is(err, protocol.ErrBadLength) {
		t.Errorf("empty signed BCD: %v, want ErrBadLength", err)
	}
}

// readReplies returns the first reply and n follow-up replies of a read of di, the last
// without the follow-up bit, each carrying one value byte equal to its SEQ.
func readReplies(addr protocol.MeterAddress, di DI, n int) []*Frame {
	first := make([]byte, 4, 5)
	di.put(first)
	out := []*Frame{NewReply(addr, FuncRead, n > 0, append(first, 0xEE))}
	for seq := 1; seq <= n; seq++ {
		data := make([]byte, 4, 6)
		di.put(data)
		out = append(out, NewReply(addr, FuncReadFollowup, seq < n,
			append(data, byte(seq), byte(seq))))
	}
	return out
}

func TestReadAssemblyRejectsOtherMeter(t *testing.T) {
	addr := protocol.MeterAddress{0x01}
	a, _ := NewReadAssembly(addr, 0x00010000)
	late := readReplies(protocol.MeterAddress{0x02}, 0x00010000, 0)[0]
	if _, err := a.Add(late); !errors.Is(err, protocol.ErrAddressMismatch) {
		t.Fatalf("reply from another meter: %v, want ErrAddressMismatch", err)
	}
	if a.Frames != 0 || a.Done() {
		t.Fatalf("rejected reply changed the assembly: %d frames, done %v", a.Frames, a.Done())
	}
	if _, err := a.Add(readReplies(addr, 0x00010000, 0)[0]); err != nil || !a.Done() {
		t.Fatalf("reply from the meter after the rejection: %v, done %v", err, a.Done())
	}

	wild, _ := NewReadAssembly(protocol.MeterAddress{0x01, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA},
		0x00010000)
	if _, err := wild.Add(readReplies(addr, 0x00010000, 0)[0]); err != nil {
		t.Fatalf("wildcard read rejected its meter: %v", err)
	}
}

func TestReadAssemblySEQ(t *testing.T) {
	addr := protocol.MeterAddress{0x01}
	replies := readReplies(addr, 0x00010000, 3)
	a, _ := NewReadAssembly(addr, 0x00010000)
	next, err := a.Add(replies[0])
	if err != nil || next == nil || next.Data[4] != 1 {
		t.Fatalf("first reply: next %v, %v", next, err)
	}
	// SEQ 2 before SEQ 1 (out of order or SEQ 1 missing) is rejected.
	if _, err := a.Add(replies[2]); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("SEQ 2 in place of 1: %v, want ErrInvalidValue", err)
	}
	if _, err := a.Add(replies[1]); err != nil {
		t.Fatalf("SEQ 1: %v", err)
	}
	// A repeated SEQ 1 is rejected and adds no data.
	if _, err := a.Add(replies[1]); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("duplicate SEQ 1: %v, want ErrInvalidValue", err)
	}
	for _, f := range replies[2:] {
		if _, err := a.Add(f); err != nil {
			t.Fatalf("SEQ %d: %v", f.Data[len(f.Data)-1], err)
		}
	}
	if !a.Done() || a.Frames != 4 || string(a.Data) != "\xEE\x01\x02\x03" {
		t.Fatalf("done %v, %d frames, data % X", a.Done(), a.Frames, a.Data)
	}
	if _, err := a.Add(replies[3]); !errors.Is(err, ErrUnexpectedReply) {
		t.Fatalf("reply after the end: %v, want ErrUnexpectedReply", err)
	}
}

func TestReadAssemblyStopsAtSEQ255(t *testing.T) {
	// A meter that sets the follow-up bit forever: SEQ 255 is the last frame one byte can
	// request, so a 255th follow-up that still announces more is rejected.
	addr := protocol.MeterAddress{0x01}
	a, _ := NewReadAssembly(addr, 0x00010000)
	replies := readReplies(addr, 0x00010000, 256)
	for i, f := range replies[:255] {
		if _, err := a.Add(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	_, err := a.Add(replies[255])
	if !errors.Is(err, protocol.ErrFrameTooLarge) {
		t.Fatalf("SEQ 255 with the follow-up bit: %v, want ErrFrameTooLarge", err)
	}
	if a.Frames != 255 || a.Done() {
		t.Fatalf("%d frames, done %v after the rejection", a.Frames, a.Done())
	}
}

func TestFramerTruncatedEchoHidesReply(t *testing.T) {
	// The adapter echoes only the first 12 bytes of a 32-byte write request, then the
	// meter's 12-byte acknowledgement arrives. The echo announces L=20, so it stays a
	// valid prefix and the framer waits for its 32 bytes before it looks further.
	addr := protocol.MeterAddress{0x01}
	req, err := Append(nil, NewRequest(addr, FuncWrite, make([]byte, 20)), false)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := Append(nil, NewReply(addr, FuncWrite, false, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	fr := NewFramer(2*MaxFrameLen, true)
	fr.Write(req[:12])
	fr.Write(ack)
	if r := fr.Next(false); r.Frame != nil {
		t.Fatalf("framer found % X behind the truncated echo; update the NOTE on "+
			"protocol.Scan", r.Frame)
	}
	// Once the line is quiet, atEOF skips the truncated echo and finds the reply.
	r := fr.Next(true)
	if !bytes.Equal(r.Frame, ack) {
		t.Fatalf("frame % X at end of input, want % X", r.Frame, ack)
	}
	if r.Noise != 12 {
		t.Fatalf("noise %d, want the 12 echoed bytes", r.Noise)
	}
}

func TestDigitsRejectInvalidBCD(t *testing.T) {
	number, _ := Lookup(0x04000402)
	// The meter number 00224102020F has F in its lowest digit.
	_, err := DecodeValue(number, []byte{0x0F, 0x02, 0x02, 0x41, 0x22, 0x00})
	if !errors.Is(err, protocol.ErrInvalidBCD) {
		t.Fatalf("meter number with digit F: %v, want ErrInvalidBCD", err)
	}
	if pe := codecError(t, err); pe.Offset != 0 || pe.Got != 0x0F {
		t.Fatalf("offset %d value %X, want offset 0 value F", pe.Offset, pe.Got)
	}
	if _, err := EncodeValue(nil, number, "00224102020F"); !errors.Is(err,
		protocol.ErrInvalidValue) {
		t.Fatalf("encoding meter number 00224102020F: %v, want ErrInvalidValue", err)
	}
	v, err := DecodeValue(number, []byte{0x08, 0x02, 0x02, 0x41, 0x22, 0x00})
	if err != nil || v.Data != "002241020208" {
		t.Fatalf("meter number 002241020208 decoded to %v, %v", v.Data, err)
	}
}

func TestParseFreezeRequestRanges(t *testing.T) {
	addr := protocol.MeterAddress{0x01}
	cases := []struct {
		data   []byte // mm hh DD MM
		offset int
	}{
		{[]byte{0x60, 0x00, 0x01, 0x01}, HeaderLen},     // minute 60
		{[]byte{0x00, 0x24, 0x01, 0x01}, HeaderLen + 1}, // hour 24
		{[]byte{0x00, 0x00, 0x00, 0x01}, HeaderLen + 2}, // day 0
		{[]byte{0x00, 0x00, 0x01, 0x13}, HeaderLen + 3}, // month 13
	}
	for _, tc := range cases {
		ft, err := ParseFreezeRequest(NewRequest(addr, FuncFreeze, tc.data))
		if !errors.Is(err, protocol.ErrInvalidValue) {
			t.Errorf("% X decoded to %+v, %v; want ErrInvalidValue", tc.data, ft, err)
			continue
		}
		if pe := codecError(t, err); pe.Offset != tc.offset {
			t.Errorf("% X: offset %d, want %d", tc.data, pe.Offset, tc.offset)
		}
	}
	every := FreezeTime{Minute: FreezeEvery, Hour: FreezeEvery, Day: FreezeEvery,
		Month: FreezeEvery}
	if ft, err := ParseFreezeRequest(NewFreezeRequest(addr, every)); err != nil || ft != every {
		t.Fatalf("instantaneous freeze decoded to %+v, %v", ft, err)
	}
	daily := FreezeTime{Minute: 0, Hour: 0, Day: FreezeEvery, Month: FreezeEvery}
	if ft, err := ParseFreezeRequest(NewFreezeRequest(addr, daily)); err != nil || ft != daily {
		t.Fatalf("daily freeze decoded to %+v, %v", ft, err)
	}
}

func TestMeterErrorEveryValue(t *testing.T) {
	addr := protocol.MeterAddress{0x01}
	type sentinelBits struct {
		err  error
		mask uint16
	}
	cases := []struct {
		ed       Edition
		fn       Function
		wide     bool
		kind     ErrorKind
		wordBits int // the low bits tried in every combination
		rules    []sentinelBits
	}{
		{Edition2007, FuncRead, false, KindERR2007, 8,
			[]sentinelBits{{ErrNoData, 1 << 1}, {ErrPasswordRejected, 1 << 2}}},
		{Edition1997, Func97Read, false, KindERR1997, 8,
			[]sentinelBits{{ErrNoData, 1 << 1}, {ErrPasswordRejected, 1 << 2}}},
		{Edition2007, FuncSecurity, true, KindSERR, 10,
			[]sentinelBits{{ErrSecurity, 1<<2 | 1<<3}, {ErrMeterSuspended, 1 << 8}}},
		{Edition2007, FuncRelayControl, true, KindRelayError, 10,
			[]sentinelBits{{ErrMeterSuspended, 1 << 0}, {ErrSecurity, 1<<1 | 1<<3},
				{ErrPasswordRejected, 1 << 2}, {ErrDeadlineInvalid, 1 << 4},
				{ErrGuaranteeActive, 1<<5 | 1<<6}}},
	}
	for _, tc := range cases {
		values := make([]int, 0, 1<<tc.wordBits+16)
		for v := 0; v < 1<<tc.wordBits; v++ {
			values = append(values, v)
		}
		if tc.wide {
			// Bits above the tables' last named bit, alone and all together.
			for b := tc.wordBits; b < 16; b++ {
				values = append(values, 1<<b)
			}
			values = append(values, 0xFFFF)
		}
		for _, v := range values {
			f := NewErrorReply(addr, tc.fn, uint16(v), tc.wide)
			err := ReplyError(tc.ed, f)
			var me *MeterError
			if !errors.As(err, &me) || me.Kind != tc.kind || me.Value != uint16(v) {
				t.Fatalf("%v %02X value %04X: %#v", tc.ed, byte(tc.fn), v, err)
			}
			if !errors.Is(err, ErrAbnormalReply) {
				t.Fatalf("value %04X does not match ErrAbnormalReply", v)
			}
			set := 0
			for b := uint16(v); b != 0; b &= b - 1 {
				set++
			}
			if bits := me.Bits(); len(bits) != set || len(me.ChineseBits()) != set {
				t.Fatalf("%v value %04X: bits %v for %d set bits", tc.kind, v, bits, set)
			}
			for _, r := range tc.rules {
				if want := uint16(v)&r.mask != 0; errors.Is(err, r.err) != want {
					t.Fatalf("%v value %04X: errors.Is(%v) = %v", tc.kind, v, r.err, !want)
				}
			}
			if me.Error() == "" || me.Code() == "" {
				t.Fatalf("value %04X: empty message or code", v)
			}
		}
	}
}

func TestFramerSmallBufferKeepsLongestFrame(t *testing.T) {
	// A caller asks for 64 bytes of buffer; a reply with L=255 must still come through.
	long, err := Append(nil, NewReply(protocol.MeterAddress{0x01}, FuncRead, false,
		bytes.Repeat([]byte{0x16}, MaxDataLen)), true)
	if err != nil {
		t.Fatal(err)
	}
	fr := NewFramer(64, true)
	var got []byte
	for off := 0; off < len(long); off += 16 {
		fr.Write(long[off:min(off+16, len(long))])
		if r := fr.Next(false); r.Frame != nil {
			got = r.Frame
		}
	}
	if !bytes.Equal(got, long[PreambleLen:]) {
		t.Fatalf("framer with a 64-byte limit returned % X", got)
	}
}
