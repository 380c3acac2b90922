package plan

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/protocol"
	"go.uber.org/zap"
)

// Exchanger carries one DL/T 645 request to a meter and returns the reply frame. It is
// what differs between a meter behind a terminal (AFN10 F1), on a bus and on a TCP link.
// Implementations must be safe for concurrent use.
type Exchanger interface {
	// Exchange sends frame (without preamble) to the meter and returns its reply; for a
	// broadcast frame it returns nil once the frame is sent. kind labels metrics ("read",
	// "relay_control", "security", "broadcast_time"). Errors are *gateway.Failure.
	Exchange(ctx context.Context, m *gateway.MeterEntry, frame []byte, kind string) ([]byte,
		error)
}

// Evidence identifiers read with every status word 3.
const (
	diStatusWord3  = dlt645.DI(0x04000503)
	diEnergyTotal  = dlt645.DI(0x00010000)
	diPowerTotal   = dlt645.DI(0x02030000)
	di97EnergyTot  = dlt645.DI97(0x9010)
	defaultAuthTTL = 5 * time.Minute
)

// DLT645Config configures a DLT645 plan.
type DLT645Config struct {
	// Machine is the encryption machine of PA=98 controls; nil makes those fail with
	// security_failed.
	Machine dlt645.EncryptionMachine
	// Operator is the operator code (C0..C3, 8 digits) of commands that name none.
	Operator string
	// AuthValidity is how long an identity authentication is reused; 0 means 5 min.
	// NOTE: meters keep their own validity (set by 070001FF); a shorter local value only
	// costs an extra authentication, a longer one ends in identity_authentication_timeout.
	AuthValidity time.Duration
	// Location is the zone of meter clocks and deadlines; nil means Asia/Shanghai.
	Location *time.Location
	// ClockTolerance is how far a meter clock may be from the gateway clock after
	// sync_time; 0 means 10 s.
	ClockTolerance time.Duration
	Logger         *zap.Logger
}

// DLT645 is the execution plan of DL/T 645 meters over an Exchanger. It is safe for
// concurrent use.
type DLT645 struct {
	ex  Exchanger
	cfg DLT645Config
	log *zap.Logger

	mu       sync.Mutex
	sessions map[string]authEntry // identity authentications by meter address
}

type authEntry struct {
	session dlt645.AuthSession
	until   time.Time
}

