package dlt645

import (
	"time"

	"github.com/feegate/feegate/protocol"
)

// timeField is one BCD byte of a date or time format.
type timeField int

const (
	second timeField = iota
	minute
	hour
	day
	month
	year
	weekday
)

var timeFieldNames = [...]string{"second", "minute", "hour", "day", "month", "year", "weekday"}

var timeFieldRange = [...][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 99}, {0, 6}}

// parseBCDTime reads len(fields) BCD bytes of b in wire order (fields lists them low byte
// first) as a time in loc. Missing date parts default to 2000-01-01; a weekday is checked
// for range only.
func parseBCDTime(b []byte, fields []timeField, loc *time.Location) (time.Time, error) {
	if len(b) < len(fields) {
		return time.Time{}, protocol.Mismatch(protocol.ErrBadLength, -1, int64(len(b)),
			int64(len(fields)), "time field")
	}
	v := [7]int{0, 0, 0, 1, 1, 0, 0}
	for i, f := range fields {
		n, err := protocol.FromBCD(b[i])
		if err != nil {
			return time.Time{}, protocol.Errorf(protocol.ErrInvalidBCD, i, int64(b[i]),
				"%s byte", timeFieldNames[f])
		}
		r := timeFieldRange[f]
		if n < r[0] || n > r[1] {
			return time.Time{}, protocol.Errorf(protocol.ErrInvalidValue, i, int64(n),
				"%s out of range %d-%d", timeFieldNames[f], r[0], r[1])
		}
		v[f] = n
	}
	t := time.Date(2000+v[year], time.Month(v[month]), v[day], v[hour], v[minute], v[second],
		0, loc)
	if t.Day() != v[day] {
		return time.Time{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(v[day]),
			"day %d does not exist in %04d-%02d", v[day], 2000+v[year], v[month])
	}
	if t.Hour() != v[hour] || t.Minute() != v[minute] {
		// time.Date moves a clock time that a daylight-saving jump skips, such as 02:30
		// on a spring-forward day, to another hour. Meters send clock time, so a skipped
		// time is invalid rather than another instant.
		// NOTE: a clock time that a fall-back repeats still decodes to one of its two
		// instants, whichever time.Date picks; the meter zone Asia/Shanghai has neither.
		return time.Time{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(v[hour]),
			"%02d:%02d on %04d-%02d-%02d does not exist in zone %s", v[hour], v[minute],
			2000+v[year], v[month], v[day], loc)
	}
	return t, nil
}

// appendBCDTime appends t as BCD bytes in the wire order of fields.
func appendBCDTime(dst []byte, t time.Time, fields []timeField) ([]byte, error) {
	for _, f := range fields {
		var n int
		switch f {
		case second:
			n = t.Second()
		case minute:
			n = t.Minute()
		case hour:
			n = t.Hour()
		case day:
			n = t.Day()
		case month:
			n = int(t.Month())
		case year:
			n = t.Year() - 2000
			if n < 0 || n > 99 {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(t.Year()),
					"year must be 2000-2099")
			}
		case weekday:
			n = int(t.Weekday())
		}
		dst = append(dst, protocol.ToBCD(n))
	}
	return dst, nil
}
