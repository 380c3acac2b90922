package plan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/transport"
	"github.com/goburrow/modbus"
	"go.uber.org/zap"
)

// Modbus is the execution plan of Modbus TCP meters: relay coil writes and register reads
// from each meter's register map. One link per endpoint and unit is opened on first use.
// It is safe for concurrent use.
type Modbus struct {
	Logger  *zap.Logger
	Metrics *transport.Metrics
	// Timeout bounds each request; 0 means 3 s.
	Timeout time.Duration

	mu     sync.Mutex
	links  map[string]*transport.ModbusTCPLink
	closed bool
}

func (p *Modbus) client(m *gateway.MeterEntry) (modbus.Client, error) {
	key := fmt.Sprintf("%s/%d", m.Route.Endpoint, m.Route.Unit)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, gateway.Fail(gateway.ReasonChannelError, nil, "gateway is stopping")
	}
	if p.links == nil {
		p.links = map[string]*transport.ModbusTCPLink{}
	}
	if l := p.links[key]; l != nil {
		return l.Client(), nil
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	l := transport.NewModbusTCPLink(transport.ModbusTCPConfig{Address: m.Route.Endpoint,
		Unit: byte(m.Route.Unit), Timeout: timeout, Logger: p.Logger, Metrics: p.Metrics})
	p.links[key] = l
	return l.Client(), nil
}

// Close closes every link. It is safe to call more than once.
func (p *Modbus) Close() {
	p.mu.Lock()
	links := p.links
	p.links = nil
	p.closed = true
	p.mu.Unlock()
	for _, l := range links {
		_ = l.Close()
	}
}

func failModbus(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return gateway.Fail(gateway.ReasonDeadlineExpired, nil, "deadline reached: %v", err)
	}
	ev := &gateway.Evidence{Detail: err.Error()}
	var me *transport.ModbusError
	if errors.As(err, &me) {
		v := int(me.Exception)
		ev.ErrorByte = &v
		return gateway.Fail(gateway.ReasonMeterRejected, ev, "Modbus unit answered with "+
			"exception %d", me.Exception)
	}
	return gateway.Fail(gateway.ReasonMeterTimeout, ev, "Modbus unit did not answer")
}

