package meter

import (
	"math"
	"sync"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/protocol"
)

// Config describes one simulated meter. The zero values of the optional fields give a
// 2400-baud meter with a 1 kW mean load.
type Config struct {
	Address protocol.MeterAddress
	// Number is the meter number (表号); the zero value means the same as Address.
	Number protocol.MeterAddress
	// Edition is dlt645.Edition2007 or dlt645.Edition1997; 1997 meters are read-only.
	Edition dlt645.Edition
	// CostControl makes a 2007 meter a cost-control (费控) meter: plain passwords close
	// only, every other relay command needs PA=98 after identity authentication.
	CostControl bool
	// Password is the plain password the meter accepts at levels 02 and 04.
	Password dlt645.Password
	// Baud is the line baud rate; 0 means 2400 (2007) or 1200 (1997).
	Baud int
	// LoadKW is the mean active power of the customer's load.
	LoadKW float64
	// InitialKWh is the forward active energy total at Start.
	InitialKWh float64
	// Start is when the registers held InitialKWh.
	Start time.Time
	// TripDelay delays the relay opening after an accepted trip; the pre-trip alarm (status
	// word 3 bit 7) is on meanwhile.
	TripDelay time.Duration
	// BalanceYuan is the prepaid money at Start of a money-prepay meter (cost-control
	// meters are money-prepay); it falls by PriceYuan per kWh.
	BalanceYuan float64
	// Phase shifts the daily load and voltage curves, so meters do not move in lockstep.
	Phase float64
	// ClockSkew is how far the meter clock runs from real time at the start; time writes
	// and broadcast time correct it.
	ClockSkew time.Duration
	// Modbus marks a Modbus relay meter: the same physics, reported as protocol "modbus".
	Modbus bool
	// Secret is the master secret shared with the gateway's encryption test double; the
	// meter derives its key from it and its meter number. Nil makes every identity
	// authentication fail. The meter keeps a reference, not a copy.
	Secret []byte
}

// PriceYuan is the flat price the simulated balance uses, in yuan per kWh.
const PriceYuan = 0.5

// Relay state bits of Meter.relay.
const (
	relayOpen     = 1 << iota // actual relay open (status word 3 bit 4)
	commandOpen               // relay command state open (bit 6)
	preTripAlarm              // pre-trip alarm (bit 7), during the trip delay
	alarmOn                   // alarm command (2A) in force
	guaranteeOn               // power guarantee (bit 12)
	closeAllowed              // allow-close received, waiting for the button
	powerDown                 // the meter has no supply (status word 7 bit 5)
	authenticated             // identity authentication in force (bit 13)
)

// Meter is one simulated meter. Its registers are computed from time on demand, so a
// meter costs no goroutine and no timer.
type Meter struct {
	mu sync.Mutex

	address  protocol.MeterAddress
	number   protocol.MeterAddress
	password dlt645.Password
	edition  dlt645.Edition
	cost     bool
	modbus   bool
	baud     int32
	loadKW   float32
	phase    float32
	secret   []byte
	esam     *secdouble.Meter // created at the first identity authentication

	// Energy integration: the registers at since, integrated further on demand while
	// power flows.
	since   int64      // unix nanoseconds
	tariff  [4]float64 // forward active kWh per tariff 1–4 (sharp, peak, flat, valley)
	reverse float64    // reverse active kWh
	frozen  [4]float64 // forward kWh per tariff at the last daily freeze (midnight)
	frozeAt int64      // unix seconds of that midnight, 0 before the first

	balance0 float32 // prepaid yuan at balanceAt
	balKWh   float64 // forward total when balance0 was set
	skew     int64   // clock offset in nanoseconds, set by time writes
	lastBC   int32   // local day number of the last accepted broadcast time set

	relay      uint8
	tripDelay  int32 // seconds
	tripAt     int64 // unix nanoseconds of a pending delayed trip, 0 if none
	restoreAt  int64 // unix nanoseconds of a pending auto-restore, 0 if none
	authUntil  int64 // unix nanoseconds when identity authentication lapses
	tripCount  uint32
	closeCount uint32
	lastTrip   int64 // unix seconds, 0 if never
	lastClose  int64
	tripOp     dlt645.OperatorCode
	closeOp    dlt645.OperatorCode

	locks       [2]passwordLock // levels 02 and 04
	macFailures uint8
	suspended   int64 // unix nanoseconds until which secured commands are refused

	ops    Operations
	faults Faults
	lastDI uint16 // 1997 identifier of the last read, for re-read (0x03)
}