// NewDLT645 returns the DL/T 645 plan over ex.
func NewDLT645(ex Exchanger, cfg DLT645Config) *DLT645 {
	if cfg.AuthValidity <= 0 {
		cfg.AuthValidity = defaultAuthTTL
	}
	if cfg.Location == nil {
		cfg.Location = dlt645.DefaultLocation()
	}
	if cfg.ClockTolerance <= 0 {
		cfg.ClockTolerance = defaultClockTolerance
	}
	if cfg.Operator == "" {
		cfg.Operator = "00000000"
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &DLT645{ex: ex, cfg: cfg, log: log, sessions: map[string]authEntry{}}
}

var relayActions = map[gateway.Action]dlt645.RelayAction{
	gateway.ActionTrip:             dlt645.ActionTrip,
	gateway.ActionAllowClose:       dlt645.ActionAllowClose,
	gateway.ActionClose:            dlt645.ActionClose,
	gateway.ActionAlarm:            dlt645.ActionAlarm,
	gateway.ActionAlarmRelease:     dlt645.ActionAlarmRelease,
	gateway.ActionGuarantee:        dlt645.ActionGuarantee,
	gateway.ActionGuaranteeRelease: dlt645.ActionGuaranteeRelease,
}

func meterAddress(m *gateway.MeterEntry) (protocol.MeterAddress, error) {
	a, err := protocol.ParseMeterAddress(m.Address)
	if err != nil {
		return a, gateway.Fail(gateway.ReasonInternal, nil, "meter address %q: %v",
			m.Address, err)
	}
	return a, nil
}

// exchange sends one request frame and decodes the reply, mapping abnormal replies.
func (p *DLT645) exchange(ctx context.Context, m *gateway.MeterEntry, f *dlt645.Frame,
	kind string) (*dlt645.Frame, []byte, error) {
	raw, err := dlt645.Encode(f)
	if err != nil {
		return nil, nil, gateway.Fail(gateway.ReasonInternal, nil, "encode %s: %v", kind, err)
	}
	reply, err := p.ex.Exchange(ctx, m, raw, kind)
	if err != nil {
		return nil, nil, err
	}
	if reply == nil {
		return nil, nil, nil
	}
	rf, err := dlt645.Decode(reply)
	if err != nil {
		return nil, reply, failMeter(err, reply)
	}
	return rf, reply, nil
}

// usesEncryption reports whether a control on m goes through the encryption machine
// (PA=98): every control on a meter whose password level is 98, and every control but
// closing on a cost-control meter, which accepts a plain password only to close.
func usesEncryption(m *gateway.MeterEntry, a gateway.Action) bool {
	if m.Source.Password != nil && m.Source.Password.Level == 98 {
		return true
	}
	return m.Kind == archive.KindCostControl && a != gateway.ActionAllowClose &&
		a != gateway.ActionClose
}

// Control sends one relay control (0x1C), plain or PA=98.
func (p *DLT645) Control(ctx context.Context, d gateway.Device, c gateway.Control) error {
	m := d.Meter
	addr, err := meterAddress(m)
	if err != nil {
		return err
	}
	op := c.Operator
	if op == "" {
		op = p.cfg.Operator
	}
	operator, err := dlt645.ParseOperatorCode(op)
	if err != nil {
		return gateway.Fail(gateway.ReasonInternal, nil, "operator %q: %v", op, err)
	}
	cmd := &dlt645.RelayCommand{Operator: operator, Action: relayActions[c.Action],
		Deadline: c.Deadline, Location: p.cfg.Location}
	var req *dlt645.Frame
	if usesEncryption(m, c.Action) {
		return p.encryptedControl(ctx, m, addr, cmd)
	} else {
		if m.Source.Password == nil {
			return gateway.Fail(gateway.ReasonMeterPasswordRejected, nil,
				"the archive has no password for meter %s", m.Address)
		}
		cmd.Level = m.Source.Password.LevelByte()
		if cmd.Password, err = dlt645.ParsePassword(m.Source.Password.Value); err != nil {
			return gateway.Fail(gateway.ReasonInternal, nil,
				"the archive password of meter %s is not 6 hex digits", m.Address)
		}
		if req, err = dlt645.NewRelayRequest(addr, cmd); err != nil {
			return gateway.Fail(gateway.ReasonInternal, nil, "build relay control: %v", err)
		}
	}
	return p.sendControl(ctx, m, req)
}

// sendControl sends a relay-control frame and checks the meter's reply.
func (p *DLT645) sendControl(ctx context.Context, m *gateway.MeterEntry,
	req *dlt645.Frame) error {
	rf, raw, err := p.exchange(ctx, m, req, "relay_control")
	if err != nil {
		return err
	}
	if _, err := dlt645.ParseRelayReply(rf); err != nil {
		if errors.Is(err, dlt645.ErrSecurity) {
			p.forget(m.Address)
		}
		return failMeter(err, raw)
	}
	return nil
}

// encryptedControl sends a PA=98 control. When the meter reports that a cached identity
// authentication has lapsed (it keeps its own validity), it authenticates again and sends
// once more: the meter executed nothing, and no MAC was checked.
func (p *DLT645) encryptedControl(ctx context.Context, m *gateway.MeterEntry,
	addr protocol.MeterAddress, cmd *dlt645.RelayCommand) error {
	for try := 0; ; try++ {
		cached := p.hasSession(m.Address)
		req, err := p.encrypted(ctx, m, addr, cmd)
		if err != nil {
			return err
		}
		err = p.sendControl(ctx, m, req)
		if err == nil || !cached || try > 0 || !authLapsed(err) {
			return err
		}
		p.log.Info("identity authentication lapsed on the meter; authenticating again",
			zap.String("meter", m.Address))
	}
}

// authLapsed reports whether a failure is the meter's "identity authentication timed out".
func authLapsed(err error) bool {
	var f *gateway.Failure
	if !errors.As(err, &f) || f.Evidence == nil {
		return false
	}
	for _, b := range f.Evidence.ErrorBits {
		if b == "identity_authentication_timeout" {
			return true
		}
	}
	return false
}

func (p *DLT645) hasSession(meter string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.sessions[meter]
	return ok && time.Now().Before(e.until)
}

// encrypted builds a PA=98 control, authenticating first unless a valid session exists.
func (p *DLT645) encrypted(ctx context.Context, m *gateway.MeterEntry,
	addr protocol.MeterAddress, cmd *dlt645.RelayCommand) (*dlt645.Frame, error) {
	if p.cfg.Machine == nil {
		return nil, gateway.Fail(gateway.ReasonSecurityFailed, nil,
			"no encryption machine is configured for PA=98 controls")
	}
	s, err := p.session(ctx, m, addr, cmd.Operator)
	if err != nil {
		return nil, err
	}
	req, err := dlt645.BuildEncryptedRelayRequest(ctx, p.cfg.Machine, s, addr, cmd)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonSecurityFailed, nil,
			"encryption machine failed: %v", err)
	}
	return req, nil
}

