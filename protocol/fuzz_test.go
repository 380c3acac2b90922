package protocol

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzDecodeBCD(f *testing.F) {
	f.Add([]byte{0x26, 0x80, 0x22, 0x11})
	f.Add([]byte{0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99, 0x99})
	f.Add([]byte{0x0A})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeBCD(b)
		if err != nil {
			return
		}
		enc := make([]byte, len(b))
		if err := EncodeBCD(enc, v); err != nil {
			t.Fatalf("%d decoded from % X does not encode in %d bytes: %v", v, b, len(b), err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("% X decoded to %d, which encodes to % X", b, v, enc)
		}
	})
}

func FuzzParseMeterAddress(f *testing.F) {
	for _, s := range []string{"000000000161", "161", "AAAAAAAAAAAA", "AAAA12345678",
		"999999999999", "aa0000000001", "12AA34567890", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseMeterAddress(s)
		if err != nil {
			return
		}
		printed := a.String()
		if len(printed) != 12 {
			t.Fatalf("%q printed as %q", s, printed)
		}
		if !strings.EqualFold(strings.Repeat("0", 12-len(s))+s, printed) {
			t.Fatalf("%q printed as %q", s, printed)
		}
		back, err := ParseMeterAddress(printed)
		if err != nil || back != a {
			t.Fatalf("%q printed as %q, which parses to %v, %v", s, printed, back, err)
		}
		wire, err := MeterAddressFromWire(a[:])
		if err != nil || wire != a {
			t.Fatalf("wire bytes % X of %q: %v, %v", a[:], s, wire, err)
		}
		if !a.Matches(a) {
			t.Fatalf("%s does not match itself", a)
		}
	})
}

func FuzzParseTerminalAddress(f *testing.F) {
	for _, s := range []string{"24495845", "0000FFFF", "99990001", "2449abcd", "24490000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseTerminalAddress(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(a.String(), s) {
			t.Fatalf("%q printed as %q", s, a)
		}
		var wire [4]byte
		a.PutWire(wire[:])
		back, err := TerminalAddressFromWire(wire[:])
		if err != nil || back != a {
			t.Fatalf("%q: wire % X reads back as %v, %v", s, wire, back, err)
		}
	})
}
