package gatewaytest

import (
	"context"
	"sync"
	"time"

	"github.com/feegate/feegate/gateway"
)

// Fault names of the fake driver.
const (
	FaultSilent        = "silent"         // every request times out (meter_timeout)
	FaultOffline       = "offline"        // terminal_offline
	FaultRelayStuck    = "relay_stuck"    // controls are accepted, the relay does not move
	FaultBypass        = "bypass"         // power keeps flowing with the relay open
	FaultWrongPassword = "wrong_password" // controls fail with meter_password_rejected
	FaultSecurity      = "security_failure"
	FaultGuarantee     = "guarantee_on"  // trips fail with meter_guarantee_active
	FaultLoseReply     = "lose_reply"    // the control executes but its reply is lost once
	FaultClockSkew     = "clock_skew"    // controls fail with meter_rejected
	FaultHang          = "hang"          // requests block until their context ends
	FaultTimeoutOnce   = "timeout_once"  // the next request times out, then the fault clears
	FaultTerminalDeny  = "terminal_deny" // terminal_denied
)

// Meter is the physical state of one fake device.
type Meter struct {
	Open, CommandOpen, CloseAllowed, Alarm, Guarantee bool
	PowerKW, EnergyKWh                                float64
	// Operations counts accepted controls by action, as the simulator's oracle does.
	Operations map[gateway.Action]int
	Faults     map[string]bool
}

// Driver is a gateway.Driver over in-memory devices keyed by meter address or by
// "A1A2/turn". It is safe for concurrent use.
type Driver struct {
	mu     sync.Mutex
	meters map[string]*Meter
	// Delay is added to every request, to stand for channel latency.
	Delay time.Duration
	// Calls counts requests by kind: control, status, read, sync, ping.
	Calls map[string]int
}

// New returns an empty fake driver.
func New() *Driver {
	return &Driver{meters: map[string]*Meter{}, Calls: map[string]int{}}
}

func key(d gateway.Device) string {
	if d.Meter != nil {
		return d.Meter.Address
	}
	return d.Terminal + "/" + string(rune('0'+d.Turn))
}

// Device returns the state of a device, creating a closed relay drawing 1.2 kW.
func (f *Driver) Device(k string) *Meter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deviceLocked(k)
}

func (f *Driver) deviceLocked(k string) *Meter {
	m := f.meters[k]
	if m == nil {
		m = &Meter{PowerKW: 1.2, EnergyKWh: 100, Operations: map[gateway.Action]int{},
			Faults: map[string]bool{}}
		f.meters[k] = m
	}
	return m
}

// SetFault switches a fault on or off for a device.
func (f *Driver) SetFault(k, fault string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deviceLocked(k).Faults[fault] = on
}

// Operations returns how many controls of the action the device accepted.
func (f *Driver) Operations(k string, a gateway.Action) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deviceLocked(k).Operations[a]
}

// PressButton closes a relay whose close was allowed.
func (f *Driver) PressButton(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.deviceLocked(k)
	if m.CloseAllowed {
		m.Open, m.CloseAllowed = false, false
	}
}

// CallCount returns the number of requests of one kind.
func (f *Driver) CallCount(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Calls[kind]
}

// begin applies delay and the faults common to every request.
func (f *Driver) begin(ctx context.Context, d gateway.Device, kind string) (*Meter, error) {
	f.mu.Lock()
	f.Calls[kind]++
	m := f.deviceLocked(key(d))
	delay := f.Delay
	hang := m.Faults[FaultHang]
	silent := m.Faults[FaultSilent]
	offline := m.Faults[FaultOffline]
	once := m.Faults[FaultTimeoutOnce]
	if once {
		m.Faults[FaultTimeoutOnce] = false
	}
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, gateway.Fail(gateway.ReasonMeterTimeout, nil, "no reply")
	}
	if delay > 0 {
		select {
		case <-ctx.Done():
			return nil, gateway.Fail(gateway.ReasonMeterTimeout, nil, "no reply")
		case <-time.After(delay):
		}
	}
	switch {
	case offline:
		return nil, gateway.Fail(gateway.ReasonTerminalOffline, nil, "terminal is offline")
	case silent || once:
		return nil, gateway.Fail(gateway.ReasonMeterTimeout,
			&gateway.Evidence{Detail: "no reply within 2s"}, "meter did not answer")
	}
	return m, nil
}

