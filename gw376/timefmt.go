package gw376

import (
	"time"

	"github.com/feegate/feegate/protocol"
)

// Lengths of the time formats of Appendix A.
const (
	A1Len  = 6 // ss mm hh DD (week|MM) YY
	A15Len = 5 // mm hh DD MM YY
	A16Len = 4 // ss mm hh DD
	A17Len = 4 // mm hh DD MM
	A18Len = 3 // mm hh DD
	A20Len = 3 // DD MM YY
	A21Len = 2 // MM YY
)

// PutA1 writes t in format A.1 (seconds to year, BCD, with the weekday 1 = Monday to
// 7 = Sunday in bits D7–D5 of the month byte) into dst[:6]. Years outside 2000–2099 are
// written modulo 100.
func PutA1(dst []byte, t time.Time) {
	wd := int(t.Weekday())
	if wd == 0 {
		wd = 7
	}
	dst[0] = protocol.ToBCD(t.Second())
	dst[1] = protocol.ToBCD(t.Minute())
	dst[2] = protocol.ToBCD(t.Hour())
	dst[3] = protocol.ToBCD(t.Day())
	dst[4] = byte(wd)<<5 | protocol.ToBCD(int(t.Month()))
	dst[5] = protocol.ToBCD(t.Year() % 100)
}

// A1Time returns the time of the A.1 field b[:6] in loc, with the year taken as 20YY. It
// fails with ErrInvalidBCD naming the field, or ErrInvalidValue for an impossible date. The
// weekday bits are not checked against the date.
func A1Time(b []byte, loc *time.Location) (time.Time, error) {
	month := b[4] & 0x1F
	return civilTime(loc, [6]byte{b[5], month, b[3], b[2], b[1], b[0]})
}

// PutA15 writes t in format A.15 (minute to year, BCD) into dst[:5].
func PutA15(dst []byte, t time.Time) {
	dst[0] = protocol.ToBCD(t.Minute())
	dst[1] = protocol.ToBCD(t.Hour())
	dst[2] = protocol.ToBCD(t.Day())
	dst[3] = protocol.ToBCD(int(t.Month()))
	dst[4] = protocol.ToBCD(t.Year() % 100)
}

// A15Time returns the time of the A.15 field b[:5] in loc, seconds zero.
func A15Time(b []byte, loc *time.Location) (time.Time, error) {
	return civilTime(loc, [6]byte{b[4], b[3], b[2], b[1], b[0], 0})
}

// PutA16 writes the day, hour, minute and second of t in format A.16 into dst[:4].
func PutA16(dst []byte, t time.Time) {
	dst[0] = protocol.ToBCD(t.Second())
	dst[1] = protocol.ToBCD(t.Minute())
	dst[2] = protocol.ToBCD(t.Hour())
	dst[3] = protocol.ToBCD(t.Day())
}

// civilTime checks and converts BCD fields given year, month, day, hour, minute, second.
func civilTime(loc *time.Location, f [6]byte) (time.Time, error) {
	var v [6]int
	names := [6]string{"year", "month", "day", "hour", "minute", "second"}
	for i, c := range f {
		n, err := protocol.FromBCD(c)
		if err != nil {
			return time.Time{},
				protocol.Errorf(protocol.ErrInvalidBCD, -1, int64(c), "%s", names[i])
		}
		v[i] = n
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"impossible date or time 20%02d-%02d-%02d %02d:%02d:%02d", v[0], v[1], v[2], v[3], v[4],
			v[5])
	}
	t := time.Date(2000+v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc)
	if t.Day() != v[2] {
		return time.Time{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(v[2]),
			"day %d does not exist in 20%02d-%02d", v[2], v[0], v[1])
	}
	return t, nil
}

// NewTp returns a time label with frame counter pfc, send time t and an allowed delay of
// delayMin minutes (0 = the receiver does not check the delay).
func NewTp(pfc uint8, t time.Time, delayMin uint8) Tp {
	tp := Tp{PFC: pfc, DelayMin: delayMin}
	PutA16(tp.Sent[:], t)
	return tp
}

// SentClock returns the day, hour, minute and second of the send time, or ErrInvalidBCD.
func (t Tp) SentClock() (day, hour, minute, second int, err error) {
	var v [4]int
	for i, c := range t.Sent {
		n, e := protocol.FromBCD(c)
		if e != nil {
			return 0, 0, 0, 0, protocol.Errorf(protocol.ErrInvalidBCD, i, int64(c),
				"Tp send time byte %d",
				i)
		}
		v[i] = n
	}
	return v[3], v[2], v[1], v[0], nil
}
