package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestBCDRoundTrip(t *testing.T) {
	buf := make([]byte, 4)
	if err := EncodeBCD(buf, 11228026); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x26, 0x80, 0x22, 0x11}; !bytes.Equal(buf, want) {
		t.Fatalf("EncodeBCD = % X, want % X", buf, want)
	}
	v, err := DecodeBCD(buf)
	if err != nil || v != 11228026 {
		t.Fatalf("DecodeBCD = %d, %v", v, err)
	}
}

func TestBCDOverflow(t *testing.T) {
	err := EncodeBCD(make([]byte, 2), 12345)
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("err = %v, want ErrInvalidValue", err)
	}
}

func TestDecodeBCDInvalidNibble(t *testing.T) {
	_, err := DecodeBCD([]byte{0x12, 0x3A})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if !errors.Is(err, ErrInvalidBCD) || e.Got != 0x3A || e.Offset != 1 {
		t.Fatalf("err = %+v", e)
	}
	if Code(err) != "invalid_bcd" {
		t.Fatalf("Code = %q", Code(err))
	}
}

func TestMeterAddressParse(t *testing.T) {
	cases := []struct {
		in   string
		wire [6]byte
		out  string
	}{
		{"000000000161", [6]byte{0x61, 0x01, 0, 0, 0, 0}, "000000000161"},
		{"558890213594", [6]byte{0x94, 0x35, 0x21, 0x90, 0x88, 0x55}, "558890213594"},
		{"161", [6]byte{0x61, 0x01, 0, 0, 0, 0}, "000000000161"},
		{"AAAAAAAAAAAA", [6]byte{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}, "AAAAAAAAAAAA"},
		{"AAAA00000161", [6]byte{0x61, 0x01, 0, 0, 0xAA, 0xAA}, "AAAA00000161"},
		{"999999999999", [6]byte{0x99, 0x99, 0x99, 0x99, 0x99, 0x99}, "999999999999"},
	}
	for _, c := range cases {
		a, err := ParseMeterAddress(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if a != MeterAddress(c.wire) {
			t.Errorf("%s: wire % X, want % X", c.in, a[:], c.wire[:])
		}
		if a.String() != c.out {
			t.Errorf("%s: String = %s, want %s", c.in, a, c.out)
		}
	}
	if !BroadcastMeterAddress.IsBroadcast() || !WildcardMeterAddress.IsWildcard() {
		t.Error("broadcast or wildcard predicates wrong")
	}
}

func TestMeterAddressInvalid(t *testing.T) {
	for _, s := range []string{"", "0000000001610", "00000000016X", "0000AA000161", "12AA"} {
		if _, err := ParseMeterAddress(s); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("%q: err = %v, want ErrInvalidAddress", s, err)
		}
	}
}

func TestMeterAddressMatches(t *testing.T) {
	real, _ := ParseMeterAddress("123456789012")
	wild, _ := ParseMeterAddress("AAAA56789012")
	other, _ := ParseMeterAddress("AAAA56789013")
	if !wild.Matches(real) || other.Matches(real) || !real.Matches(real) {
		t.Fatal("Matches wrong")
	}
}

func TestTerminalAddress(t *testing.T) {
	a, err := ParseTerminalAddress("24495845")
	if err != nil {
		t.Fatal(err)
	}
	if a.A1 != 2449 || a.A2 != 0x5845 {
		t.Fatalf("parsed %+v", a)
	}
	var wire [4]byte
	a.PutWire(wire[:])
	if wire != [4]byte{0x49, 0x24, 0x45, 0x58} {
		t.Fatalf("wire % X", wire)
	}
	b, err := TerminalAddressFromWire(wire[:])
	if err != nil || b != a || b.String() != "24495845" {
		t.Fatalf("round trip %v %v", b, err)
	}
	for _, s := range []string{"2449584", "24A95845", "2449ZZZZ", "24490000"} {
		if _, err := ParseTerminalAddress(s); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("%q: err = %v", s, err)
		}
	}
	if _, err := TerminalAddressFromWire([]byte{0x4A, 0x24, 0, 1}); !errors.Is(err, ErrInvalidBCD) {
		t.Errorf("A1 0x4A: err = %v", err)
	}
}

func TestA3(t *testing.T) {
	a := A3FromByte(0x03)
	if a.MSA != 1 || !a.Group || a.Byte() != 0x03 {
		t.Fatalf("A3 %+v", a)
	}
}

// testSpec frames "68 L payload(L) CS 16" for the framer tests.
var testSpec = FrameSpec{
	Start: 0x68, Preamble: 0xFE, HasPreamble: true,
	Check: func(b []byte) (int, error) {
		if len(b) < 2 {
			return 0, nil
		}
		n := int(b[1]) + 4
		if len(b) < n {
			return 0, nil
		}
		if Sum8(b[:n-2]) != b[n-2] {
			return 0, Mismatch(ErrBadChecksum, n-2, int64(b[n-2]), int64(Sum8(b[:n-2])), "CS")
		}
		if b[n-1] != 0x16 {
			return 0, Errorf(ErrBadEnd, n-1, int64(b[n-1]), "end")
		}
		return n, nil
	},
}

