package terminal

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
)

// unitRequest is one (pn, Fn) of a downlink request with its data.
type unitRequest struct {
	id   gw376.ID
	pn   uint16
	fn   uint8
	data []byte
}

var errUnknownUnit = errors.New("terminal: unknown data unit")

// downlinkLen returns the length of the downlink data of Fn of afn that starts at b.
func downlinkLen(afn gw376.AFN, fn uint8, b []byte) (int, error) {
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, errUnknownUnit
		}
		return n, nil
	}
	switch afn {
	case gw376.AFNReset, gw376.AFNConfig, gw376.AFNClass1:
		return 0, nil
	case gw376.AFNSetParam:
		switch fn {
		case 1:
			return fixed(6)
		case 3:
			return fixed(28)
		case 5:
			return fixed(3)
		case 10:
			if len(b) < 2 {
				return 0, errUnknownUnit
			}
			return fixed(2 + 27*int(uint16(b[0])|uint16(b[1])<<8))
		}
	case gw376.AFNControl:
		switch fn {
		case 1, 25:
			return fixed(1)
		case 31:
			return fixed(6)
		case 2, 26, 27, 28, 29, 33, 34, 35, 36, 37, 38, 39:
			return 0, nil
		}
	case gw376.AFNQueryParam:
		if fn == 10 {
			if len(b) < 2 {
				return 0, errUnknownUnit
			}
			return fixed(2 + 2*int(uint16(b[0])|uint16(b[1])<<8))
		}
		return 0, nil
	case gw376.AFNClass2:
		return fixed(3) // Td_d: day, month, year
	case gw376.AFNClass3:
		return fixed(2)
	case gw376.AFNForward:
		switch fn {
		case 1:
			if len(b) < 6 {
				return 0, errUnknownUnit
			}
			return fixed(6 + int(uint16(b[4])|uint16(b[5])<<8))
		case 9:
			if len(b) < 2 {
				return 0, errUnknownUnit
			}
			n := int(b[1])
			if n == 0xFF {
				n = 0
			}
			return fixed(2 + 6*n + 6 + 1 + 4)
		}
	}
	return 0, errUnknownUnit
}

// splitRequest splits a downlink data-unit area into (pn, Fn) units.
func splitRequest(afn gw376.AFN, data []byte) ([]unitRequest, error) {
	var out []unitRequest
	var pnBuf [8]uint16
	var fnBuf [8]uint8
	for p := 0; p < len(data); {
		if len(data)-p < gw376.IDLen {
			return out, errUnknownUnit
		}
		id := gw376.IDFromWire(data[p:])
		pns, err1 := id.DA.AppendPns(pnBuf[:0])
		fns, err2 := id.DT.AppendFns(fnBuf[:0])
		if err1 != nil || err2 != nil || len(fns) == 0 {
			return out, errUnknownUnit
		}
		p += gw376.IDLen
		for _, pn := range pns {
			for _, fn := range fns {
				n, err := downlinkLen(afn, fn, data[p:])
				if err != nil {
					return out, err
				}
				out = append(out, unitRequest{id: id, pn: pn, fn: fn, data: data[p : p+n]})
				p += n
			}
		}
	}
	return out, nil
}

// handle answers one master request. It runs on the session goroutine and may wait for a
// forward on the simulated channel.
func (t *Terminal) handle(ctx context.Context, req *gw376.Frame, now time.Time) []gw376.Frame {
	units, err := splitRequest(req.AFN, req.Data)
	if err != nil && len(units) == 0 {
		return []gw376.Frame{gw376.ReplyConfirm(req, false)}
	}
	switch req.AFN {
	case gw376.AFNReset, gw376.AFNSetParam, gw376.AFNControl:
		return []gw376.Frame{t.confirmUnits(req, units, now)}
	case gw376.AFNForward:
		return t.dataReply(req, t.forwardUnits(ctx, units))
	}
	var out []replyUnit
	t.mu.Lock()
	for _, u := range units {
		out = append(out, t.readUnit(req.AFN, u, now)...)
	}
	t.mu.Unlock()
	if len(out) == 0 {
		return []gw376.Frame{gw376.ReplyConfirm(req, false)}
	}
	return t.dataReply(req, out)
}

// replyUnit is one data unit of a reply.
type replyUnit struct {
	pn   uint16
	fn   uint8
	data []byte
}