// session returns a cached identity authentication or runs a new one (0x03, 070000FF).
func (p *DLT645) session(ctx context.Context, m *gateway.MeterEntry,
	addr protocol.MeterAddress, op dlt645.OperatorCode) (dlt645.AuthSession, error) {
	p.mu.Lock()
	e, ok := p.sessions[m.Address]
	p.mu.Unlock()
	if ok && time.Now().Before(e.until) {
		return e.session, nil
	}
	div, err := dlt645.DispersionFactor(m.MeterNumber)
	if err != nil {
		return dlt645.AuthSession{}, gateway.Fail(gateway.ReasonSecurityFailed, nil,
			"meter number %q: %v", m.MeterNumber, err)
	}
	req, err := dlt645.BuildIdentityAuthRequest(ctx, p.cfg.Machine, addr, op, div)
	if err != nil {
		return dlt645.AuthSession{}, gateway.Fail(gateway.ReasonSecurityFailed, nil,
			"encryption machine failed: %v", err)
	}
	rf, raw, err := p.exchange(ctx, m, req, "security")
	if err != nil {
		return dlt645.AuthSession{}, err
	}
	s, err := dlt645.ParseIdentityAuthReply(rf, div)
	if err != nil {
		return dlt645.AuthSession{}, failMeter(err, raw)
	}
	p.mu.Lock()
	p.sessions[m.Address] = authEntry{session: s, until: time.Now().Add(p.cfg.AuthValidity)}
	p.mu.Unlock()
	p.log.Debug("identity authentication done", zap.String("meter", m.Address))
	return s, nil
}

func (p *DLT645) forget(meter string) {
	p.mu.Lock()
	delete(p.sessions, meter)
	p.mu.Unlock()
}

// read reads one 2007 identifier and decodes its value.
func (p *DLT645) read(ctx context.Context, m *gateway.MeterEntry, di dlt645.DI) (
	dlt645.Value, []byte, error) {
	addr, err := meterAddress(m)
	if err != nil {
		return dlt645.Value{}, nil, err
	}
	rf, raw, err := p.exchange(ctx, m, dlt645.NewReadRequest(addr, di), "read")
	if err != nil {
		return dlt645.Value{}, raw, err
	}
	v, _, err := dlt645.ReadValue(rf, di)
	if err != nil {
		return dlt645.Value{}, raw, failMeter(err, raw)
	}
	return v, raw, nil
}

func (p *DLT645) read97(ctx context.Context, m *gateway.MeterEntry, di dlt645.DI97) (
	dlt645.Value, []byte, error) {
	addr, err := meterAddress(m)
	if err != nil {
		return dlt645.Value{}, nil, err
	}
	rf, raw, err := p.exchange(ctx, m, dlt645.NewReadRequest97(addr, di), "read")
	if err != nil {
		return dlt645.Value{}, raw, err
	}
	v, _, err := dlt645.ReadValue97(rf, di)
	if err != nil {
		return dlt645.Value{}, raw, failMeter(err, raw)
	}
	return v, raw, nil
}

func decimalOf(v dlt645.Value) *float64 {
	if d, ok := v.Data.(dlt645.Decimal); ok {
		f := d.Float64()
		return &f
	}
	return nil
}

