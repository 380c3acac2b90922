package gw376

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// Format is one data format of a data-unit field: a BIN number, a bit string, one of the
// Appendix A formats, ASCII text or raw bytes. Decoded values are JSON-ready: json.Number for
// numbers (with the exact decimal digits), string for times, addresses and text, nil when
// the bytes are invalid.
type Format struct {
	// Name is the format as the standard writes it, such as "A.14", "BIN" or "BS8".
	Name string
	// Size is the length in bytes; 0 marks a variable-length format.
	Size int
	// list marks a format that decodes to a list of entries.
	list bool
	dec  func(b []byte) decoded
	enc  func(dst []byte, v any) ([]byte, error)
}

// decoded is the result of a format's decoder for one field.
type decoded struct {
	n      int // bytes consumed, for variable-length formats
	value  any
	fields []Node
	items  []Node
	note   string
	unit   string
	err    error
}

// bcdNumber describes a BCD number format: size bytes, scale digits after the point, and
// the bits of the last byte that hold the sign and the unit flag G (A.3) instead of digits.
type bcdNumber struct {
	size     int
	scale    int
	signMask byte
	gMask    byte
	topMask  byte // digit bits of the last byte
}

func (p bcdNumber) decode(b []byte) decoded {
	var tmp [8]byte
	copy(tmp[:], b[:p.size])
	last := tmp[p.size-1]
	tmp[p.size-1] = last & p.topMask
	v, err := protocol.DecodeBCD(tmp[:p.size])
	if err != nil {
		return decoded{err: err}
	}
	neg := p.signMask != 0 && last&p.signMask != 0
	d := decimalString(neg, v, p.scale)
	out := decoded{value: json.Number(d)}
	if p.gMask != 0 && last&p.gMask != 0 {
		out.note = "G=1: unit MWh or yuan"
		out.unit = "G1"
	}
	return out
}

func (p bcdNumber) encode(dst []byte, v any) ([]byte, error) {
	neg, digits, err := parseDecimal(v, p.scale)
	if err != nil {
		return dst, err
	}
	if neg && p.signMask == 0 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"negative value %v in an unsigned format", v)
	}
	buf := make([]byte, p.size)
	if err := protocol.EncodeBCD(buf, digits); err != nil {
		return dst, err
	}
	if buf[p.size-1]&^p.topMask != 0 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(digits),
			"value %v needs more digits than the format has", v)
	}
	if neg {
		buf[p.size-1] |= p.signMask
	}
	return append(dst, buf...), nil
}

func numberFormat(name string, p bcdNumber) *Format {
	if p.topMask == 0 {
		p.topMask = 0xFF
	}
	return &Format{Name: name, Size: p.size, dec: p.decode, enc: p.encode}
}

// decimalString writes v with scale digits after the point.
func decimalString(neg bool, v uint64, scale int) string {
	s := strconv.FormatUint(v, 10)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseDecimal reads a number given as json.Number, string, integer or float and returns its
// sign and its digits scaled by 10^scale. Digits beyond scale must be zero.
func parseDecimal(v any, scale int) (bool, uint64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case uint8:
		s = strconv.Itoa(int(x))
	case uint16:
		s = strconv.Itoa(int(x))
	case uint32:
		s = strconv.FormatUint(uint64(x), 10)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return false, 0, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"value %v (%T) is not a number", v, v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return false, 0, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"value %v has more than %d decimals", v, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	digits := intPart + frac
	if digits == "" {
		digits = "0"
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return false, 0, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"value %v is not a decimal number", v)
	}
	return neg && n != 0, n, nil
}

// binFormat is an unsigned little-endian binary number of size bytes.
func binFormat(size int) *Format {
	name := "BIN"
	return &Format{
		Name: name,
		Size: size,
		dec: func(b []byte) decoded {
			return decoded{value: json.Number(strconv.FormatUint(leUint(b[:size]), 10))}
		},
		enc: func(dst []byte, v any) ([]byte, error) {
			neg, n, err := parseDecimal(v, 0)
			if err != nil {
				return dst, err
			}
			if neg || (size < 8 && n >= 1<<(8*size)) {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(n),
					"value %v does not fit %d unsigned bytes", v, size)
			}
			for i := 0; i < size; i++ {
				dst = append(dst, byte(n>>(8*i)))
			}
			return dst, nil
		},
	}
}