// dataReply builds the response frames, splitting into several frames (FIR/FIN and RSEQ
// counting up) when the units exceed maxFrameData.
func (t *Terminal) dataReply(req *gw376.Frame, units []replyUnit) []gw376.Frame {
	var frames []gw376.Frame
	var data []byte
	flush := func() {
		f := gw376.Reply(req, data)
		frames = append(frames, f)
		data = nil
	}
	for _, u := range units {
		id, err := gw376.IDFor(u.pn, u.fn)
		if err != nil {
			continue
		}
		if len(data) > 0 && len(data)+gw376.IDLen+len(u.data) > maxFrameData {
			flush()
		}
		data = id.Append(data)
		data = append(data, u.data...)
	}
	if len(data) > 0 || len(frames) == 0 {
		flush()
	}
	if len(frames) > 1 {
		for i := range frames {
			frames[i].Seq.FIR = i == 0
			frames[i].Seq.FIN = i == len(frames)-1
			frames[i].Seq.Num = (req.Seq.Num + uint8(i)) & 0x0F
		}
	}
	return frames
}

// confirmUnits executes AFN 01, 04 and 05 units and answers AFN00 F1, F2 or F3.
func (t *Terminal) confirmUnits(req *gw376.Frame, units []unitRequest, now time.Time) gw376.Frame {
	results := make([]gw376.UnitResult, 0, len(units))
	allOK, allBad := true, true
	for _, u := range units {
		var ok bool
		switch req.AFN {
		case gw376.AFNReset:
			ok = true
		case gw376.AFNSetParam:
			ok = t.setParam(u)
		case gw376.AFNControl:
			ok = t.control(u, now)
		}
		code := gw376.ErrCodeOK
		if !ok {
			code = gw376.ErrCodeOther
		}
		id, _ := gw376.IDFor(u.pn, u.fn)
		results = append(results, gw376.UnitResult{ID: id, Err: code})
		allOK = allOK && ok
		allBad = allBad && !ok
	}
	switch {
	case allOK:
		return gw376.ReplyConfirm(req, true)
	case allBad:
		return gw376.ReplyConfirm(req, false)
	}
	return gw376.ReplyConfirmEach(req, results)
}

// setParam stores an AFN04 unit; F1 sets the heartbeat period and report confirmation,
// F10 upserts meter-table records by their serial number.
func (t *Terminal) setParam(u unitRequest) bool {
	if u.pn != 0 && u.fn != 10 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch u.fn {
	case 1:
		if u.data[5] > 0 {
			t.heartbeat = time.Duration(u.data[5]) * time.Minute
		}
		t.reportCon = u.data[4]&0x04 != 0 // D2: class 3 data (events) need confirmation
	case 10:
		n := int(uint16(u.data[0]) | uint16(u.data[1])<<8)
		for i := 0; i < n; i++ {
			rec := append([]byte(nil), u.data[2+27*i:2+27*(i+1)]...)
			t.upsertRecord(rec)
		}
		return true
	}
	if t.params == nil {
		t.params = map[uint8][]byte{}
	}
	t.params[u.fn] = append([]byte(nil), u.data...)
	return true
}

func (t *Terminal) upsertRecord(rec []byte) {
	for i, r := range t.table {
		if r[0] == rec[0] && r[1] == rec[1] {
			t.table[i] = rec
			return
		}
	}
	t.table = append(t.table, rec)
}

// control executes an AFN05 unit.
func (t *Terminal) control(u unitRequest, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch u.fn {
	case 1: // remote trip of turn pn; D7–D4 alarm delay in minutes
		if u.pn < 1 || int(u.pn) > t.cfg.ControlTurns || t.guaranteeActive(now) {
			return false
		}
		// The turn trips after the alarm delay (D7–D4, minutes); 0 trips at once.
		t.turnAlarm[u.pn-1] = now.Add(time.Duration(u.data[0]>>4) * time.Minute)
		t.applyTurnAlarms(now)
		return true
	case 2: // allow close of turn pn
		if u.pn < 1 || int(u.pn) > t.cfg.ControlTurns {
			return false
		}
		t.turnOpen &^= 1 << (u.pn - 1)
		t.turnAlarm[u.pn-1] = time.Time{}
		return true
	case 25: // guarantee on, duration in half hours, 0 = indefinite; pending trips are dropped
		t.guarantee = true
		t.turnAlarm = [8]time.Time{}
		t.guardUntil = time.Time{}
		if d := u.data[0]; d > 0 {
			t.guardUntil = now.Add(time.Duration(d) * 30 * time.Minute)
		}
		return true
	case 33:
		t.guarantee = false
		return true
	case 31: // clock set, format A.1
		clock, err := gw376.A1Time(u.data, dlt645.DefaultLocation())
		if err != nil {
			return false
		}
		t.skew = clock.Sub(now)
		return true
	case 26, 27, 28, 29, 34, 35, 36, 37, 38, 39:
		return true
	}
	return false
}

