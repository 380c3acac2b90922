package protocol

import (
	"fmt"
	"strconv"
)

// TerminalAddress is the Q/GDW 376.1 address of a terminal: A1, the region code (行政区划码)
// of four BCD digits sent low byte first, and A2, the terminal address 1–65535 sent as a
// little-endian binary number. It is written A1A2 as four digits and four upper-case hex
// digits: region 2449 with A2 0x5845 is 24495845.
type TerminalAddress struct {
	// A1 is the region code as its four-digit decimal value, 0–9999.
	A1 uint16
	// A2 is the terminal address; 0 is invalid and 0xFFFF with the group flag is broadcast.
	A2 uint16
}

// BroadcastA2 is the A2 value that, with the group flag set, addresses every terminal.
const BroadcastA2 = 0xFFFF

// ParseTerminalAddress parses the A1A2 form: four decimal digits then four hex digits.
func ParseTerminalAddress(s string) (TerminalAddress, error) {
	var t TerminalAddress
	if len(s) != 8 {
		return t, Errorf(ErrInvalidAddress, -1, int64(len(s)), "terminal address %q must be 4 digits of A1 and 4 hex digits of A2", s)
	}
	a1, err := strconv.ParseUint(s[:4], 10, 16)
	if err != nil {
		return t, Errorf(ErrInvalidAddress, -1, 0, "terminal address %q: A1 %q is not 4 decimal digits", s, s[:4])
	}
	a2, err := strconv.ParseUint(s[4:], 16, 16)
	if err != nil {
		return t, Errorf(ErrInvalidAddress, -1, 0, "terminal address %q: A2 %q is not 4 hex digits", s, s[4:])
	}
	if a2 == 0 {
		return t, Errorf(ErrInvalidAddress, -1, 0, "terminal address %q: A2 0000 is invalid", s)
	}
	return TerminalAddress{A1: uint16(a1), A2: uint16(a2)}, nil
}

// String returns the A1A2 form, such as 24495845.
func (t TerminalAddress) String() string { return fmt.Sprintf("%04d%04X", t.A1, t.A2) }

// PutWire writes A1 and A2 in wire order into the first four bytes of dst.
func (t TerminalAddress) PutWire(dst []byte) {
	dst[0] = ToBCD(int(t.A1 % 100))
	dst[1] = ToBCD(int(t.A1 / 100 % 100))
	dst[2] = byte(t.A2)
	dst[3] = byte(t.A2 >> 8)
}

// TerminalAddressFromWire reads A1 and A2 from the first four bytes of b. A1 bytes that are
// not BCD fail with ErrInvalidBCD.
func TerminalAddressFromWire(b []byte) (TerminalAddress, error) {
	if len(b) < 4 {
		return TerminalAddress{}, Errorf(ErrShortFrame, -1, int64(len(b)), "terminal address needs 4 bytes")
	}
	lo, err := FromBCD(b[0])
	if err != nil {
		return TerminalAddress{}, Errorf(ErrInvalidBCD, 0, int64(b[0]), "A1 low byte")
	}
	hi, err := FromBCD(b[1])
	if err != nil {
		return TerminalAddress{}, Errorf(ErrInvalidBCD, 1, int64(b[1]), "A1 high byte")
	}
	return TerminalAddress{A1: uint16(hi*100 + lo), A2: uint16(b[2]) | uint16(b[3])<<8}, nil
}

// A3 is the third address byte of Q/GDW 376.1: the group flag (D0) and the master station
// address MSA (D7–D1, 0–127). Frames a terminal starts carry MSA 0; frames a master starts
// carry a non-zero MSA that the terminal echoes.
type A3 struct {
	MSA   uint8
	Group bool
}

// Byte returns the wire byte of a.
func (a A3) Byte() byte {
	b := a.MSA << 1
	if a.Group {
		b |= 1
	}
	return b
}

// A3FromByte returns the A3 fields of the wire byte b.
func A3FromByte(b byte) A3 { return A3{MSA: b >> 1, Group: b&1 == 1} }
