package dlt645

import (
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

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000}

// String returns the exact decimal text, with Scale digits after the point.
func (d Decimal) String() string {
	var buf [32]byte
	return string(d.append(buf[:0]))
}

func (d Decimal) append(dst []byte) []byte {
	u := d.Units
	if u < 0 {
		dst = append(dst, '-')
		u = -u
	}
	if d.Scale == 0 {
		return strconv.AppendInt(dst, u, 10)
	}
	p := pow10[d.Scale]
	dst = strconv.AppendInt(dst, u/p, 10)
	dst = append(dst, '.')
	frac := strconv.AppendInt(nil, u%p, 10)
	for i := len(frac); i < int(d.Scale); i++ {
		dst = append(dst, '0')
	}
	return append(dst, frac...)
}

// MarshalJSON writes d as a JSON number with its exact digits.
func (d Decimal) MarshalJSON() ([]byte, error) { return d.append(nil), nil }

// Float64 returns d as the nearest float64, for display and arithmetic that tolerates
// rounding.
func (d Decimal) Float64() float64 { return float64(d.Units) / float64(pow10[d.Scale]) }

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
	case s > d.Scale:
		m := pow10[s-d.Scale]
		if d.Units > (1<<62)/m || d.Units < -(1<<62)/m {
			return Decimal{}, false
		}
		return Decimal{Units: d.Units * m, Scale: s}, true
	default:
		m := pow10[d.Scale-s]
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
