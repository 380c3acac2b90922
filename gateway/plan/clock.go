package plan

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gateway"
)

// Clock identifiers read back after a broadcast time.
const (
	diClock               = dlt645.DI(0x0400010C) // date, weekday and time in one value
	diDate                = dlt645.DI(0x04000101)
	diTime                = dlt645.DI(0x04000102)
	di97Date              = dlt645.DI97(0xC010)
	di97Time              = dlt645.DI97(0xC011)
	defaultClockTolerance = 10 * time.Second
)

// SyncTime broadcasts the time (0x08) on the meter's line and reads the meter clock back.
// Meters send no reply to a broadcast and ignore one that is too far from their clock
// (5 minutes in DL/T 645-2007) or that comes a second time on one day, so the read-back is
// the only proof. A clock still off by more than ClockTolerance fails with
// verify_mismatch, naming both clocks in the evidence.
func (p *DLT645) SyncTime(ctx context.Context, d gateway.Device, now time.Time) error {
	start := time.Now()
	f, err := dlt645.NewBroadcastTimeRequest(now.In(p.cfg.Location))
	if err != nil {
		return gateway.Fail(gateway.ReasonInternal, nil, "build broadcast time: %v", err)
	}
	raw, err := dlt645.Encode(f)
	if err != nil {
		return gateway.Fail(gateway.ReasonInternal, nil, "encode broadcast time: %v", err)
	}
	if _, err := p.ex.Exchange(ctx, d.Meter, raw, "broadcast_time"); err != nil {
		return err
	}
	// The gateway time is taken as now plus the time elapsed since the call, so that an
	// engine clock replaced in tests stays the reference.
	before := now.Add(time.Since(start))
	clock, err := p.readClock(ctx, d.Meter, before)
	if err != nil {
		return err
	}
	after := now.Add(time.Since(start))
	return checkClock(clock, before, after, p.cfg.ClockTolerance)
}

// checkClock fails with verify_mismatch unless the meter clock read between before and
// after is within tol of that interval. Meters count whole seconds, so the clock may lag
// by up to one second more.
func checkClock(clock, before, after time.Time, tol time.Duration) error {
	low := before.Add(-tol - time.Second)
	high := after.Add(tol)
	if !clock.Before(low) && !clock.After(high) {
		return nil
	}
	off := clock.Sub(before)
	if clock.After(after) {
		off = clock.Sub(after)
	}
	return gateway.Fail(gateway.ReasonVerifyMismatch, &gateway.Evidence{
		Detail: "meter clock " + clock.Format("2006-01-02T15:04:05") + ", gateway clock " +
			after.In(clock.Location()).Format("2006-01-02T15:04:05")},
		"meter clock is off by %v after the broadcast time (tolerance %v); meters ignore a "+
			"broadcast more than 5 minutes off or a second one on the same day, so set the "+
			"clock on site", off.Round(time.Second), tol)
}

// readClock reads the meter clock: 0400010C, or 04000101 and 04000102 on a 2007 meter
// that has no 0400010C, and C010 and C011 on a 1997 meter. The result is in the plan's
// zone; ref is the gateway time when the read starts.
func (p *DLT645) readClock(ctx context.Context, m *gateway.MeterEntry, ref time.Time) (
	time.Time, error) {
	if m.Protocol != archive.ProtocolDLT645v1997 {
		v, raw, err := p.read(ctx, m, diClock)
		if err == nil {
			return p.clockValue(v, raw)
		}
		if !isMeterRejected(err) {
			return time.Time{}, err
		}
	}
	date, raw, err := p.readEither(ctx, m, diDate, di97Date)
	if err != nil {
		return time.Time{}, err
	}
	day, err := p.clockValue(date, raw)
	if err != nil {
		return time.Time{}, err
	}
	clock, raw, err := p.readEither(ctx, m, diTime, di97Time)
	if err != nil {
		return time.Time{}, err
	}
	tod, err := p.clockValue(clock, raw)
	if err != nil {
		return time.Time{}, err
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), tod.Hour(), tod.Minute(), tod.Second(),
		0, p.cfg.Location)
	// The date was read first, so a midnight between the two reads makes the combined
	// clock almost a day late.
	if ref.Sub(t) > 12*time.Hour && tod.Hour() == 0 {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

func (p *DLT645) readEither(ctx context.Context, m *gateway.MeterEntry, di dlt645.DI,
	di97 dlt645.DI97) (dlt645.Value, []byte, error) {
	if m.Protocol == archive.ProtocolDLT645v1997 {
		return p.read97(ctx, m, di97)
	}
	return p.read(ctx, m, di)
}

// clockValue returns the wall-clock time of a decoded date or time value in the plan's
// zone, because dlt645 decodes clock values in its default zone.
func (p *DLT645) clockValue(v dlt645.Value, raw []byte) (time.Time, error) {
	t, ok := v.Data.(time.Time)
	if !ok {
		return time.Time{}, gateway.Fail(gateway.ReasonMeterRejected,
			&gateway.Evidence{FrameHex: hex.EncodeToString(raw)}, "meter clock value is a %T", v.Data)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0,
		p.cfg.Location), nil
}

func isMeterRejected(err error) bool {
	var f *gateway.Failure
	return errors.As(err, &f) && f.Code == gateway.ReasonMeterRejected
}
