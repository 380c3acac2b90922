package meter

import (
	"errors"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// Security is the meter side of the encryption test double: the ESAM of a cost-control
// meter. Both methods are called with the meter's lock held and must not block.
type Security interface {
	// Authenticate checks an identity-authentication request (function 0x03, DI 070000FF)
	// whose data after the DI is payload, for the meter with this number. It returns the
	// reply data after the DI and the session that later MAC checks use.
	Authenticate(number protocol.MeterAddress, payload []byte) (reply []byte, session [8]byte, err error)
	// OpenRelay checks the MAC of an encrypted relay-control payload (the data after PA
	// P0 P1 P2 C0..C3) with the session and returns the plaintext N1..N8.
	OpenRelay(number protocol.MeterAddress, session [8]byte, payload []byte) (plain [8]byte, err error)
}

// Limits of the password and MAC checks.
const (
	// WrongPasswordLimit wrong passwords of one level within LockWindow lock the level
	// for LockWindow.
	WrongPasswordLimit = 3
	LockWindow         = 24 * time.Hour
	// MACFailureLimit consecutive MAC failures suspend (挂起) the secured commands for
	// LockWindow.
	MACFailureLimit = 5
	// AuthValidity is how long an identity authentication stays in force.
	AuthValidity = 30 * time.Minute
)

// Bits of the 2-byte error word of an abnormal relay-control reply (0xDC, L=2). The
// simulator sends this form for every rejected 2007 relay command, so that each reason
// stays distinct.
const (
	errSuspended     = 1 << 0 // 电表挂起
	errMAC           = 1 << 1 // MAC错误
	errPassword      = 1 << 2 // 密码错/未授权
	errAuthTimeout   = 1 << 3 // 身份认证超时
	errDeadline      = 1 << 4 // 执行时间无效
	errGuaranteeTrip = 1 << 5 // 跳闸失败(保电)
)

// relayControl handles a 0x1C request and returns the reply data or the error word.
func (m *Meter) relayControl(f *dlt645.Frame, now int64) (ok bool, errWord uint16) {
	if m.relay&powerDown != 0 {
		return false, errSuspended
	}
	var cmd *dlt645.RelayCommand
	if len(f.Data) >= 1 && f.Data[0] == dlt645.LevelEncrypted {
		var errWord uint16
		cmd, errWord = m.openEncrypted(f.Data, now)
		if errWord != 0 {
			return false, errWord
		}
	} else {
		c, err := dlt645.ParseRelayRequest(f, dlt645.DefaultLocation())
		if err != nil {
			return false, errPassword
		}
		if errWord := m.checkPlain(c, now); errWord != 0 {
			return false, errWord
		}
		cmd = c
	}
	if !cmd.Deadline.After(m.clock(now)) {
		return false, errDeadline
	}
	return m.apply(cmd, now)
}

// checkPlain checks the password level, the password and what a plain password may do.
func (m *Meter) checkPlain(c *dlt645.RelayCommand, now int64) uint16 {
	var lock *passwordLock
	switch c.Level {
	case dlt645.LevelPlain02:
		lock = &m.locks[0]
	case dlt645.LevelPlain04:
		lock = &m.locks[1]
	default:
		return errPassword
	}
	if lock.lockedUntil > now {
		return errPassword
	}
	if c.Password != m.password || m.faults.WrongPassword {
		if lock.count == 0 || now-lock.first > int64(LockWindow) {
			lock.count, lock.first = 0, now
		}
		lock.count++
		if lock.count >= WrongPasswordLimit {
			lock.lockedUntil = now + int64(LockWindow)
			lock.count = 0
		}
		return errPassword
	}
	lock.count = 0
	// A cost-control meter takes a plain password only for closing.
	if m.cost && c.Action != dlt645.ActionAllowClose && c.Action != dlt645.ActionClose {
		return errPassword
	}
	return 0
}

// openEncrypted checks a PA=98 relay-control request through the meter's ESAM.
func (m *Meter) openEncrypted(data []byte, now int64) (*dlt645.RelayCommand, uint16) {
	if !m.cost {
		return nil, errPassword
	}
	if m.suspended > now {
		return nil, errSuspended
	}
	if m.relay&authenticated == 0 {
		return nil, errAuthTimeout
	}
	if len(data) < 8 {
		return nil, errMAC
	}
	var plain [8]byte
	var err error
	if m.security == nil || m.faults.SecurityFailure {
		err = errors.New("MAC check failed")
	} else {
		plain, err = m.security.OpenRelay(m.number, m.session, data[8:])
	}
	if err != nil {
		m.macFailures++
		if m.macFailures >= MACFailureLimit {
			m.macFailures = 0
			m.suspended = now + int64(LockWindow)
		}
		return nil, errMAC
	}
	m.macFailures = 0
	c := &dlt645.RelayCommand{Level: dlt645.LevelEncrypted, Action: dlt645.RelayAction(plain[0]),
		N2: plain[1]}
	copy(c.Operator[:], data[4:8])
	deadline, ok := bcdDeadline(plain[2:8])
	if !ok {
		return nil, errDeadline
	}
	c.Deadline = deadline
	return c, 0
}

// bcdDeadline reads ss mm hh DD MM YY in the meter's zone.
func bcdDeadline(b []byte) (time.Time, bool) {
	var v [6]int
	for i := range v {
		n, err := protocol.FromBCD(b[i])
		if err != nil {
			return time.Time{}, false
		}
		v[i] = n
	}
	t := time.Date(2000+v[5], time.Month(v[4]), v[3], v[2], v[1], v[0], 0, dlt645.DefaultLocation())
	if t.Day() != v[3] || v[4] < 1 || v[4] > 12 {
		return time.Time{}, false
	}
	return t, true
}

// apply executes an accepted relay command.
func (m *Meter) apply(c *dlt645.RelayCommand, now int64) (bool, uint16) {
	switch c.Action {
	case dlt645.ActionTrip, dlt645.ActionTripAutoRestore, dlt645.ActionTripAutoRestore2:
		if m.relay&guaranteeOn != 0 {
			return false, errGuaranteeTrip
		}
		m.relay |= commandOpen
		m.relay &^= closeAllowed
		m.tripOp = c.Operator
		m.restoreAt = 0
		if m.tripDelay > 0 {
			m.relay |= preTripAlarm
			m.tripAt = now + int64(m.tripDelay)*1e9
		} else {
			m.openRelay(now)
		}
		if c.Action != dlt645.ActionTrip {
			// N2 is the restore delay in units of 5 minutes; see the NOTE in dlt645 on
			// which of 1D and 1E restores how: both restore by closing here.
			m.restoreAt = now + int64(m.tripDelay)*1e9 + int64(c.N2)*int64(5*time.Minute)
		}
		m.ops.Trip++
	case dlt645.ActionAllowClose:
		m.cancelTrip()
		if m.relay&relayOpen != 0 {
			m.relay |= closeAllowed
		}
		m.closeOp = c.Operator
		m.ops.AllowClose++
	case dlt645.ActionClose:
		m.cancelTrip()
		m.closeRelay(now, c.Operator)
		m.ops.Close++
	case dlt645.ActionAlarm:
		m.relay |= alarmOn
		m.ops.Alarm++
	case dlt645.ActionAlarmRelease:
		m.relay &^= alarmOn
		m.ops.AlarmRelease++
	case dlt645.ActionGuarantee:
		m.relay |= guaranteeOn
		m.ops.Guarantee++
	case dlt645.ActionGuaranteeRelease:
		if m.faults.GuaranteeOn {
			return false, errPassword
		}
		m.relay &^= guaranteeOn
		m.ops.GuaranteeRelease++
	default:
		return false, errPassword
	}
	return true, 0
}

// cancelTrip withdraws a trip command: the command state returns to closed and a pending
// delayed trip is dropped.
func (m *Meter) cancelTrip() {
	m.relay &^= commandOpen | preTripAlarm
	m.tripAt = 0
	m.restoreAt = 0
}

// identityAuth handles a 0x03 request: DI(4) then the payload.
func (m *Meter) identityAuth(f *dlt645.Frame, now int64) (reply []byte, serr uint16) {
	const (
		serrOther = 1 << 0
		serrESAM  = 1 << 2
		serrAuth  = 1 << 3
	)
	if !m.cost || len(f.Data) < 4 {
		return nil, serrOther
	}
	di := uint32(f.Data[0]) | uint32(f.Data[1])<<8 | uint32(f.Data[2])<<16 | uint32(f.Data[3])<<24
	if di != identityAuthDI {
		return nil, serrOther
	}
	if m.suspended > now {
		return nil, 1 << 8 // 电表挂起
	}
	if m.security == nil || m.faults.SecurityFailure {
		return nil, serrAuth
	}
	m.authUntil = now + int64(AuthValidity)
	out, session, err := m.security.Authenticate(m.number, f.Data[4:])
	if err != nil {
		m.authUntil = 0
		return nil, serrAuth | serrESAM
	}
	m.session = session
	m.relay |= authenticated
	return append(f.Data[:4:4], out...), 0
}

// identityAuthDI is the DI of identity authentication (身份认证), 070000FF.
const identityAuthDI = 0x070000FF
