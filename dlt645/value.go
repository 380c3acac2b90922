package dlt645

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/feegate/feegate/protocol"
)

// Value is a decoded identifier value. Data holds, by the item's format:
//   - Decimal for BCD numbers (counts have scale 0);
//   - time.Time for dates and times, in the meter's zone (DefaultLocation), or nil when
//     every byte is zero, as meters report an event that never happened;
//   - string for digits, ASCII and hex;
//   - StatusWord for status words;
//   - []Value for blocks, one per member.
type Value struct {
	Item *Item
	Data any
	// Raw holds the value's bytes as received (unscrambled, wire order).
	Raw []byte
}

// timeFields gives the wire order (low byte first) of each date and time format.
var timeFields = map[Format][]timeField{
	FormatDateWeek:       {weekday, day, month, year},
	FormatTime:           {second, minute, hour},
	FormatDateWeekTime:   {second, minute, hour, weekday, day, month, year},
	FormatDateTime:       {second, minute, hour, day, month, year},
	FormatDateTimeMinute: {minute, hour, day, month, year},
}

// DecodeValue decodes the value bytes b (after the identifier) by the row it. A value
// whose length differs from the row's size is an error of kind protocol.ErrBadLength:
// a meter that sends a surplus byte is reported, never read with a shifted layout.
func DecodeValue(it *Item, b []byte) (Value, error) {
	if it.Format == FormatBlock {
		return decodeBlock(it, b)
	}
	if len(b) != it.Size {
		return Value{}, protocol.Mismatch(protocol.ErrBadLength, -1, int64(len(b)),
			int64(it.Size), fmt.Sprintf("DI %s (%s) value length", it.DIString(), it.Name))
	}
	v := Value{Item: it, Raw: b}
	switch it.Format {
	case FormatBCD, FormatBCDSigned:
		d, err := decodeNumber(it, b)
		if err != nil {
			return Value{}, err
		}
		v.Data = d
	case FormatDigits:
		for i, c := range b {
			if !protocol.IsBCD(c) {
				return Value{}, protocol.Errorf(protocol.ErrInvalidBCD, i, int64(c),
					"DI %s (%s): byte %d of a %d-digit number", it.DIString(), it.Name, i,
					2*len(b))
			}
		}
		v.Data = reversedHex(b)
	case FormatHex:
		v.Data = reversedHex(b)
	case FormatASCII:
		r := make([]byte, len(b))
		for i := range b {
			r[i] = b[len(b)-1-i]
		}
		v.Data = strings.Trim(string(r), "\x00 ")
	case FormatStatusWord:
		v.Data = StatusWord{Word: it.Word, Raw: uint16(b[0]) | uint16(b[1])<<8}
	default:
		if isZero(b) {
			return v, nil
		}
		t, err := parseBCDTime(b, timeFields[it.Format], defaultLocation)
		if err != nil {
			return Value{}, itemError(it, err)
		}
		v.Data = t
	}
	return v, nil
}

// itemError puts the identifier and name of it in front of the detail of err. A
// *protocol.Error stays unwrapped, so shiftOffset can still move its offset from the value
// to the frame.
func itemError(it *Item, err error) error {
	pe, ok := err.(*protocol.Error)
	if !ok {
		return fmt.Errorf("DI %s (%s): %w", it.DIString(), it.Name, err)
	}
	c := *pe
	c.Detail = fmt.Sprintf("DI %s (%s): %s", it.DIString(), it.Name, pe.Detail)
	return &c
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decodeNumber(it *Item, b []byte) (Decimal, error) {
	var tmp [9]byte
	if len(b) == 0 || len(b) > len(tmp) {
		// A row built outside the table may have any size. Copying a longer value into
		// tmp would drop its high bytes, so the number is rejected instead.
		return Decimal{}, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(b)),
			"DI %s (%s): a BCD number has 1 to %d bytes", it.DIString(), it.Name, len(tmp))
	}
	n := copy(tmp[:], b)
	neg := false
	if it.Format == FormatBCDSigned && tmp[n-1]&0x80 != 0 {
		neg = true
		tmp[n-1] &= 0x7F
	}
	u, err := protocol.DecodeBCD(tmp[:n])
	if err != nil {
		return Decimal{}, itemError(it, err)
	}
	d := Decimal{Units: int64(u), Scale: it.Decimals}
	if neg {
		d.Units = -d.Units
	}
	return d, nil
}

