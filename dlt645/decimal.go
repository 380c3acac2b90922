package dlt645

import (
	"math"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// Decimal is an exact fixed-point number: Units × 10^-Scale. Meter values are BCD with a
// fixed number of decimals, so a Decimal keeps 112280.26 kWh exactly where a float64 would
// not.
type Decimal struct {
	Units int64
	Scale uint8
}

// pow10 holds 10^0 to 10^18, every power of ten an int64 holds.
var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000,
	100000000000000, 1000000000000000, 10000000000000000, 100000000000000000,
	1000000000000000000}

// String returns the exact decimal text, with Scale digits after the point.
func (d Decimal) String() string {
	var buf [48]byte
	return string(d.append(buf[:0]))
}

// append writes the digits of |Units| with the point inserted Scale digits from the
// right, so every Scale (even one beyond pow10) and every Units (even math.MinInt64)
// prints exactly.
func (d Decimal) append(dst []byte) []byte {
	abs := uint64(d.Units)
	if d.Units < 0 {
		dst = append(dst, '-')
		abs = -abs
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], abs, 10)
	scale := int(d.Scale)
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	whole := len(digits) - scale
	dst = append(dst, digits[:whole]...)
	dst = append(dst, '.')
	return append(dst, digits[whole:]...)
}

// MarshalJSON writes d as a JSON number with its exact digits.
func (d Decimal) MarshalJSON() ([]byte, error) { return d.append(nil), nil }

// Float64 returns d as the nearest float64, for display and arithmetic that tolerates
// rounding.
func (d Decimal) Float64() float64 { return float64(d.Units) / math.Pow10(int(d.Scale)) }

// ParseDecimal parses text such as "112280.26" or "-0.5". The scale is the number of digits
// after the point, at most 9.
func ParseDecimal(s string) (Decimal, error) {
	bad := func() (Decimal, error) {
		return Decimal{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(s)),
			"%q is not a decimal number", s)
	}
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(body, ".")
	if whole == "" || len(frac) > 9 || len(whole)+len(frac) > 18 {
		return bad()
	}
	var u int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return bad()
		}
		u = u*10 + int64(c-'0')
	}
	if neg {
		u = -u
	}
	return Decimal{Units: u, Scale: uint8(len(frac))}, nil
}

// Rescale returns d with scale s, or false when digits would be lost or the value overflows.
func (d Decimal) Rescale(s uint8) (Decimal, bool) {
	switch {
	case s == d.Scale:
		return d, true
	case d.Units == 0:
		return Decimal{Scale: s}, true
	case s > d.Scale:
		k := int(s - d.Scale)
		if k >= len(pow10) {
			return Decimal{}, false
		}
		m := pow10[k]
		if d.Units > (1<<62)/m || d.Units < -(1<<62)/m {
			return Decimal{}, false
		}
		return Decimal{Units: d.Units * m, Scale: s}, true
	default:
		k := int(d.Scale - s)
		if k >= len(pow10) {
			// 10^19 and above divide no int64 but zero, handled above.
			return Decimal{}, false
		}
		m := pow10[k]
		if d.Units%m != 0 {
			return Decimal{}, false
		}
		return Decimal{Units: d.Units / m, Scale: s}, true
	}
}

// Equal reports whether d and e are the same number, whatever their scales.
func (d Decimal) Equal(e Decimal) bool {
	s := max(d.Scale, e.Scale)
	a, ok1 := d.Rescale(s)
	b, ok2 := e.Rescale(s)
	return ok1 && ok2 && a.Units == b.Units
}