// bitsFormat is a bit string BSn of size bytes, decoded as its number with the set bits
// listed in the note (D0 is bit 0 of the first byte).
func bitsFormat(size int) *Format {
	f := binFormat(size)
	f.Name = "BS" + strconv.Itoa(8*size)
	inner := f.dec
	f.dec = func(b []byte) decoded {
		d := inner(b)
		d.note = setBits(leUint(b[:size]), 8*size)
		return d
	}
	return f
}

func setBits(v uint64, n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		if v&(1<<i) != 0 {
			parts = append(parts, "D"+strconv.Itoa(i))
		}
	}
	if len(parts) == 0 {
		return "no bit set"
	}
	return "set: " + strings.Join(parts, " ")
}

func leUint(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// a2Format is A.2: three BCD digits with a sign and a power of ten from 10^4 to 10^-3.
var a2Format = &Format{
	Name: "A.2",
	Size: 2,
	dec: func(b []byte) decoded {
		lo, err1 := protocol.FromBCD(b[0])
		hi := int(b[1] & 0x0F)
		if err1 != nil || hi > 9 {
			return decoded{err: protocol.Errorf(protocol.ErrInvalidBCD, -1,
				int64(b[0])|int64(b[1])<<8,
				"A.2 digits")}
		}
		g := int(b[1] >> 5)
		exp := 4 - g
		digits := uint64(hi*100 + lo)
		var s string
		if exp >= 0 {
			s = strconv.FormatUint(digits, 10) + strings.Repeat("0", exp)
			if digits == 0 {
				s = "0"
			}
		} else {
			s = decimalString(false, digits, -exp)
		}
		if b[1]&0x10 != 0 && digits != 0 {
			s = "-" + s
		}
		return decoded{value: json.Number(s)}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		neg, n, err := parseDecimal(v, 3)
		if err != nil {
			return dst, err
		}
		// n is the value × 10^3. Drop trailing zeros into the power of ten, so that 1.5
		// is written 15 × 10^-1 and 0 as 0 × 10^0.
		exp := -3
		if n == 0 {
			exp = 0
		}
		for n != 0 && n%10 == 0 && exp < 4 {
			n /= 10
			exp++
		}
		if n > 999 || exp > 4 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"value %v does not fit A.2 (3 digits, 10^-3 to 10^4)", v)
		}
		b1 := byte(4-exp)<<5 | byte(n/100)
		if neg {
			b1 |= 0x10
		}
		return append(dst, protocol.ToBCD(int(n%100)), b1), nil
	},
}

// a3Format is A.3: seven BCD digits with a sign bit and the unit flag G (kWh or li when
// G=0, MWh or yuan when G=1). The value is given in the unit G selects.
var a3Format = numberFormat("A.3", bcdNumber{size: 4, signMask: 0x10, gMask: 0x40, topMask: 0x0F})

// Appendix A number formats.
var (
	a4Format  = numberFormat("A.4", bcdNumber{size: 1, signMask: 0x80, topMask: 0x7F})
	a5Format  = numberFormat("A.5", bcdNumber{size: 2, scale: 1, signMask: 0x80, topMask: 0x7F})
	a6Format  = numberFormat("A.6", bcdNumber{size: 2, scale: 2, signMask: 0x80, topMask: 0x7F})
	a7Format  = numberFormat("A.7", bcdNumber{size: 2, scale: 1})
	a8Format  = numberFormat("A.8", bcdNumber{size: 2})
	a9Format  = numberFormat("A.9", bcdNumber{size: 3, scale: 4, signMask: 0x80, topMask: 0x7F})
	a10Format = numberFormat("A.10", bcdNumber{size: 3})
	a11Format = numberFormat("A.11", bcdNumber{size: 4, scale: 2})
	a13Format = numberFormat("A.13", bcdNumber{size: 4, scale: 4})
	a14Format = numberFormat("A.14", bcdNumber{size: 5, scale: 4})
	a22Format = numberFormat("A.22", bcdNumber{size: 1, scale: 1})
	a23Format = numberFormat("A.23", bcdNumber{size: 3, scale: 4})
	a25Format = numberFormat("A.25", bcdNumber{size: 3, scale: 3, signMask: 0x80, topMask: 0x7F})
	a26Format = numberFormat("A.26", bcdNumber{size: 2, scale: 3})
	a27Format = numberFormat("A.27", bcdNumber{size: 4})

	bin1 = binFormat(1)
	bin2 = binFormat(2)
	bin4 = binFormat(4)
	bs8  = bitsFormat(1)
	bs16 = bitsFormat(2)
)