// passwordLock counts wrong passwords of one level within 24 h.
type passwordLock struct {
	count       uint8
	first       int64 // unix nanoseconds of the first wrong password in the window
	lockedUntil int64
}

// Operations counts the relay commands the meter accepted (replied 9C), by action, and
// those it rejected.
type Operations struct {
	Trip             uint32 `json:"trip"`
	AllowClose       uint32 `json:"allow_close"`
	Close            uint32 `json:"close"`
	Alarm            uint32 `json:"alarm"`
	AlarmRelease     uint32 `json:"alarm_release"`
	Guarantee        uint32 `json:"guarantee"`
	GuaranteeRelease uint32 `json:"guarantee_release"`
	Rejected         uint32 `json:"rejected"`
}

// New returns a meter in its initial state: relay closed, no guarantee, clock exact.
func New(c Config) *Meter {
	m := &Meter{
		address:  c.Address,
		number:   c.Number,
		password: c.Password,
		edition:  c.Edition,
		cost:     c.CostControl && c.Edition == dlt645.Edition2007 && !c.Modbus,
		modbus:   c.Modbus,
		baud:     int32(c.Baud),
		loadKW:   float32(c.LoadKW),
		phase:    float32(c.Phase),
		secret:   c.Secret,
		since:    c.Start.UnixNano(),
		balance0: float32(c.BalanceYuan),
		balKWh:   c.InitialKWh,
		skew:     int64(c.ClockSkew),
	}
	if m.number == (protocol.MeterAddress{}) {
		m.number = m.address
	}
	if m.edition == 0 {
		m.edition = dlt645.Edition2007
	}
	if m.baud == 0 {
		m.baud = 2400
		if m.edition == dlt645.Edition1997 {
			m.baud = 1200
		}
	}
	if m.loadKW <= 0 {
		m.loadKW = 1
	}
	m.tripDelay = int32(c.TripDelay / time.Second)
	// Split the initial energy over the tariffs in the proportions of a typical day.
	day := m.dayIntegral()
	var sum float64
	for _, v := range day {
		sum += v
	}
	for i := range m.tariff {
		m.tariff[i] = c.InitialKWh * day[i] / sum
	}
	m.reverse = c.InitialKWh * reverseShare
	return m
}

// Address returns the meter's communication address.
func (m *Meter) Address() protocol.MeterAddress { return m.address }

// Edition returns the meter's DL/T 645 edition.
func (m *Meter) Edition() dlt645.Edition { return m.edition }

// Baud returns the meter's line baud rate.
func (m *Meter) Baud() int { return int(m.baud) }

// CostControl reports whether the meter is a cost-control meter.
func (m *Meter) CostControl() bool { return m.cost }

// The load profile: P(t) = L × (1 + swing × sin(ωt + phase)), ω one turn a day, so the
// energy over any interval has a closed form and no per-meter timer is needed.
const (
	swing        = 0.5
	omega        = 2 * math.Pi / 86400
	reverseShare = 0.01 // reverse energy grows at 1% of the mean load (a small PV export)
	cstOffset    = 8 * 3600
)

