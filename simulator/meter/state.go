package meter

import (
	"fmt"
	"math"
	"time"
)

// Faults are the injected faults of one meter.
type Faults struct {
	// Silent: the meter sends no reply at all.
	Silent bool `json:"silent,omitempty"`
	// Slow adds this delay to every reply.
	Slow time.Duration `json:"slow,omitempty"`
	// RelayStuck: relay commands are accepted (9C) but the relay does not move.
	RelayStuck bool `json:"relay_stuck,omitempty"`
	// Bypass: power flows and energy grows while the relay is open.
	Bypass bool `json:"bypass,omitempty"`
	// WrongPassword: the meter's password differs from the archive's, so every plain
	// password is wrong (and three lock the level).
	WrongPassword bool `json:"wrong_password,omitempty"`
	// SecurityFailure: every MAC check of the encrypted path fails.
	SecurityFailure bool `json:"security_failure,omitempty"`
	// GuaranteeOn: power guarantee forced on, so every trip is rejected.
	GuaranteeOn bool `json:"guarantee_on,omitempty"`
	// ClockSkew offsets the meter clock, so a deadline the gateway computes has passed.
	ClockSkew time.Duration `json:"clock_skew,omitempty"`
}

// Fault names, as the control API and scenario files write them.
const (
	FaultSilent          = "silent"
	FaultSlow            = "slow"
	FaultRelayStuck      = "relay_stuck"
	FaultBypass          = "bypass"
	FaultWrongPassword   = "wrong_password"
	FaultSecurityFailure = "security_failure"
	FaultGuaranteeOn     = "guarantee_on"
	FaultClockSkew       = "clock_skew"
)

// Default fault parameters.
const (
	DefaultSlow      = 2 * time.Second
	DefaultClockSkew = 48 * time.Hour
)

// FaultNames lists the meter faults.
var FaultNames = []string{
	FaultSilent, FaultSlow, FaultRelayStuck, FaultBypass, FaultWrongPassword,
	FaultSecurityFailure, FaultGuaranteeOn, FaultClockSkew,
}

// ErrUnknownFault is returned for a fault name a meter does not have.
var ErrUnknownFault = fmt.Errorf("meter: unknown fault")