func decodeBlock(it *Item, b []byte) (Value, error) {
	parts := it.parts
	if it.Repeat {
		size := parts[0].Size
		if len(b) == 0 || len(b)%size != 0 {
			return Value{}, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(b)),
				"DI %s (%s) value length must be a multiple of %d", it.DIString(), it.Name,
				size)
		}
		parts = repeatParts(it, len(b)/size)
	} else if len(b) != it.Size {
		return Value{}, protocol.Mismatch(protocol.ErrBadLength, -1, int64(len(b)),
			int64(it.Size), fmt.Sprintf("DI %s (%s) value length", it.DIString(), it.Name))
	}
	members := make([]Value, 0, len(parts))
	off := 0
	for _, p := range parts {
		m, err := DecodeValue(p, b[off:off+p.Size])
		if err != nil {
			return Value{}, shiftOffset(err, off)
		}
		members = append(members, m)
		off += p.Size
	}
	return Value{Item: it, Data: members, Raw: b}, nil
}

// repeatParts returns n member rows of a repeating block: the listed ones, then copies of
// the last named by tariff number.
func repeatParts(it *Item, n int) []*Item {
	if n <= len(it.parts) {
		return it.parts[:n]
	}
	out := append([]*Item(nil), it.parts...)
	last := it.parts[len(it.parts)-1]
	base := strings.TrimSuffix(last.Name, fmt.Sprint(len(it.parts)-1))
	for i := len(it.parts); i < n; i++ {
		extra := *last
		extra.ID = 0
		extra.Name = fmt.Sprintf("%s%d", base, i)
		extra.Chinese = fmt.Sprintf("费率%d", i)
		out = append(out, &extra)
	}
	return out
}

// EncodeValue appends the wire bytes of value v for row it to dst. v is what DecodeValue
// returns in Value.Data (a Decimal, time.Time, string, StatusWord or []Value), or a Value;
// numbers may also be int, int64 or decimal text, and a nil time encodes as zeros.
func EncodeValue(dst []byte, it *Item, v any) ([]byte, error) {
	if val, ok := v.(Value); ok {
		v = val.Data
	}
	fail := func(format string, args ...any) ([]byte, error) {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "DI %s (%s): %s",
			it.DIString(), it.Name, fmt.Sprintf(format, args...))
	}
	switch it.Format {
	case FormatBCD, FormatBCDSigned:
		d, err := toDecimal(v)
		if err != nil {
			return fail("%v", err)
		}
		return appendNumber(dst, it, d)
	case FormatDigits, FormatHex:
		s, ok := v.(string)
		if !ok {
			return fail("needs a hex string, got %T", v)
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != it.Size {
			return fail("%q is not %d hex digits", s, 2*it.Size)
		}
		if it.Format == FormatDigits && strings.Trim(s, "0123456789") != "" {
			return fail("%q is not %d decimal digits", s, 2*it.Size)
		}
		for i := len(b) - 1; i >= 0; i-- {
			dst = append(dst, b[i])
		}
		return dst, nil
	case FormatASCII:
		s, ok := v.(string)
		if !ok || len(s) > it.Size {
			return fail("needs a string of at most %d bytes", it.Size)
		}
		padded := append([]byte(s), bytes.Repeat([]byte{0}, it.Size-len(s))...)
		for i := len(padded) - 1; i >= 0; i-- {
			dst = append(dst, padded[i])
		}
		return dst, nil
	case FormatStatusWord:
		var raw uint16
		switch w := v.(type) {
		case StatusWord:
			raw = w.Raw
		case uint16:
			raw = w
		case int:
			raw = uint16(w)
		default:
			return fail("needs a StatusWord, got %T", v)
		}
		return append(dst, byte(raw), byte(raw>>8)), nil
	case FormatBlock:
		return encodeBlock(dst, it, v)
	}
	switch t := v.(type) {
	case nil:
		return append(dst, make([]byte, it.Size)...), nil
	case time.Time:
		return appendBCDTime(dst, t.In(defaultLocation), timeFields[it.Format])
	}
	return fail("needs a time.Time, got %T", v)
}

func toDecimal(v any) (Decimal, error) {
	switch x := v.(type) {
	case Decimal:
		return x, nil
	case int:
		return Decimal{Units: int64(x)}, nil
	case int64:
		return Decimal{Units: x}, nil
	case string:
		return ParseDecimal(x)
	}
	return Decimal{}, fmt.Errorf("needs a Decimal, got %T", v)
}

func appendNumber(dst []byte, it *Item, d Decimal) ([]byte, error) {
	r, ok := d.Rescale(it.Decimals)
	if !ok {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, d.Units,
			"DI %s (%s): %s has more than %d decimals", it.DIString(), it.Name, d, it.Decimals)
	}
	u := r.Units
	neg := u < 0
	if neg {
		if it.Format != FormatBCDSigned {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, u,
				"DI %s (%s): %s is negative but the format is unsigned", it.DIString(),
				it.Name, d)
		}
		u = -u
	}
	start := len(dst)
	dst = append(dst, make([]byte, it.Size)...)
	if err := protocol.EncodeBCD(dst[start:], uint64(u)); err != nil {
		return dst[:start], fmt.Errorf("DI %s (%s): %w", it.DIString(), it.Name, err)
	}
	top := &dst[len(dst)-1]
	if it.Format == FormatBCDSigned {
		if *top&0x80 != 0 {
			return dst[:start], protocol.Errorf(protocol.ErrInvalidValue, -1, u,
				"DI %s (%s): %s needs the sign bit", it.DIString(), it.Name, d)
		}
		if neg {
			*top |= 0x80
		}
	}
	return dst, nil
}