// Status reads status word 3 and, as evidence, the forward active energy and the total
// active power.
func (p *DLT645) Status(ctx context.Context, d gateway.Device) (gateway.RelayStatus, error) {
	m := d.Meter
	v, raw, err := p.read(ctx, m, diStatusWord3)
	if err != nil {
		return gateway.RelayStatus{}, err
	}
	sw, ok := v.Data.(dlt645.StatusWord)
	if !ok {
		return gateway.RelayStatus{}, gateway.Fail(gateway.ReasonChannelError,
			&gateway.Evidence{FrameHex: hex.EncodeToString(raw)},
			"status word 3 decoded to %T", v.Data)
	}
	st := gateway.RelayStatus{Open: sw.RelayOpen(), CommandOpen: sw.RelayCommandOpen(),
		Alarm: sw.PreTripAlarm(), Guarantee: sw.Guarantee(), Word: int(sw.Raw),
		WordReading: v.JSON(), FrameHex: hex.EncodeToString(raw)}
	if ev, _, err := p.read(ctx, m, diEnergyTotal); err == nil {
		st.EnergyKWh = decimalOf(ev)
	}
	if pv, _, err := p.read(ctx, m, diPowerTotal); err == nil {
		st.PowerKW = decimalOf(pv)
	}
	return st, nil
}

// tableNames maps API read items to DL/T 645 table rows where the names differ: the API's
// power is the total active power, not the per-phase block.
var tableNames = map[string]string{"power": "power_total"}

// itemFor finds the table row of a read item for the meter's edition.
func itemFor(name string, ed dlt645.Edition) *dlt645.Item {
	if alias, ok := tableNames[name]; ok {
		name = alias
	}
	it, ok := dlt645.LookupName(ed, name)
	if !ok {
		return nil
	}
	return it
}

// Read reads the named items. relay_state and status_word_3 come from status word 3.
// An item the meter's edition has no identifier for fails the read with meter_rejected.
func (p *DLT645) Read(ctx context.Context, d gateway.Device, items []string) (
	map[string]gateway.Reading, error) {
	m := d.Meter
	ed := dlt645.Edition2007
	if m.Protocol == archive.ProtocolDLT645v1997 {
		ed = dlt645.Edition1997
	}
	out := map[string]gateway.Reading{}
	for _, name := range items {
		if name == "relay_state" && ed == dlt645.Edition1997 {
			continue // 1997 meters have no relay to report
		}
		if name == "relay_state" {
			v, _, err := p.read(ctx, m, diStatusWord3)
			if err != nil {
				return nil, err
			}
			if sw, ok := v.Data.(dlt645.StatusWord); ok {
				out[name] = gateway.Reading{Value: gateway.Relay{
					State: openClosed(sw.RelayOpen()), CommandState: openClosed(
						sw.RelayCommandOpen()), Guarantee: sw.Guarantee(),
					Alarm: sw.PreTripAlarm()}}
			}
			continue
		}
		it := itemFor(name, ed)
		if it == nil {
			return nil, gateway.Fail(gateway.ReasonMeterRejected, &gateway.Evidence{
				Detail: name}, "a %s meter has no identifier for %s", m.Protocol, name)
		}
		var v dlt645.Value
		var err error
		if ed == dlt645.Edition1997 {
			v, _, err = p.read97(ctx, m, dlt645.DI97(it.ID))
		} else {
			v, _, err = p.read(ctx, m, dlt645.DI(it.ID))
		}
		if err != nil {
			return nil, err
		}
		out[name] = gateway.Reading{Value: v.JSON(), Unit: it.Unit}
	}
	return out, nil
}

func openClosed(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

// Ping reads status word 3 (2007) or the forward active energy (1997).
func (p *DLT645) Ping(ctx context.Context, d gateway.Device) error {
	if d.Meter.Protocol == archive.ProtocolDLT645v1997 {
		_, _, err := p.read97(ctx, d.Meter, di97EnergyTot)
		return err
	}
	_, _, err := p.read(ctx, d.Meter, diStatusWord3)
	return err
}

var _ gateway.Driver = (*DLT645)(nil)