// tariffOfHour maps the local hour (UTC+8) to tariff index 0–3: sharp, peak, flat, valley.
var tariffOfHour = [24]uint8{
	3, 3, 3, 3, 3, 3, 3, // 00–07 valley
	2,    // 07–08 flat
	1, 1, // 08–10 peak
	0, 0, // 10–12 sharp
	1, 1, 1, // 12–15 peak
	2, 2, 2, // 15–18 flat
	1,    // 18–19 peak
	0, 0, // 19–21 sharp
	1, 1, // 21–23 peak
	3, // 23–24 valley
}

// integral returns the load's energy in kWh between unix seconds t0 and t1 (t0 ≤ t1).
func (m *Meter) integral(t0, t1 float64) float64 {
	ph := float64(m.phase)
	kws := t1 - t0 + swing/omega*(math.Cos(omega*t0+ph)-math.Cos(omega*t1+ph))
	return float64(m.loadKW) * kws / 3600
}

// dayIntegral returns the energy of one whole local day per tariff. The load's period is
// one day, so every whole day gives the same vector.
func (m *Meter) dayIntegral() [4]float64 {
	var out [4]float64
	base := float64(20000 * 86400) // any local midnight
	base -= cstOffset
	for h := 0; h < 24; h++ {
		out[tariffOfHour[h]] += m.integral(base+float64(h)*3600, base+float64(h+1)*3600)
	}
	return out
}

// addEnergy adds to acc the forward energy per tariff between unix seconds t0 and t1.
func (m *Meter) addEnergy(acc *[4]float64, t0, t1 float64) {
	if t1 <= t0 {
		return
	}
	// Whole days in the middle contribute a constant vector each.
	const day = 86400
	if t1-t0 > 2*day {
		nextMidnight := math.Floor((t0+cstOffset)/day)*day + day - cstOffset
		days := math.Floor((t1 - nextMidnight) / day)
		if days >= 1 {
			m.addEnergy(acc, t0, nextMidnight)
			d := m.dayIntegral()
			for i := range acc {
				acc[i] += d[i] * days
			}
			t0 = nextMidnight + days*day
		}
	}
	for t0 < t1 {
		hourEnd := math.Floor(t0/3600)*3600 + 3600
		end := math.Min(hourEnd, t1)
		hour := int(math.Mod(math.Floor((t0+cstOffset)/3600), 24))
		acc[tariffOfHour[hour]] += m.integral(t0, end)
		t0 = end
	}
}

// flowing reports whether power reaches the load: the relay is closed, or it is open and
// bypassed, and the meter has supply.
func (m *Meter) flowing() bool {
	if m.relay&powerDown != 0 {
		return false
	}
	return m.relay&relayOpen == 0 || m.faults.Bypass
}

// registers returns forward energy per tariff and reverse energy at now, without changing
// the meter.
func (m *Meter) registers(now int64) (fwd [4]float64, rev float64) {
	fwd, rev = m.tariff, m.reverse
	if m.flowing() && now > m.since {
		t0, t1 := float64(m.since)/1e9, float64(now)/1e9
		m.addEnergy(&fwd, t0, t1)
		rev += float64(m.loadKW) * reverseShare * (t1 - t0) / 3600
	}
	return fwd, rev
}

// settle brings the registers up to now, recording the daily freeze at the last local
// midnight on the way. Call it before any change that alters flowing().
func (m *Meter) settle(now int64) {
	if now <= m.since {
		return
	}
	midnight := lastMidnight(now / 1e9)
	if midnight*1e9 > m.since && midnight > m.frozeAt {
		m.frozen, _ = m.registers(midnight * 1e9)
		m.frozeAt = midnight
	}
	m.tariff, m.reverse = m.registers(now)
	m.since = now
}

// lastMidnight returns the unix seconds of the local (UTC+8) midnight at or before t.
func lastMidnight(t int64) int64 {
	return (t+cstOffset)/86400*86400 - cstOffset
}