func testFrame(payload ...byte) []byte {
	f := append([]byte{0x68, byte(len(payload))}, payload...)
	return append(f, Sum8(f), 0x16)
}

func TestFramerResync(t *testing.T) {
	good := testFrame(0x16, 0x68, 0xFE)
	stream := append([]byte{0xFE, 0xFE, 0x00, 0x68, 0x05}, good...)
	f := NewFramer(testSpec, 1024)
	// Feed one byte at a time: the framer must never cut at 0x16 or 0x68 inside a frame.
	var frames [][]byte
	noise := 0
	for _, c := range stream {
		f.Write([]byte{c})
		for {
			r := f.Next(false)
			noise += r.Noise
			if r.Frame == nil {
				break
			}
			frames = append(frames, append([]byte(nil), r.Frame...))
		}
	}
	if len(frames) != 1 || !bytes.Equal(frames[0], good) {
		t.Fatalf("frames = % X, want % X", frames, good)
	}
	if noise != 3 {
		t.Fatalf("noise = %d, want 3 (00 68 05)", noise)
	}
}

func TestFramerAtEOF(t *testing.T) {
	f := NewFramer(testSpec, 1024)
	f.Write([]byte{0x68, 0x09, 0x01})
	if r := f.Next(false); r.Frame != nil || r.Noise != 0 {
		t.Fatalf("incomplete frame returned %+v", r)
	}
	r := f.Next(true)
	if r.Frame != nil || r.Noise != 3 || !errors.Is(r.Err, ErrShortFrame) {
		t.Fatalf("atEOF result %+v", r)
	}
}

func TestFramerAccept(t *testing.T) {
	f := NewFramer(testSpec, 1024)
	f.Accept = func(b []byte) bool { return b[2] != 0x11 }
	f.Write(testFrame(0x11))
	f.Write(testFrame(0x91))
	r := f.Next(false)
	if r.Frame == nil || r.Frame[2] != 0x91 || r.Noise != 5 {
		t.Fatalf("result %+v", r)
	}
}

func TestFramerMaxBuffered(t *testing.T) {
	f := NewFramer(testSpec, 16)
	f.Write(bytes.Repeat([]byte{0x68, 0xFF}, 20))
	r := f.Next(false)
	if f.Buffered() > 16 || r.Frame != nil {
		t.Fatalf("buffered %d, result %+v", f.Buffered(), r)
	}
}

func FuzzFramer(f *testing.F) {
	f.Add(testFrame(1, 2, 3))
	f.Add([]byte{0xFE, 0x68, 0x68, 0x16})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFramer(testSpec, 512)
		fr.Write(data)
		total := 0
		for {
			r := fr.Next(true)
			total += len(r.Skipped) + len(r.Frame)
			if r.Frame == nil {
				break
			}
			if _, err := testSpec.Check(r.Frame); err != nil {
				t.Fatalf("framer returned an invalid frame % X", r.Frame)
			}
		}
		if total > len(data) {
			t.Fatalf("framer reported %d bytes of %d", total, len(data))
		}
	})
}

func TestFramerPeerNeverCompletes(t *testing.T) {
	// Every candidate stays a valid prefix forever, as with a peer that announces a frame
	// longer than it ever sends: only maxBuffered bounds the memory.
	spec := FrameSpec{Start: 0x68, Check: func([]byte) (int, error) { return 0, nil }}
	const max, chunk = 300, 100
	f := NewFramer(spec, max)
	data := bytes.Repeat([]byte{0x68}, chunk)
	written, reported := 0, 0
	for i := 0; i < 10000; i++ {
		f.Write(data)
		written += chunk
		r := f.Next(false)
		if r.Frame != nil {
			t.Fatalf("write %d: frame % X from a spec that never completes", i, r.Frame)
		}
		reported += len(r.Skipped)
		if f.Buffered() > max {
			t.Fatalf("write %d: %d bytes buffered, max %d", i, f.Buffered(), max)
		}
		if cap(f.buf) > 2*(max+chunk) {
			t.Fatalf("write %d: buffer capacity %d grew past %d", i, cap(f.buf), 2*(max+chunk))
		}
		if i > 2 && !errors.Is(r.Err, ErrFrameTooLarge) {
			t.Fatalf("write %d: error %v, want ErrFrameTooLarge", i, r.Err)
		}
	}
	if reported+f.Buffered() != written {
		t.Fatalf("%d bytes reported skipped and %d buffered of %d written", reported,
			f.Buffered(), written)
	}
}

func TestFramerCheckClaimsTooMuch(t *testing.T) {
	// A broken Check that reports a 10-byte frame in a 3-byte candidate.
	spec := FrameSpec{Start: 0x68, Check: func(b []byte) (int, error) {
		if len(b) < 3 {
			return 0, nil
		}
		return 10, nil
	}}
	f := NewFramer(spec, 64)
	f.Write([]byte{0x68, 0x01, 0x02})
	r := f.Next(false)
	if r.Frame != nil {
		t.Fatalf("frame % X from a candidate of 3 bytes", r.Frame)
	}
	if !errors.Is(r.Err, ErrBadLength) {
		t.Fatalf("error %v, want ErrBadLength", r.Err)
	}
	if r.Noise != 3 {
		t.Fatalf("noise %d, want the 3 bytes", r.Noise)
	}
}