// a12Format is A.12: a 12-digit BCD address such as a meter address, low byte first.
var a12Format = &Format{
	Name: "A.12",
	Size: 6,
	dec: func(b []byte) decoded {
		for _, c := range b[:6] {
			if !protocol.IsBCD(c) {
				return decoded{err: protocol.Errorf(protocol.ErrInvalidBCD, -1, int64(c),
					"A.12 address")}
			}
		}
		var a protocol.MeterAddress
		copy(a[:], b)
		return decoded{value: a.String()}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		s, ok := v.(string)
		if !ok {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"address %v is not a string", v)
		}
		a, err := protocol.ParseMeterAddress(s)
		if err != nil {
			return dst, err
		}
		return append(dst, a[:]...), nil
	},
}

// rawFormat is size bytes shown as upper-case hex, for fields whose meaning is not decoded
// (passwords, reserved bytes).
func rawFormat(size int) *Format {
	return &Format{
		Name: "BIN",
		Size: size,
		dec: func(b []byte) decoded {
			return decoded{value: strings.ToUpper(hex.EncodeToString(b[:size]))}
		},
		enc: func(dst []byte, v any) ([]byte, error) {
			b, err := hexValue(v)
			if err != nil {
				return dst, err
			}
			if len(b) != size {
				return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(b)),
					"field needs %d bytes", size)
			}
			return append(dst, b...), nil
		},
	}
}

// asciiFormat is size bytes of ASCII text, trailing NUL and space bytes trimmed.
func asciiFormat(size int) *Format {
	return &Format{
		Name: "ASCII",
		Size: size,
		dec: func(b []byte) decoded {
			return decoded{value: strings.TrimRight(string(b[:size]), "\x00 ")}
		},
		enc: func(dst []byte, v any) ([]byte, error) {
			s, ok := v.(string)
			if !ok || len(s) > size {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
					"text %v must be a string of at most %d bytes", v, size)
			}
			dst = append(dst, s...)
			for i := len(s); i < size; i++ {
				dst = append(dst, 0)
			}
			return dst, nil
		},
	}
}

func hexValue(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"bytes %v must be a hex string", v)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "bytes %q are not hex: %v", s,
			err)
	}
	return b, nil
}

// clockFormat is a BCD time format. order lists the field of each byte: 's', 'm', 'h', 'D',
// 'M' (with the A.1 weekday in D7–D5 when week is set) and 'Y'.
func clockFormat(name, order string, week bool) *Format {
	size := len(order)
	return &Format{
		Name: name,
		Size: size,
		dec: func(b []byte) decoded {
			return decodeClock(b[:size], order, week)
		},
		enc: func(dst []byte, v any) ([]byte, error) {
			return encodeClock(dst, v, order, week)
		},
	}
}

// Appendix A time formats.
var (
	a1Format  = clockFormat("A.1", "smhDMY", true)
	a15Format = clockFormat("A.15", "mhDMY", false)
	a16Format = clockFormat("A.16", "smhD", false)
	a17Format = clockFormat("A.17", "mhDM", false)
	a18Format = clockFormat("A.18", "mhD", false)
	a19Format = clockFormat("A.19", "mh", false)
	a20Format = clockFormat("A.20", "DMY", false)
	a21Format = clockFormat("A.21", "MY", false)
)

var clockLimits = map[byte][2]int{'s': {0, 59}, 'm': {0, 59}, 'h': {0, 23}, 'D': {1, 31},
	'M': {1, 12}, 'Y': {0, 99}}