// SetFault switches a fault on (on=true) or off at now. The slow and clock_skew faults take
// their duration from param (zero means the default).
func (m *Meter) SetFault(name string, on bool, param time.Duration, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	f := &m.faults
	switch name {
	case FaultSilent:
		f.Silent = on
	case FaultSlow:
		f.Slow = 0
		if on {
			f.Slow = orDefault(param, DefaultSlow)
		}
	case FaultRelayStuck:
		f.RelayStuck = on
	case FaultBypass:
		m.settle(t)
		f.Bypass = on
	case FaultWrongPassword:
		f.WrongPassword = on
	case FaultSecurityFailure:
		f.SecurityFailure = on
	case FaultGuaranteeOn:
		f.GuaranteeOn = on
		if on {
			m.relay |= guaranteeOn
		} else {
			m.relay &^= guaranteeOn
		}
	case FaultClockSkew:
		f.ClockSkew = 0
		if on {
			f.ClockSkew = orDefault(param, DefaultClockSkew)
		}
	default:
		return fmt.Errorf("%w %q; want one of %v", ErrUnknownFault, name, FaultNames)
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// PressButton presses the meter's button at now: a relay whose close is allowed closes.
// It reports whether the relay closed.
func (m *Meter) PressButton(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	if m.relay&closeAllowed == 0 || m.relay&relayOpen == 0 {
		return false
	}
	m.closeRelay(t, m.closeOp)
	return m.relay&relayOpen == 0
}

// SetPower removes (on=false) or restores the meter's supply at now, as when its feeder
// or the whole site loses power; a meter without supply does not reply.
func (m *Meter) SetPower(on bool, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	m.settle(t)
	if on {
		m.relay &^= powerDown
	} else {
		m.relay |= powerDown
	}
}

// State is the physical state of a meter, as the control API reports it.
type State struct {
	Address      string     `json:"address"`
	Protocol     string     `json:"protocol"`
	Kind         string     `json:"kind"`
	Relay        string     `json:"relay"`
	CommandState string     `json:"command_state"`
	CloseAllowed bool       `json:"close_allowed"`
	Guarantee    bool       `json:"guarantee"`
	Alarm        bool       `json:"alarm"`
	PreTripAlarm bool       `json:"pre_trip_alarm"`
	EnergyKWh    float64    `json:"energy_kwh"`
	PowerKW      float64    `json:"power_kw"`
	Clock        string     `json:"clock"`
	StatusWord3  string     `json:"status_word_3"`
	TripCount    uint32     `json:"trip_count"`
	CloseCount   uint32     `json:"close_count"`
	BalanceYuan  float64    `json:"balance_yuan,omitempty"`
	Locked       []int      `json:"locked_levels,omitempty"`
	Operations   Operations `json:"operations"`
	Faults       []string   `json:"faults"`
	// Baud is the line rate used for the reply's byte times.
	Baud int `json:"baud"`
}

// State returns the meter's physical state at now.
func (m *Meter) State(now time.Time) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	fwd, _ := m.registers(t)
	_, _, kw, _ := m.instant(t)
	s := State{
		Address:      m.address.String(),
		Protocol:     m.edition.String(),
		Kind:         "plain",
		Relay:        openClosed(m.relay&relayOpen != 0),
		CommandState: openClosed(m.relay&commandOpen != 0),
		CloseAllowed: m.relay&closeAllowed != 0,
		Guarantee:    m.relay&guaranteeOn != 0,
		Alarm:        m.relay&alarmOn != 0,
		PreTripAlarm: m.relay&preTripAlarm != 0,
		EnergyKWh:    round(sum4(fwd), 2),
		PowerKW:      round(kw, 4),
		Clock:        m.clock(t).Format("2006-01-02T15:04:05"),
		StatusWord3:  fmt.Sprintf("%04X", m.statusWord3()),
		TripCount:    m.tripCount,
		CloseCount:   m.closeCount,
		Operations:   m.ops,
		Faults:       m.faultNames(),
		Baud:         int(m.baud),
	}
	if m.modbus {
		s.Protocol = "modbus"
	}
	if m.cost {
		s.Kind = "cost_control"
		rem, over := m.balance(sum4(fwd))
		s.BalanceYuan = round(rem-over, 2)
	}
	for i, l := range m.locks {
		if l.lockedUntil > t {
			s.Locked = append(s.Locked, []int{2, 4}[i])
		}
	}
	return s
}

func (m *Meter) faultNames() []string {
	f := m.faults
	out := []string{}
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(f.Silent, FaultSilent)
	add(f.Slow > 0, FaultSlow)
	add(f.RelayStuck, FaultRelayStuck)
	add(f.Bypass, FaultBypass)
	add(f.WrongPassword, FaultWrongPassword)
	add(f.SecurityFailure, FaultSecurityFailure)
	add(f.GuaranteeOn, FaultGuaranteeOn)
	add(f.ClockSkew != 0, FaultClockSkew)
	return out
}

func openClosed(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// Readings are the values a terminal serves from its own store (AFN0C, AFN0D), taken
// from the meter without a DL/T 645 exchange.
type Readings struct {
	// Open is the actual relay state.
	Open bool
	// Forward is the forward active energy per tariff 1–4, kWh; Reverse the reverse total.
	Forward [4]float64
	Reverse float64
	// PowerKW is the instantaneous active power and Volts the supply voltage.
	PowerKW float64
	Volts   float64
	// Frozen is the forward energy per tariff at the last daily freeze (local midnight).
	Frozen [4]float64
	// LastTrip and LastClose are zero when the relay never moved.
	LastTrip, LastClose time.Time
}

// Readings returns the meter's values at now.
func (m *Meter) Readings(now time.Time) Readings {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	s := m.snapshot(t)
	r := Readings{Open: m.relay&relayOpen != 0, Forward: s.fwd, Reverse: s.rev, PowerKW: s.kw,
		Volts:  s.volts,
		Frozen: s.frozen}
	if m.lastTrip != 0 {
		r.LastTrip = time.Unix(m.lastTrip, 0)
	}
	if m.lastClose != 0 {
		r.LastClose = time.Unix(m.lastClose, 0)
	}
	return r
}
