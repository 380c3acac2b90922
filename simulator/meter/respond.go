package meter

import (
	"math"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// Handle processes one DL/T 645 request frame received at now, as the meter would. It
// returns the reply (nil when the meter stays silent: another address, a broadcast, no
// supply or the silent fault) and how long after the request's last byte the reply starts
// (delay plus the slow fault's extra delay). Byte times on the line are the caller's.
func (m *Meter) Handle(req *dlt645.Frame, now time.Time, delay time.Duration) (*dlt645.Frame, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	if req.Control.IsReply() || m.relay&powerDown != 0 || m.faults.Silent {
		return nil, 0
	}
	if req.Address.IsBroadcast() {
		m.broadcast(req, t)
		return nil, 0
	}
	if !req.Address.Matches(m.address) {
		return nil, 0
	}
	if req.Address.IsWildcard() && !wildcardFunction(m.edition, req.Function()) {
		return nil, 0 // wildcard (AA) addressing is for reads only
	}
	var reply *dlt645.Frame
	if m.edition == dlt645.Edition1997 {
		reply = m.handle1997(req, t)
	} else {
		reply = m.handle2007(req, t)
	}
	return reply, delay + m.faults.Slow
}

// wildcardFunction reports whether a meter answers function fn sent to a wildcard (AA)
// address: reads and read address, never a write or a relay command.
func wildcardFunction(ed dlt645.Edition, fn dlt645.Function) bool {
	if ed == dlt645.Edition1997 {
		return fn == dlt645.Func97Read || fn == dlt645.Func97ReadFollowup
	}
	return fn == dlt645.FuncRead || fn == dlt645.FuncReadFollowup || fn == dlt645.FuncReadAddress
}

// Error bytes of abnormal replies (ERR of 2007; 1997 uses the same bit positions for
// illegal data, wrong identifier and wrong password).
const (
	errOther    = 1 << 0
	errNoData   = 1 << 1
	errPassByte = 1 << 2
)

func (m *Meter) handle2007(req *dlt645.Frame, now int64) *dlt645.Frame {
	fn := req.Function()
	switch fn {
	case dlt645.FuncRead:
		if len(req.Data) < 4 {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		di := le32(req.Data)
		data, ok := m.read2007(di, now)
		if !ok {
			return dlt645.NewErrorReply(m.address, fn, errNoData, false)
		}
		return dlt645.NewReply(m.address, fn, false, data)
	case dlt645.FuncReadFollowup:
		// No simulated identifier needs more than one frame.
		return dlt645.NewErrorReply(m.address, fn, errNoData, false)
	case dlt645.FuncReadAddress:
		return dlt645.NewReply(m.address, fn, false, append([]byte(nil), m.address[:]...))
	case dlt645.FuncWrite:
		return m.write2007(req, now)
	case dlt645.FuncFreeze:
		return dlt645.NewReply(m.address, fn, false, nil)
	case dlt645.FuncRelayControl:
		ok, errWord := m.relayControl(req, now)
		if !ok {
			m.ops.Rejected++
			return dlt645.NewErrorReply(m.address, fn, errWord, true)
		}
		return dlt645.NewReply(m.address, fn, false, nil)
	case dlt645.FuncSecurity:
		reply, serr := m.identityAuth(req, now)
		if serr != 0 {
			return dlt645.NewErrorReply(m.address, fn, serr, true)
		}
		return reply
	}
	return dlt645.NewErrorReply(m.address, fn, errOther, false)
}

func (m *Meter) handle1997(req *dlt645.Frame, now int64) *dlt645.Frame {
	fn := req.Function()
	switch fn {
	case dlt645.Func97Read:
		if len(req.Data) < 2 {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		di := uint16(req.Data[0]) | uint16(req.Data[1])<<8
		m.lastDI = di
		return m.reply1997(fn, di, now)
	case dlt645.Func97Reread:
		if m.lastDI == 0 {
			return dlt645.NewErrorReply(m.address, fn, errNoData, false)
		}
		return m.reply1997(fn, m.lastDI, now)
	case dlt645.Func97ReadFollowup:
		return dlt645.NewErrorReply(m.address, fn, errNoData, false)
	}
	// 1997 defines no relay control and no 2007 function: the meter answers an abnormal
	// reply with ERR bit 0 (illegal data).
	// NOTE: some 1997 meters stay silent on an unknown function code instead.
	return dlt645.NewErrorReply(m.address, fn, errOther, false)
}

func (m *Meter) reply1997(fn dlt645.Function, di uint16, now int64) *dlt645.Frame {
	data, ok := m.read1997(di, now)
	if !ok {
		return dlt645.NewErrorReply(m.address, fn, errNoData, false)
	}
	return dlt645.NewReply(m.address, fn, false, data)
}

// broadcast handles a frame to 999999999999: broadcast time (0x08) within 5 minutes of
// the meter clock and at most once per local day, as SGCC meters restrict it.
func (m *Meter) broadcast(req *dlt645.Frame, now int64) {
	if req.Function() != dlt645.FuncBroadcastTime || len(req.Data) != 6 {
		return
	}
	t, ok := bcdDeadline(req.Data)
	if !ok {
		return
	}
	clock := m.clock(now)
	diff := t.Sub(clock)
	day := int32(lastMidnight(clock.Unix()) / 86400)
	if diff.Abs() >= 5*time.Minute || day == m.lastBC {
		return
	}
	m.lastBC = day
	m.skew += int64(diff)
}

// write2007 handles 0x14: DI(4), PA P0 P1 P2, C0..C3, data. Plain meters accept writes of
// the clock (0400010C) and the trip delay (04001401) with the plain password. Cost-control
// meters protect them at the encrypted levels, which the simulator does not model, so they
// reject every write.
func (m *Meter) write2007(req *dlt645.Frame, now int64) *dlt645.Frame {
	fn := req.Function()
	if len(req.Data) < 12 {
		return dlt645.NewErrorReply(m.address, fn, errOther, false)
	}
	var pw dlt645.Password
	copy(pw[:], req.Data[5:8])
	level := req.Data[4]
	if m.cost || (level != dlt645.LevelPlain02 && level != dlt645.LevelPlain04) ||
		pw != m.password || m.faults.WrongPassword {
		return dlt645.NewErrorReply(m.address, fn, errPassByte, false)
	}
	value := req.Data[12:]
	switch le32(req.Data) {
	case 0x0400010C: // YYMMDDWWhhmmss, sent ss mm hh WW DD MM YY
		if len(value) != 7 {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		b := []byte{value[0], value[1], value[2], value[4], value[5], value[6]}
		t, ok := bcdDeadline(b)
		if !ok {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		m.skew += int64(t.Sub(m.clock(now)))
	case 0x04001401:
		if len(value) != 2 {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		v, err := protocol.DecodeBCD(value)
		if err != nil {
			return dlt645.NewErrorReply(m.address, fn, errOther, false)
		}
		m.tripDelay = int32(v * 60)
	default:
		return dlt645.NewErrorReply(m.address, fn, errPassByte, false)
	}
	return dlt645.NewReply(m.address, fn, false, nil)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// snapshot holds the values of one read, computed once.
type snapshot struct {
	fwd              [4]float64
	rev              float64
	volts, amps, kw  float64
	hz               float64
	clock            time.Time
	frozen           [4]float64
	frozeAt          int64
	remaining, owing float64
}

func (m *Meter) snapshot(now int64) *snapshot {
	s := &snapshot{}
	s.fwd, s.rev = m.registers(now)
	s.volts, s.amps, s.kw, s.hz = m.instant(now)
	s.clock = m.clock(now)
	s.frozen, s.frozeAt = m.frozen, m.frozeAt
	if mid := lastMidnight(now / 1e9); mid > m.frozeAt {
		s.frozen, _ = m.registers(mid * 1e9)
		s.frozeAt = mid
	}
	s.remaining, s.owing = m.balance(sum4(s.fwd))
	return s
}

// item is one data identifier the simulated meter can read: the value's size in bytes and
// the function that writes it into dst (len(dst) == size), low byte first.
type item struct {
	size int
	put  func(m *Meter, s *snapshot, dst []byte)
}

// energy4 writes kWh as XXXXXX.XX in 4 BCD bytes; registers roll over at 1,000,000 kWh.
func energy4(v float64, dst []byte) { putBCD(dst, math.Mod(v, 1e6), 2) }

// putBCD writes v with the given decimals as BCD, low byte first. A negative v sets the
// sign bit of the top byte, which is the 2007 convention for signed values.
func putBCD(dst []byte, v float64, decimals int) {
	neg := v < 0
	raw := uint64(math.Round(math.Abs(v) * math.Pow10(decimals)))
	limit := uint64(1)
	for range dst {
		limit *= 100
	}
	_ = protocol.EncodeBCD(dst, raw%limit)
	if neg {
		dst[len(dst)-1] |= 0x80
	}
}

func putTime(dst []byte, t time.Time, layout []int) {
	for i, f := range layout {
		var v int
		switch f {
		case 's':
			v = t.Second()
		case 'm':
			v = t.Minute()
		case 'h':
			v = t.Hour()
		case 'D':
			v = t.Day()
		case 'M':
			v = int(t.Month())
		case 'Y':
			v = t.Year() % 100
		case 'W':
			v = int(t.Weekday())
		}
		dst[i] = protocol.ToBCD(v)
	}
}

// Wire orders of the date and time formats (low byte first).
var (
	layoutYMDW    = []int{'W', 'D', 'M', 'Y'}
	layoutHMS     = []int{'s', 'm', 'h'}
	layoutYMDWHMS = []int{'s', 'm', 'h', 'W', 'D', 'M', 'Y'}
	layoutYMDHMS  = []int{'s', 'm', 'h', 'D', 'M', 'Y'}
	layoutYMDHM   = []int{'m', 'h', 'D', 'M', 'Y'}
)

func putUnixTime(dst []byte, unix int64) {
	if unix == 0 {
		return // never happened: all zero
	}
	putTime(dst, time.Unix(unix, 0).In(dlt645.DefaultLocation()), layoutYMDHMS)
}

// energyBlock writes total then tariffs 1–4, 4 bytes each.
func energyBlock(v [4]float64, dst []byte) {
	energy4(sum4(v), dst[0:4])
	for i := range v {
		energy4(v[i], dst[4+4*i:8+4*i])
	}
}

func revTariffs(s *snapshot) [4]float64 {
	// Reverse energy is split over the tariffs in the forward proportions.
	total := sum4(s.fwd)
	var out [4]float64
	for i := range out {
		if total > 0 {
			out[i] = s.rev * s.fwd[i] / total
		}
	}
	return out
}

// items2007 is the 2007 identifier table of the simulated meter, one row per DI.
var items2007 = map[uint32]item{
	0x00000000: {4, func(m *Meter, s *snapshot, d []byte) { energy4(sum4(s.fwd)+s.rev, d) }},
	0x00010000: {4, func(m *Meter, s *snapshot, d []byte) { energy4(sum4(s.fwd), d) }},
	0x00010100: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[0], d) }},
	0x00010200: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[1], d) }},
	0x00010300: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[2], d) }},
	0x00010400: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[3], d) }},
	0x0001FF00: {20, func(m *Meter, s *snapshot, d []byte) { energyBlock(s.fwd, d) }},
	0x00020000: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.rev, d) }},
	0x0002FF00: {20, func(m *Meter, s *snapshot, d []byte) { energyBlock(revTariffs(s), d) }},
	0x02010100: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.volts, 1) }},
	0x0201FF00: {6, func(m *Meter, s *snapshot, d []byte) { putBCD(d[0:2], s.volts, 1) }},
	0x02020100: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.amps, 3) }},
	0x0202FF00: {9, func(m *Meter, s *snapshot, d []byte) { putBCD(d[0:3], s.amps, 3) }},
	0x02030000: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.kw, 4) }},
	0x02030100: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.kw, 4) }},
	0x02060000: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, pfOf(s), 3) }},
	0x02800002: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.hz, 2) }},
	0x04000101: {4, func(m *Meter, s *snapshot, d []byte) { putTime(d, s.clock, layoutYMDW) }},
	0x04000102: {3, func(m *Meter, s *snapshot, d []byte) { putTime(d, s.clock, layoutHMS) }},
	0x0400010C: {7, func(m *Meter, s *snapshot, d []byte) { putTime(d, s.clock, layoutYMDWHMS) }},
	0x04000401: {6, func(m *Meter, s *snapshot, d []byte) { copy(d, m.address[:]) }},
	0x04000402: {6, func(m *Meter, s *snapshot, d []byte) { copy(d, m.number[:]) }},
	0x04001401: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, float64(m.tripDelay/60), 0) }},
	0x040005FF: {14, func(m *Meter, s *snapshot, d []byte) {
		for w := 1; w <= 7; w++ {
			v := m.statusWord(w, 0)
			d[2*w-2], d[2*w-1] = byte(v), byte(v>>8)
		}
	}},
	0x1D000001: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, float64(m.tripCount), 0) }},
	0x1D000101: {6, func(m *Meter, s *snapshot, d []byte) { putUnixTime(d, m.lastTrip) }},
	0x1D000201: {4, func(m *Meter, s *snapshot, d []byte) { copy(d, m.tripOp[:]) }},
	0x1E000001: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, float64(m.closeCount), 0) }},
	0x1E000101: {6, func(m *Meter, s *snapshot, d []byte) { putUnixTime(d, m.lastClose) }},
	0x1E000201: {4, func(m *Meter, s *snapshot, d []byte) { copy(d, m.closeOp[:]) }},
	0x05060001: {5, func(m *Meter, s *snapshot, d []byte) {
		if s.frozeAt != 0 {
			putTime(d, time.Unix(s.frozeAt, 0).In(dlt645.DefaultLocation()), layoutYMDHM)
		}
	}},
	0x05060101: {20, func(m *Meter, s *snapshot, d []byte) { energyBlock(s.frozen, d) }},
}