// applyTurnAlarms trips the turns whose alarm delay has run out and records ERC5 for each;
// t.mu must be held.
// NOTE: ERC5 is recorded at the trip with the power at that moment in both power fields,
// where a field terminal records it two minutes later with the power then.
func (t *Terminal) applyTurnAlarms(now time.Time) {
	for i, at := range t.turnAlarm {
		if at.IsZero() || now.Before(at) {
			continue
		}
		t.turnAlarm[i] = time.Time{}
		t.turnOpen |= 1 << i
		t.addEvent(ercTrip(t.clock(at), uint8(1<<i), t.totalPower(at)), true)
	}
}

// nextTurnAlarm returns the earliest pending turn trip, or the zero time; t.mu must be
// held.
func (t *Terminal) nextTurnAlarm() time.Time {
	var next time.Time
	for _, at := range t.turnAlarm {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// totalPower sums the active power of the terminal's meters; t.mu must be held.
func (t *Terminal) totalPower(now time.Time) float64 {
	var kw float64
	for _, a := range t.meters {
		kw += a.Meter.Readings(now).PowerKW
	}
	return kw
}

// meterAt returns the meter at measurement point pn.
func (t *Terminal) meterAt(pn uint16) *meter.Meter {
	for _, a := range t.meters {
		if a.Point == pn {
			return a.Meter
		}
	}
	return nil
}

// pointsOf expands pn (PnAll for every point) to the points of the terminal's meters.
func (t *Terminal) pointsOf(pn uint16) []uint16 {
	if pn != gw376.PnAll {
		return []uint16{pn}
	}
	out := make([]uint16, 0, len(t.meters))
	for _, a := range t.meters {
		out = append(out, a.Point)
	}
	return out
}

// readUnit answers one unit of AFN 09, 0A, 0C, 0D or 0E; t.mu must be held. An item the
// terminal does not have is left out of the reply.
func (t *Terminal) readUnit(afn gw376.AFN, u unitRequest, now time.Time) []replyUnit {
	clock := t.clock(now)
	one := func(data []byte) []replyUnit { return []replyUnit{{pn: u.pn, fn: u.fn, data: data}} }
	switch {
	case afn == gw376.AFNConfig && u.fn == 1 && u.pn == 0:
		return one(versionInfo())
	case afn == gw376.AFNQueryParam && u.pn == 0:
		return t.queryParam(u)
	case afn == gw376.AFNClass1 && u.pn == 0:
		t.applyTurnAlarms(now)
		switch u.fn {
		case 2:
			b := make([]byte, gw376.A1Len)
			gw376.PutA1(b, clock)
			return one(b)
		case 5:
			var b0 byte
			if t.guaranteeActive(now) {
				b0 = 1
			}
			return one([]byte{b0, 0})
		case 6:
			return one([]byte{t.turnOpen, 0, 0})
		case 7:
			return one([]byte{t.ec.Important, t.ec.General})
		}
	case afn == gw376.AFNClass1:
		var out []replyUnit
		for _, pn := range t.pointsOf(u.pn) {
			m := t.meterAt(pn)
			if m == nil {
				continue
			}
			if data := class1(u.fn, m.Readings(now), clock); data != nil {
				out = append(out, replyUnit{pn: pn, fn: u.fn, data: data})
			}
		}
		return out
	case afn == gw376.AFNClass2 && u.fn == 161:
		var out []replyUnit
		for _, pn := range t.pointsOf(u.pn) {
			if m := t.meterAt(pn); m != nil {
				out = append(out, replyUnit{pn: pn, fn: u.fn, data: frozenUnit(u.data, m.Readings(now), clock)})
			}
		}
		return out
	case afn == gw376.AFNClass3 && u.pn == 0 && (u.fn == 1 || u.fn == 2):
		return t.eventUnits(u)
	}
	return nil
}

// versionInfo is AFN09 F1: vendor, device number, software version and date, capacity
// code, protocol version, hardware version and date (41 bytes).
func versionInfo() []byte {
	b := make([]byte, 0, 41)
	b = append(b, "FGSM"...)
	b = append(b, "SIM00001"...)
	b = append(b, "0100"...)
	b = append(b, 0x01, 0x12, 0x26) // 2026-12-01, A.20 DD MM YY
	b = append(b, "SIMULATOR01"...)
	b = append(b, "12.0"...)
	b = append(b, "0100"...)
	b = append(b, 0x01, 0x12, 0x26)
	return b
}

func (t *Terminal) queryParam(u unitRequest) []replyUnit {
	switch u.fn {
	case 1:
		p, ok := t.params[1]
		if !ok {
			con := byte(0)
			if t.reportCon {
				con = 0x04
			}
			p = []byte{0, 0, 60, 0x30, con, byte(max(1, t.heartbeat/time.Minute))}
		}
		return []replyUnit{{fn: 1, data: p}}
	case 3:
		if p, ok := t.params[3]; ok {
			return []replyUnit{{fn: 3, data: p}}
		}
		return nil
	case 10:
		n := int(uint16(u.data[0]) | uint16(u.data[1])<<8)
		var recs [][]byte
		if n == 0 {
			// NOTE: a query for zero records returns the whole table, a convenience the
			// standard does not define.
			recs = t.table
		}
		for i := 0; i < n; i++ {
			seq := u.data[2+2*i : 4+2*i]
			for _, r := range t.table {
				if r[0] == seq[0] && r[1] == seq[1] {
					recs = append(recs, r)
				}
			}
		}
		// 18 records (488 bytes) per unit, so each frame of a split reply stands alone.
		var out []replyUnit
		for len(recs) > 0 || out == nil {
			k := min(len(recs), 18)
			data := []byte{byte(k), byte(k >> 8)}
			for _, r := range recs[:k] {
				data = append(data, r...)
			}
			out = append(out, replyUnit{fn: 10, data: data})
			recs = recs[k:]
		}
		return out
	}
	return nil
}

// class1 returns the AFN0C data of a measurement point, or nil for an unsupported Fn.
func class1(fn uint8, r meter.Readings, clock time.Time) []byte {
	b := make([]byte, gw376.A15Len, 64)
	gw376.PutA15(b, clock)
	switch fn {
	case 129: // forward active energy: M, total, tariffs 1–M (A.14)
		b = append(b, 4)
		b = appendA14(b, r.Forward[0]+r.Forward[1]+r.Forward[2]+r.Forward[3])
		for _, v := range r.Forward {
			b = appendA14(b, v)
		}
		return b
	case 161: // relay state (00 open, 11H closed), last close and last trip (A.1)
		state := byte(0x11)
		if r.Open {
			state = 0
		}
		b = append(b, state)
		b = appendA1(b, r.LastClose)
		return appendA1(b, r.LastTrip)
	}
	return nil
}

// frozenUnit is AFN0D F161: Td_d echoed, read time, M and the daily frozen forward energy.
// NOTE: the last freeze is returned whatever day Td_d asks for.
func frozenUnit(td []byte, r meter.Readings, clock time.Time) []byte {
	b := append([]byte(nil), td...)
	b = append(b, make([]byte, gw376.A15Len)...)
	gw376.PutA15(b[3:], clock)
	b = append(b, 4)
	b = appendA14(b, r.Frozen[0]+r.Frozen[1]+r.Frozen[2]+r.Frozen[3])
	for _, v := range r.Frozen {
		b = appendA14(b, v)
	}
	return b
}

// appendA14 appends kWh in format A.14: 5 BCD bytes XXXXXX.XXXX, low byte first.
func appendA14(dst []byte, kwh float64) []byte {
	var b [5]byte
	_ = protocol.EncodeBCD(b[:], uint64(math.Round(math.Mod(kwh, 1e6)*1e4)))
	return append(dst, b[:]...)
}

// appendA1 appends t in format A.1, or six EE bytes (no data) for the zero time.
func appendA1(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE)
	}
	var b [gw376.A1Len]byte
	gw376.PutA1(b[:], t.In(dlt645.DefaultLocation()))
	return append(dst, b[:]...)
}