func encodeBlock(dst []byte, it *Item, v any) ([]byte, error) {
	var members []any
	switch m := v.(type) {
	case []Value:
		for _, x := range m {
			members = append(members, x.Data)
		}
	case []any:
		members = m
	default:
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"DI %s (%s): a block needs []Value, got %T", it.DIString(), it.Name, v)
	}
	parts := it.parts
	if it.Repeat {
		parts = repeatParts(it, len(members))
	}
	if len(members) != len(parts) || len(members) == 0 {
		return dst, protocol.Mismatch(protocol.ErrInvalidValue, -1, int64(len(members)),
			int64(len(parts)), fmt.Sprintf("DI %s (%s) member count", it.DIString(), it.Name))
	}
	var err error
	for i, p := range parts {
		if dst, err = EncodeValue(dst, p, members[i]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// JSON returns the value as the explain contract prints it: numbers as exact JSON numbers,
// times as YYYY-MM-DDThh:mm:ss (dates alone as YYYY-MM-DD, times of day as hh:mm:ss), status
// words as objects and blocks as arrays.
func (v Value) JSON() any {
	switch d := v.Data.(type) {
	case time.Time:
		switch v.Item.Format {
		case FormatDateWeek:
			return d.Format("2006-01-02")
		case FormatTime:
			return d.Format("15:04:05")
		}
		return d.Format("2006-01-02T15:04:05")
	case []Value:
		out := make([]any, len(d))
		for i, m := range d {
			out[i] = m.JSON()
		}
		return out
	}
	return v.Data
}

// ReadValue parses a 2007 read reply to the request for want and decodes its value by the
// table. A reply for an identifier the table lacks returns protocol.ErrUnknownIdentifier
// together with the parsed reply, so the caller still has the raw bytes.
func ReadValue(f *Frame, want DI) (Value, ReadReply, error) {
	r, err := ParseReadReply(f, want)
	if err != nil {
		return Value{}, r, err
	}
	it, ok := Lookup(want)
	if !ok {
		return Value{}, r, protocol.Errorf(protocol.ErrUnknownIdentifier, HeaderLen,
			int64(want), "DI %s is not in the table", want)
	}
	v, err := DecodeValue(it, r.Data)
	return v, r, shiftOffset(err, HeaderLen+4)
}

// ReadValue97 is ReadValue for a 1997 read reply.
func ReadValue97(f *Frame, want DI97) (Value, ReadReply97, error) {
	r, err := ParseReadReply97(f, want)
	if err != nil {
		return Value{}, r, err
	}
	it, ok := Lookup97(want)
	if !ok {
		return Value{}, r, protocol.Errorf(protocol.ErrUnknownIdentifier, HeaderLen,
			int64(want), "DI %s is not in the 1997 table", want)
	}
	v, err := DecodeValue(it, r.Data)
	return v, r, shiftOffset(err, HeaderLen+2)
}

// NewReadReply returns the normal read reply a meter at addr sends for di with value v,
// encoded by the table (see EncodeValue for the accepted value types).
func NewReadReply(addr protocol.MeterAddress, di DI, v any) (*Frame, error) {
	it, ok := Lookup(di)
	if !ok {
		return nil, protocol.Errorf(protocol.ErrUnknownIdentifier, -1, int64(di),
			"DI %s is not in the table", di)
	}
	data := make([]byte, 4, 4+it.Size)
	di.put(data)
	data, err := EncodeValue(data, it, v)
	if err != nil {
		return nil, err
	}
	return NewReply(addr, FuncRead, false, data), nil
}

// NewReadReply97 is NewReadReply for a 1997 meter.
func NewReadReply97(addr protocol.MeterAddress, di DI97, v any) (*Frame, error) {
	it, ok := Lookup97(di)
	if !ok {
		return nil, protocol.Errorf(protocol.ErrUnknownIdentifier, -1, int64(di),
			"DI %s is not in the 1997 table", di)
	}
	data := make([]byte, 2, 2+it.Size)
	di.put(data)
	data, err := EncodeValue(data, it, v)
	if err != nil {
		return nil, err
	}
	return NewReply(addr, Func97Read, false, data), nil
}