// decodeClock renders the fields present as YYYY-MM-DDThh:mm:ss, leaving out the date or
// time parts the format lacks: A.15 gives seconds ":00", A.16 "DDThh:mm:ss", A.20 a date.
func decodeClock(b []byte, order string, week bool) decoded {
	vals := map[byte]int{}
	weekday := -1
	for i := range order {
		c := b[i]
		if order[i] == 'M' && week {
			weekday = int(c >> 5)
			c &= 0x1F
		}
		n, err := protocol.FromBCD(c)
		lim := clockLimits[order[i]]
		if err != nil || n < lim[0] || n > lim[1] {
			return decoded{err: protocol.Errorf(protocol.ErrInvalidBCD, i, int64(b[i]),
				"time field %c", order[i])}
		}
		vals[order[i]] = n
	}
	out := decoded{value: clockString(vals, order)}
	if weekday > 0 && weekday <= 7 {
		out.note = "weekday " + strconv.Itoa(weekday)
	}
	return out
}

func clockString(v map[byte]int, order string) string {
	has := func(c byte) bool { return strings.IndexByte(order, c) >= 0 }
	var sb strings.Builder
	switch {
	case has('Y') && has('M') && has('D'):
		fmt.Fprintf(&sb, "%04d-%02d-%02d", 2000+v['Y'], v['M'], v['D'])
	case has('Y') && has('M'):
		fmt.Fprintf(&sb, "%04d-%02d", 2000+v['Y'], v['M'])
	case has('M') && has('D'):
		fmt.Fprintf(&sb, "%02d-%02d", v['M'], v['D'])
	case has('D'):
		fmt.Fprintf(&sb, "%02d", v['D'])
	}
	if has('h') {
		if sb.Len() > 0 {
			sb.WriteByte('T')
		}
		fmt.Fprintf(&sb, "%02d:%02d:%02d", v['h'], v['m'], v['s'])
	}
	return sb.String()
}

// encodeClock parses a string written the way decodeClock writes it for the same format.
func encodeClock(dst []byte, v any, order string, week bool) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "time %v is not a string", v)
	}
	vals := map[byte]int{}
	date, clock, hasClock := strings.Cut(s, "T")
	if !strings.ContainsAny(order, "DMY") {
		clock, date, hasClock = s, "", true
	} else if !strings.ContainsAny(order, "hms") {
		date, hasClock = s, false
	}
	dparts := strings.Split(date, "-")
	var dkeys []byte
	for _, c := range []byte{'Y', 'M', 'D'} {
		if strings.IndexByte(order, c) >= 0 {
			dkeys = append(dkeys, c)
		}
	}
	if len(dkeys) > 0 && len(dparts) != len(dkeys) {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"time %q does not match format %s",
			s, order)
	}
	for i, k := range dkeys {
		n, err := strconv.Atoi(dparts[i])
		if err != nil {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "time %q: %v", s, err)
		}
		if k == 'Y' {
			n -= 2000
		}
		vals[k] = n
	}
	if hasClock {
		cparts := strings.Split(clock, ":")
		if len(cparts) != 3 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "time %q needs hh:mm:ss",
				s)
		}
		for i, k := range []byte{'h', 'm', 's'} {
			n, err := strconv.Atoi(cparts[i])
			if err != nil {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "time %q: %v", s, err)
			}
			vals[k] = n
		}
	}
	for i := 0; i < len(order); i++ {
		k := order[i]
		n := vals[k]
		lim := clockLimits[k]
		if n < lim[0] || n > lim[1] {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(n),
				"time %q: field %c out of range", s, k)
		}
		c := protocol.ToBCD(n)
		if k == 'M' && week {
			c |= byte(weekdayOf(2000+vals['Y'], vals['M'], vals['D'])) << 5
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// weekdayOf returns the A.1 weekday, 1 = Monday to 7 = Sunday.
func weekdayOf(y, m, d int) int {
	// Sakamoto's method gives 0 = Sunday.
	t := [12]int{0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4}
	if m < 3 {
		y--
	}
	w := (y + y/4 - y/100 + y/400 + t[(m+11)%12] + d) % 7
	if w == 0 {
		return 7
	}
	return w
}