// prepaidItems are readable on money-prepay (cost-control) meters only.
var prepaidItems = map[uint32]item{
	0x00900200: {4, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.remaining, 2) }},
	0x00900201: {4, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.owing, 2) }},
}

func init() {
	for w := 1; w <= 7; w++ {
		word := w
		items2007[0x04000500+uint32(word)] = item{2, func(m *Meter, s *snapshot, d []byte) {
			v := m.statusWord(word, 0)
			d[0], d[1] = byte(v), byte(v>>8)
		}}
	}
}

func pfOf(s *snapshot) float64 {
	if s.kw == 0 {
		return 1
	}
	return 0.98
}

// read2007 returns the reply data (DI then value) of a 2007 read, or false when the meter
// has no such identifier.
func (m *Meter) read2007(di uint32, now int64) ([]byte, bool) {
	it, ok := items2007[di]
	if !ok && m.cost {
		it, ok = prepaidItems[di]
	}
	if !ok {
		return nil, false
	}
	data := make([]byte, 4+it.size)
	data[0], data[1], data[2], data[3] = byte(di), byte(di>>8), byte(di>>16), byte(di>>24)
	it.put(m, m.snapshot(now), data[4:])
	return data, true
}

// items1997 is the 1997 identifier table, one row per DI.
var items1997 = map[uint16]item{
	0x9010: {4, func(m *Meter, s *snapshot, d []byte) { energy4(sum4(s.fwd), d) }},
	0x9011: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[0], d) }},
	0x9012: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[1], d) }},
	0x9013: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[2], d) }},
	0x9014: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.fwd[3], d) }},
	0x901F: {20, func(m *Meter, s *snapshot, d []byte) { energyBlock(s.fwd, d) }},
	0x9020: {4, func(m *Meter, s *snapshot, d []byte) { energy4(s.rev, d) }},
	0xB611: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.volts, 0) }},
	0xB621: {2, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.amps, 2) }},
	0xB630: {3, func(m *Meter, s *snapshot, d []byte) { putBCD(d, s.kw, 4) }},
	0xC010: {4, func(m *Meter, s *snapshot, d []byte) { putTime(d, s.clock, layoutYMDW) }},
	0xC011: {3, func(m *Meter, s *snapshot, d []byte) { putTime(d, s.clock, layoutHMS) }},
	0xC020: {1, func(m *Meter, s *snapshot, d []byte) {}},
	0xC032: {6, func(m *Meter, s *snapshot, d []byte) { copy(d, m.number[:]) }},
}

func (m *Meter) read1997(di uint16, now int64) ([]byte, bool) {
	it, ok := items1997[di]
	if !ok {
		return nil, false
	}
	data := make([]byte, 2+it.size)
	data[0], data[1] = byte(di), byte(di>>8)
	it.put(m, m.snapshot(now), data[2:])
	return data, true
}

// ByteTime is the time one byte takes on a DL/T 645 line at baud: 11 bits (start, 8 data,
// even parity, stop).
func ByteTime(baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(11 * int64(time.Second) / int64(baud))
}
