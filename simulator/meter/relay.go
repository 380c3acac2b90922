package meter

import (
	"errors"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/protocol"
)

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
		cmd, errWord = m.openEncrypted(f, now)
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

// openEncrypted checks a PA=98 relay-control request through the meter's ESAM (the
// encryption test double) and returns the command it carries.
func (m *Meter) openEncrypted(f *dlt645.Frame, now int64) (*dlt645.RelayCommand, uint16) {
	if !m.cost {
		return nil, errPassword
	}
	if m.suspended > now {
		return nil, errSuspended
	}
	if m.relay&authenticated == 0 || m.esam == nil {
		return nil, errAuthTimeout
	}
	req, err := dlt645.ParseEncryptedRelayRequest(f)
	if err != nil {
		return nil, errMAC
	}
	var plain []byte
	if m.faults.SecurityFailure {
		err = secdouble.ErrMAC
	} else {
		plain, err = m.esam.DecryptRelayControl(req.CipherMAC)
	}
	if errors.Is(err, secdouble.ErrNoSession) {
		return nil, errAuthTimeout
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
	action, n2, deadline, err := dlt645.ParseRelayPlaintext(plain, dlt645.DefaultLocation())
	if err != nil {
		return nil, errDeadline
	}
	return &dlt645.RelayCommand{Level: dlt645.LevelEncrypted, Action: action, N2: n2,
		Operator: req.Operator, Deadline: deadline}, 0
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
			// N2 is the restore delay in units of 5 minutes. Sources disagree on which of
			// 1D and 1E restores to close allowed, so both close the relay here.
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

// identityAuth handles a 0x03 request. Only identity authentication (DI 070000FF) is
// simulated; it returns the 0x83 reply or the SERR word of a 0xC3 reply.
func (m *Meter) identityAuth(f *dlt645.Frame, now int64) (*dlt645.Frame, uint16) {
	const (
		serrOther     = 1 << 0
		serrAuth      = 1 << 3
		serrSuspended = 1 << 8
	)
	if !m.cost || len(f.Data) < 4 || dlt645.DI(le32(f.Data)) != dlt645.DIIdentityAuth {
		return nil, serrOther
	}
	if m.suspended > now {
		return nil, serrSuspended
	}
	req, err := dlt645.ParseIdentityAuthRequest(f)
	if err != nil {
		return nil, serrOther
	}
	if m.esam == nil && m.secret != nil {
		m.esam, err = secdouble.NewMeter(m.secret, m.number.String())
		if err != nil {
			return nil, serrOther
		}
	}
	m.relay &^= authenticated
	if m.esam == nil || m.faults.SecurityFailure {
		return nil, serrAuth
	}
	rand2, serial, err := m.esam.Authenticate(req)
	if err != nil {
		return nil, serrAuth
	}
	m.relay |= authenticated
	m.authUntil = now + int64(AuthValidity)
	return dlt645.NewIdentityAuthReply(m.address, rand2, serial), 0
}