// advance applies the timers that have expired by now: a delayed trip opening the relay,
// an auto-restore closing it, identity authentication lapsing.
func (m *Meter) advance(now int64) {
	if m.tripAt != 0 && now >= m.tripAt {
		at := m.tripAt
		m.tripAt = 0
		m.relay &^= preTripAlarm
		if m.relay&commandOpen != 0 {
			m.openRelay(at)
		}
	}
	if m.restoreAt != 0 && now >= m.restoreAt {
		at := m.restoreAt
		m.restoreAt = 0
		m.relay &^= commandOpen
		m.closeRelay(at, m.tripOp)
	}
	if m.authUntil != 0 && now >= m.authUntil {
		m.authUntil = 0
		m.relay &^= authenticated
		if m.esam != nil {
			m.esam.EndSession()
		}
	}
}

// openRelay opens the relay at the given time unless the relay_stuck fault holds it.
func (m *Meter) openRelay(at int64) {
	if m.relay&relayOpen != 0 || m.faults.RelayStuck {
		return
	}
	m.settle(at)
	m.relay |= relayOpen
	m.tripCount++
	m.lastTrip = at / 1e9
}

// closeRelay closes the relay at the given time unless the relay_stuck fault holds it.
func (m *Meter) closeRelay(at int64, op dlt645.OperatorCode) {
	m.relay &^= closeAllowed
	if m.relay&relayOpen == 0 || m.faults.RelayStuck {
		return
	}
	m.settle(at)
	m.relay &^= relayOpen
	m.closeCount++
	m.lastClose = at / 1e9
	m.closeOp = op
}

// clock returns the meter's clock at real time now.
func (m *Meter) clock(now int64) time.Time {
	return time.Unix(0, now+m.skew+int64(m.faults.ClockSkew)).In(dlt645.DefaultLocation())
}

// instant returns the instantaneous voltage (V), current (A), active power (kW) and
// frequency (Hz) at now.
func (m *Meter) instant(now int64) (volts, amps, kw, hz float64) {
	t := float64(now) / 1e9
	ph := float64(m.phase)
	volts = 220 + 4*math.Sin(omega*t*3+ph)
	hz = 50 + 0.02*math.Sin(omega*t*7+ph)
	if m.relay&powerDown != 0 {
		return 0, 0, 0, 0
	}
	if m.flowing() {
		kw = float64(m.loadKW) * (1 + swing*math.Sin(omega*t+ph))
	}
	amps = kw * 1000 / volts
	return volts, amps, kw, hz
}

// statusWord3 assembles status word 3 from the relay state.
func (m *Meter) statusWord3() uint16 {
	var w uint16
	if m.relay&relayOpen != 0 {
		w |= dlt645.Word3RelayOpen
	}
	if m.relay&commandOpen != 0 {
		w |= dlt645.Word3RelayCommand
	}
	if m.relay&(preTripAlarm|alarmOn) != 0 {
		w |= dlt645.Word3PreTripAlarm
	}
	if m.relay&guaranteeOn != 0 {
		w |= dlt645.Word3Guarantee
	}
	if m.cost {
		w |= 2 << 8 // meter type: money prepay
		w |= dlt645.Word3RemoteAccount
		if m.relay&authenticated != 0 {
			w |= dlt645.Word3IdentityAuth
		}
	}
	return w
}

// statusWord returns status word n (1–7).
func (m *Meter) statusWord(n int, now int64) uint16 {
	switch n {
	case 1:
		return 0
	case 3:
		return m.statusWord3()
	case 7:
		if m.relay&powerDown != 0 {
			return 1 << 5
		}
	}
	return 0
}

// balance returns the remaining money and the overdraft in yuan at forward total fwd.
func (m *Meter) balance(fwdTotal float64) (remaining, overdraft float64) {
	b := float64(m.balance0) - (fwdTotal-m.balKWh)*PriceYuan
	if b >= 0 {
		return b, 0
	}
	return 0, -b
}

func sum4(v [4]float64) float64 { return v[0] + v[1] + v[2] + v[3] }