// Control applies DL/T 645 relay semantics to the fake device.
func (f *Driver) Control(ctx context.Context, d gateway.Device, c gateway.Control) error {
	m, err := f.begin(ctx, d, "control")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	errByte := 0x04
	switch {
	case m.Faults[FaultTerminalDeny]:
		return gateway.Fail(gateway.ReasonTerminalDenied, nil, "terminal denied AFN05")
	case m.Faults[FaultWrongPassword]:
		return gateway.Fail(gateway.ReasonMeterPasswordRejected, &gateway.Evidence{
			ErrorByte: &errByte, ErrorBits: []string{"password_error"},
			FrameHex: "68...DC0137..16"}, "meter rejected the password")
	case m.Faults[FaultSecurity]:
		return gateway.Fail(gateway.ReasonSecurityFailed, &gateway.Evidence{
			ErrorBits: []string{"mac_error"}}, "MAC check failed")
	case m.Faults[FaultClockSkew]:
		return gateway.Fail(gateway.ReasonMeterRejected, &gateway.Evidence{
			ErrorBits: []string{"deadline_invalid"}}, "deadline not after the meter clock")
	case (m.Faults[FaultGuarantee] || m.Guarantee) && c.Action == gateway.ActionTrip:
		return gateway.Fail(gateway.ReasonMeterGuaranteeActive, &gateway.Evidence{
			ErrorBits: []string{"guarantee_active"}}, "trip refused while guarantee is on")
	}
	m.Operations[c.Action]++
	if !m.Faults[FaultRelayStuck] {
		switch c.Action {
		case gateway.ActionTrip:
			m.Open, m.CommandOpen, m.CloseAllowed = true, true, false
		case gateway.ActionAllowClose:
			m.CommandOpen, m.CloseAllowed = false, m.Open
		case gateway.ActionClose:
			m.Open, m.CommandOpen, m.CloseAllowed = false, false, false
		case gateway.ActionAlarm:
			m.Alarm = true
		case gateway.ActionAlarmRelease:
			m.Alarm = false
		case gateway.ActionGuarantee:
			m.Guarantee = true
		case gateway.ActionGuaranteeRelease:
			m.Guarantee = false
		}
	}
	if m.Faults[FaultLoseReply] {
		m.Faults[FaultLoseReply] = false
		return gateway.Fail(gateway.ReasonMeterTimeout, nil, "reply lost")
	}
	return nil
}

func (m *Meter) word() int {
	w := 0
	if m.Open {
		w |= 1 << 4
	}
	if m.CommandOpen {
		w |= 1 << 6
	}
	if m.Alarm {
		w |= 1 << 7
	}
	if m.Guarantee {
		w |= 1 << 12
	}
	return w
}

// Status returns status word 3 with power and energy.
func (f *Driver) Status(ctx context.Context, d gateway.Device) (gateway.RelayStatus, error) {
	m, err := f.begin(ctx, d, "status")
	if err != nil {
		return gateway.RelayStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	power := m.PowerKW
	if m.Open && !m.Faults[FaultBypass] {
		power = 0
	}
	energy := m.EnergyKWh
	return gateway.RelayStatus{Open: m.Open, CommandOpen: m.CommandOpen, Alarm: m.Alarm,
		Guarantee: m.Guarantee, Word: m.word(), PowerKW: &power, EnergyKWh: &energy}, nil
}

// Read returns fixed values for the items.
func (f *Driver) Read(ctx context.Context, d gateway.Device, items []string) (
	map[string]gateway.Reading, error) {
	m, err := f.begin(ctx, d, "read")
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]gateway.Reading{}
	for _, it := range items {
		switch it {
		case "energy_forward_total":
			out[it] = gateway.Reading{Value: m.EnergyKWh, Unit: "kWh"}
		case "power":
			out[it] = gateway.Reading{Value: m.PowerKW, Unit: "kW"}
		case "relay_state":
			state := "closed"
			if m.Open {
				state = "open"
			}
			out[it] = gateway.Reading{Value: state}
		default:
			out[it] = gateway.Reading{Value: 0}
		}
	}
	return out, nil
}

// SyncTime accepts the time.
func (f *Driver) SyncTime(ctx context.Context, d gateway.Device, now time.Time) error {
	_, err := f.begin(ctx, d, "sync")
	return err
}

// Ping answers.
func (f *Driver) Ping(ctx context.Context, d gateway.Device) error {
	_, err := f.begin(ctx, d, "ping")
	return err
}