// run calls fn off the caller's goroutine so that ctx bounds it; goburrow clients take
// no context.
func run[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func model(m *gateway.MeterEntry) archive.RegisterMap {
	if m.Model != nil {
		return m.Model.Registers
	}
	return archive.DefaultModbusModel().Registers
}

// Control writes the relay coil: OFF or ON as the map says opens or closes the relay.
func (p *Modbus) Control(ctx context.Context, d gateway.Device, c gateway.Control) error {
	cl, err := p.client(d.Meter)
	if err != nil {
		return err
	}
	coil := model(d.Meter).RelayCoil
	var open bool
	switch c.Action {
	case gateway.ActionTrip:
		open = true
	case gateway.ActionClose:
		open = false
	default:
		return gateway.Fail(gateway.ReasonInternal, nil, "no Modbus plan for %s", c.Action)
	}
	value := uint16(0x0000)
	if coil.ValueFor(open) {
		value = 0xFF00
	}
	_, err = run(ctx, func() ([]byte, error) { return cl.WriteSingleCoil(coil.Address, value) })
	if err != nil {
		return failModbus(ctx, err)
	}
	return nil
}

func readBit(ctx context.Context, cl modbus.Client, b archive.Bit) (bool, error) {
	data, err := run(ctx, func() ([]byte, error) {
		switch b.Table {
		case archive.TableCoil:
			return cl.ReadCoils(b.Address, 1)
		case archive.TableDiscrete:
			return cl.ReadDiscreteInputs(b.Address, 1)
		case archive.TableInput:
			return cl.ReadInputRegisters(b.Address, 1)
		}
		return cl.ReadHoldingRegisters(b.Address, 1)
	})
	if err != nil {
		return false, err
	}
	for _, x := range data {
		if x != 0 {
			return true, nil
		}
	}
	return false, nil
}

func readRegister(ctx context.Context, cl modbus.Client, r archive.Register,
	lowFirst bool) (float64, error) {
	data, err := run(ctx, func() ([]byte, error) {
		if r.Table == archive.TableInput {
			return cl.ReadInputRegisters(r.Address, uint16(r.Words))
		}
		return cl.ReadHoldingRegisters(r.Address, uint16(r.Words))
	})
	if err != nil {
		return 0, err
	}
	words := make([]uint16, len(data)/2)
	for i := range words {
		words[i] = binary.BigEndian.Uint16(data[2*i:])
	}
	return r.Decode(words, lowFirst)
}

// Status reads the relay status point, with energy and power as evidence.
func (p *Modbus) Status(ctx context.Context, d gateway.Device) (gateway.RelayStatus, error) {
	cl, err := p.client(d.Meter)
	if err != nil {
		return gateway.RelayStatus{}, err
	}
	regs := model(d.Meter)
	on, err := readBit(ctx, cl, regs.RelayStatus)
	if err != nil {
		return gateway.RelayStatus{}, failModbus(ctx, err)
	}
	open := regs.RelayStatus.Open(on)
	st := gateway.RelayStatus{Open: open, CommandOpen: open, Word: -1}
	if v, err := readRegister(ctx, cl, regs.Energy, regs.LowWordFirst); err == nil {
		st.EnergyKWh = &v
	}
	if v, err := readRegister(ctx, cl, regs.Power, regs.LowWordFirst); err == nil {
		st.PowerKW = &v
	}
	return st, nil
}

// Read reads energy_forward_total, voltage, power and relay_state from the register map.
func (p *Modbus) Read(ctx context.Context, d gateway.Device, items []string) (
	map[string]gateway.Reading, error) {
	cl, err := p.client(d.Meter)
	if err != nil {
		return nil, err
	}
	regs := model(d.Meter)
	out := map[string]gateway.Reading{}
	for _, name := range items {
		var r archive.Register
		switch name {
		case "energy_forward_total":
			r = regs.Energy
		case "voltage":
			r = regs.Voltage
		case "power":
			r = regs.Power
		case "relay_state":
			on, err := readBit(ctx, cl, regs.RelayStatus)
			if err != nil {
				return nil, failModbus(ctx, err)
			}
			out[name] = gateway.Reading{Value: openClosed(regs.RelayStatus.Open(on))}
			continue
		default:
			return nil, gateway.Fail(gateway.ReasonMeterRejected, &gateway.Evidence{
				Detail: name}, "the Modbus register map has no %s", name)
		}
		v, err := readRegister(ctx, cl, r, regs.LowWordFirst)
		if err != nil {
			return nil, failModbus(ctx, err)
		}
		out[name] = gateway.Reading{Value: v, Unit: r.Unit}
	}
	return out, nil
}

// SyncTime is not in Modbus register maps; the engine rejects it before it gets here.
func (p *Modbus) SyncTime(ctx context.Context, d gateway.Device, now time.Time) error {
	return gateway.Fail(gateway.ReasonInternal, nil, "Modbus meters have no clock map")
}

// Ping reads the relay status point.
func (p *Modbus) Ping(ctx context.Context, d gateway.Device) error {
	cl, err := p.client(d.Meter)
	if err != nil {
		return err
	}
	if _, err := readBit(ctx, cl, model(d.Meter).RelayStatus); err != nil {
		return failModbus(ctx, err)
	}
	return nil
}

var _ gateway.Driver = (*Modbus)(nil)

// TerminalRoutes is the driver of RouteTerminal: meters behind a terminal go to Meters,
// terminal control turns to Turns.
type TerminalRoutes struct {
	Meters *DLT645
	Turns  *Turns
}

func (t *TerminalRoutes) pick(d gateway.Device) gateway.Driver {
	if d.Meter != nil {
		return t.Meters
	}
	return t.Turns
}

// Control dispatches by target.
func (t *TerminalRoutes) Control(ctx context.Context, d gateway.Device, c gateway.Control) error {
	return t.pick(d).Control(ctx, d, c)
}

// Status dispatches by target.
func (t *TerminalRoutes) Status(ctx context.Context, d gateway.Device) (gateway.RelayStatus,
	error) {
	return t.pick(d).Status(ctx, d)
}

// Read dispatches by target.
func (t *TerminalRoutes) Read(ctx context.Context, d gateway.Device, items []string) (
	map[string]gateway.Reading, error) {
	return t.pick(d).Read(ctx, d, items)
}

// SyncTime dispatches by target.
func (t *TerminalRoutes) SyncTime(ctx context.Context, d gateway.Device, now time.Time) error {
	return t.pick(d).SyncTime(ctx, d, now)
}

// Ping dispatches by target.
func (t *TerminalRoutes) Ping(ctx context.Context, d gateway.Device) error {
	return t.pick(d).Ping(ctx, d)
}
