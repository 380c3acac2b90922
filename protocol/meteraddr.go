package protocol

import (
	"encoding/hex"
	"strings"
)

// MeterAddress is a DL/T 645 communication address in wire order: six bytes of two BCD
// digits each, low byte first. Printed, it reads high digit first: the meter 000000000161 is
// sent as 61 01 00 00 00 00.
//
// Two byte values are not digits: 0xAA is the wildcard of abbreviated addressing (缩位寻址),
// filling the high bytes of an address read or written by the 0x13 and 0x15 functions, and
// an address of all 0x99 is the broadcast address, to which no meter replies.
type MeterAddress [6]byte

var (
	// WildcardMeterAddress is the all-wildcard address AAAAAAAAAAAA.
	WildcardMeterAddress = MeterAddress{0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
	// BroadcastMeterAddress is the broadcast address 999999999999.
	BroadcastMeterAddress = MeterAddress{0x99, 0x99, 0x99, 0x99, 0x99, 0x99}
)

// ParseMeterAddress parses 12 characters as printed, high digit first. Each pair is two
// decimal digits or "AA"; wildcard pairs may only fill the high end. Spaces are not allowed;
// a shorter all-digit string is padded with zeros on the left, as meters print it.
func ParseMeterAddress(s string) (MeterAddress, error) {
	var a MeterAddress
	if len(s) == 0 || len(s) > 12 {
		return a, Errorf(ErrInvalidAddress, -1, int64(len(s)), "meter address %q must have 1 to 12 digits", s)
	}
	if len(s) < 12 {
		if strings.ContainsAny(s, "aA") {
			return a, Errorf(ErrInvalidAddress, -1, int64(len(s)), "wildcard meter address %q must have 12 characters", s)
		}
		s = strings.Repeat("0", 12-len(s)) + s
	}
	wildcardEnded := false
	for i := 0; i < 6; i++ {
		pair := s[2*i : 2*i+2]
		var b byte
		switch {
		case pair == "AA" || pair == "aa":
			if wildcardEnded {
				return a, Errorf(ErrInvalidAddress, -1, 0, "meter address %q: wildcard AA only fills the high digits", s)
			}
			b = 0xAA
		case isDigit(pair[0]) && isDigit(pair[1]):
			wildcardEnded = true
			b = (pair[0]-'0')<<4 | (pair[1] - '0')
		default:
			return a, Errorf(ErrInvalidAddress, -1, 0, "meter address %q: %q is neither two digits nor AA", s, pair)
		}
		a[5-i] = b
	}
	return a, nil
}

// MeterAddressFromWire returns the address held by the six wire-order bytes b. It fails when
// a byte is neither two BCD digits nor the wildcard 0xAA.
func MeterAddressFromWire(b []byte) (MeterAddress, error) {
	var a MeterAddress
	if len(b) != 6 {
		return a, Errorf(ErrBadLength, -1, int64(len(b)), "meter address needs 6 bytes")
	}
	for i, c := range b {
		if c != 0xAA && !IsBCD(c) {
			return a, Errorf(ErrInvalidBCD, i, int64(c), "meter address byte %d", i)
		}
	}
	copy(a[:], b)
	return a, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// String returns the address as printed: 12 characters, high digit first.
func (a MeterAddress) String() string {
	var buf [12]byte
	for i := 0; i < 6; i++ {
		hex.Encode(buf[2*i:2*i+2], a[5-i:6-i])
	}
	return strings.ToUpper(string(buf[:]))
}

// IsBroadcast reports whether a is 999999999999.
func (a MeterAddress) IsBroadcast() bool { return a == BroadcastMeterAddress }

// IsWildcard reports whether any byte of a is the wildcard 0xAA.
func (a MeterAddress) IsWildcard() bool {
	for _, c := range a {
		if c == 0xAA {
			return true
		}
	}
	return false
}

// Matches reports whether a reply from the meter at real could answer a request sent to a:
// the addresses are equal, or a is a wildcard whose digit bytes equal real's.
func (a MeterAddress) Matches(real MeterAddress) bool {
	for i := range a {
		if a[i] != 0xAA && a[i] != real[i] {
			return false
		}
	}
	return true
}
