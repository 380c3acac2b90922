package simulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
	"github.com/feegate/feegate/simulator/terminal"
)

// DefaultSecret is the master secret of the encryption test double that the simulated
// cost-control meters share with the gateway; it equals the gateway's default.
const DefaultSecret = "feegate-secdouble-master-secret"

// DefaultPassword is the plain password (level 02) of every simulated DL/T 645 meter.
const DefaultPassword = "123456"

// Options configure a fleet. The zero value of a field means its default.
type Options struct {
	// Gateway is host:port of the gateway's terminal server; required when Terminals > 0.
	Gateway string
	// Terminals and MetersPerTerminal size the terminal part of the fleet; the feegate sim
	// flags default them to 10 and 8.
	Terminals         int
	MetersPerTerminal int
	// Region is A1 of every terminal (default 4401).
	Region uint16
	// Serial is the number of pty buses with MetersPerBus meters each (default 4).
	Serial       int
	MetersPerBus int
	// Modbus is the number of Modbus TCP meters on one server, one unit id each.
	Modbus int
	// Latency is the channel latency per forward (default 100–300 ms) and MeterDelay the
	// meters' reply delay (default 20–500 ms).
	Latency    terminal.Range
	MeterDelay terminal.Range
	// Heartbeat is the terminals' heartbeat period (default 60 s).
	Heartbeat time.Duration
	// Control is the control API's listen address (default 127.0.0.1:0); "-" disables it.
	Control string
	// Seed makes addresses and meter parameters deterministic.
	Seed uint64
	// Secret is the encryption double's master secret (default DefaultSecret).
	Secret []byte
	// SourceIPs spreads the terminals' source addresses over 127.0.0.1 … 127.0.0.N, so a
	// fleet larger than one address's ephemeral ports can connect to a loopback gateway.
	SourceIPs int
	// ClockError, when positive, starts each meter clock up to that far from real time
	// (drawn from the seed). The default 0 keeps clocks exact, because a gateway that sends
	// deadlines only seconds ahead would see drifted meters reject its commands.
	ClockError time.Duration
	// Start is the registers' reference time (default now).
	Start time.Time
	// Logger receives the fleet's log lines; nil logs nothing.
	Logger *zap.Logger
}

// DefaultTerminals and the other defaults of the feegate sim flags.
const (
	DefaultTerminals         = 10
	DefaultMetersPerTerminal = 8
	DefaultRegion            = 4401
	DefaultMetersPerBus      = 4
)

// Fleet is a running set of simulated terminals, meters, pty buses and Modbus meters.
// Its methods are safe for concurrent use.
type Fleet struct {
	opts Options
	log  *zap.Logger

	terminals  []*terminal.Terminal
	byTerminal map[string]*terminal.Terminal
	meters     map[string]*simMeter
	order      []*simMeter // archive order
	buses      []*Bus
	modbus     *modbusServer

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	control net.Listener
	server  *http.Server
}

// simMeter is a meter with where it sits in the fleet.
type simMeter struct {
	m        *meter.Meter
	terminal string // A1A2, or ""
	point    uint16
	port     uint8
	bus      int // index+1 of its bus, or 0
	unit     uint8
	password dlt645.Password
}

// Ready is the fleet's endpoints, printed and written to the ready file when it is up.
type Ready struct {
	Control string   `json:"control"`
	Serial  []string `json:"serial"`
	Modbus  string   `json:"modbus"`
}

// New builds the fleet's devices; Start connects them.
func New(opts Options) (*Fleet, error) {
	if opts.Terminals < 0 || opts.MetersPerTerminal < 0 || opts.Serial < 0 || opts.Modbus < 0 {
		return nil, errors.New("simulator: counts must not be negative")
	}
	if opts.MetersPerTerminal > 2040 {
		return nil, fmt.Errorf("simulator: %d meters per terminal; a terminal has at most 2040 points",
			opts.MetersPerTerminal)
	}
	if opts.Terminals > 0xFFFF || opts.Terminals > 899999 {
		return nil, fmt.Errorf("simulator: %d terminals; at most 65535 fit in A2", opts.Terminals)
	}
	if opts.Modbus > 247 {
		return nil, fmt.Errorf("simulator: %d Modbus meters; unit ids stop at 247", opts.Modbus)
	}
	if opts.Terminals > 0 && opts.Gateway == "" {
		return nil, errors.New("simulator: the gateway address is required when terminals > 0")
	}
	if opts.Region == 0 {
		opts.Region = DefaultRegion
	}
	if opts.MetersPerBus == 0 {
		opts.MetersPerBus = DefaultMetersPerBus
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = time.Minute
	}
	if opts.Secret == nil {
		opts.Secret = []byte(DefaultSecret)
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Control == "" {
		opts.Control = "127.0.0.1:0"
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{opts: opts, log: log, byTerminal: map[string]*terminal.Terminal{},
		meters: map[string]*simMeter{}}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9E3779B97F4A7C15))
	pw, _ := dlt645.ParsePassword(DefaultPassword)

	for ti := 0; ti < opts.Terminals; ti++ {
		taddr := protocol.TerminalAddress{A1: opts.Region, A2: uint16(ti + 1)}
		attached := make([]terminal.Attached, 0, opts.MetersPerTerminal)
		for mi := 0; mi < opts.MetersPerTerminal; mi++ {
			sm := f.newMeter(rng, meterAddress(opts.Seed, ti+1, mi+1), mixOf(mi), pw)
			sm.terminal, sm.point, sm.port = taddr.String(), uint16(mi+1), 31
			if sm.m.Edition() == dlt645.Edition1997 {
				sm.port = 2 // 1997 meters sit on the terminal's RS-485 port
			}
			attached = append(attached, terminal.Attached{Point: sm.point, Port: sm.port, Meter: sm.m})
		}
		var source net.IP
		if opts.SourceIPs > 1 {
			source = net.IPv4(127, 0, 0, byte(1+ti%min(opts.SourceIPs, 254)))
		}
		t := terminal.New(terminal.Config{
			Address: taddr, Gateway: opts.Gateway, LocalIP: source, Heartbeat: opts.Heartbeat,
			Latency: opts.Latency, MeterDelay: opts.MeterDelay, Logger: log,
			ControlTurns: controlTurns(ti),
		}, attached)
		f.terminals = append(f.terminals, t)
		f.byTerminal[taddr.String()] = t
	}
	for bi := 0; bi < opts.Serial; bi++ {
		var ms []*simMeter
		for mi := 0; mi < opts.MetersPerBus; mi++ {
			sm := f.newMeter(rng, meterAddress(opts.Seed, 900000+bi+1, mi+1), mixOf(mi), pw)
			sm.bus = bi + 1
			ms = append(ms, sm)
		}
		f.buses = append(f.buses, &Bus{name: fmt.Sprintf("bus%d", bi+1), meters: ms,
			delay: opts.MeterDelay, log: log})
	}
	for ui := 0; ui < opts.Modbus; ui++ {
		sm := f.newModbusMeter(rng, meterAddress(opts.Seed, 980000, ui+1))
		sm.unit = uint8(ui + 1)
	}
	return f, nil
}

// meterAddress is deterministic for a seed: two digits of the seed, six of the terminal
// (or bus 9000xx, Modbus 980000) and four of the meter.
func meterAddress(seed uint64, group, index int) protocol.MeterAddress {
	s := fmt.Sprintf("%02d%06d%04d", seed%100, group%1000000, index%10000)
	a, _ := protocol.ParseMeterAddress(s)
	return a
}

// meterMix is the kind of a meter in the default mix.
type meterMix int

const (
	mixCostControl meterMix = iota
	mixPlain2007
	mix1997
)

// mixOf returns the kind of the i-th meter behind a terminal or on a bus: of every eight,
// five are 2007 cost-control meters, two plain 2007 meters (indexes 3 and 6) and one a
// 1997 meter (index 7).
func mixOf(i int) meterMix {
	switch i % 8 {
	case 3, 6:
		return mixPlain2007
	case 7:
		return mix1997
	}
	return mixCostControl
}

// controlTurns gives every fourth terminal two control turns, as a dedicated-transformer
// terminal has; the others are concentrators without turns.
func controlTurns(i int) int {
	if i%4 == 3 {
		return 2
	}
	return 0
}

func (f *Fleet) newMeter(rng *rand.Rand, addr protocol.MeterAddress, mix meterMix, pw dlt645.Password) *simMeter {
	cfg := meter.Config{
		Address:     addr,
		Edition:     dlt645.Edition2007,
		CostControl: mix == mixCostControl,
		Password:    pw,
		LoadKW:      0.3 + 2.7*rng.Float64(),
		InitialKWh:  100 + 20000*rng.Float64(),
		Start:       f.opts.Start,
		BalanceYuan: 20 + 280*rng.Float64(),
		Phase:       rng.Float64() * 6.28,
		Secret:      f.opts.Secret,
	}
	if e := f.opts.ClockError; e > 0 {
		cfg.ClockSkew = time.Duration(rng.Int64N(int64(2*e+1))) - e
	}
	if mix == mix1997 {
		cfg.Edition, cfg.CostControl = dlt645.Edition1997, false
	}
	sm := &simMeter{m: meter.New(cfg), password: pw}
	f.meters[addr.String()] = sm
	f.order = append(f.order, sm)
	return sm
}

func (f *Fleet) newModbusMeter(rng *rand.Rand, addr protocol.MeterAddress) *simMeter {
	sm := &simMeter{m: meter.New(meter.Config{
		Address: addr, Edition: dlt645.Edition2007, Modbus: true,
		LoadKW: 0.3 + 2.7*rng.Float64(), InitialKWh: 100 + 20000*rng.Float64(),
		Start: f.opts.Start, Phase: rng.Float64() * 6.28,
	})}
	f.meters[addr.String()] = sm
	f.order = append(f.order, sm)
	return sm
}

// Start opens the pty buses, the Modbus server and the control API, and connects every
// terminal to the gateway. The fleet runs until ctx ends or Close.
func (f *Fleet) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	for _, b := range f.buses {
		if err := b.open(); err != nil {
			f.Close()
			return err
		}
		f.wg.Add(1)
		go func() { defer f.wg.Done(); b.serve(ctx) }()
	}
	if f.opts.Modbus > 0 {
		srv, err := startModbus(f.modbusMeters(), f.log)
		if err != nil {
			f.Close()
			return err
		}
		f.modbus = srv
	}
	if f.opts.Control != "-" {
		ln, err := net.Listen("tcp", f.opts.Control)
		if err != nil {
			f.Close()
			return fmt.Errorf("simulator: control API: %w", err)
		}
		f.control = ln
		f.server = &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 10 * time.Second}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := f.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				f.log.Error("control API stopped", zap.Error(err))
			}
		}()
	}
	for _, t := range f.terminals {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); t.Run(ctx) }()
	}
	f.log.Info("fleet started", zap.Int("terminals", len(f.terminals)),
		zap.Int("meters", len(f.order)), zap.Int("buses", len(f.buses)),
		zap.Int("modbus", f.opts.Modbus))
	return nil
}

// Close stops every terminal (they log out), the buses, the Modbus server and the control
// API, and waits for their goroutines.
func (f *Fleet) Close() {
	f.mu.Lock()
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if f.server != nil {
		shutdown, done := context.WithTimeout(context.Background(), 2*time.Second)
		_ = f.server.Shutdown(shutdown)
		done()
	}
	for _, b := range f.buses {
		b.close()
	}
	if f.modbus != nil {
		f.modbus.stop()
	}
	f.wg.Wait()
	f.log.Info("fleet stopped")
}

// Ready returns the control API address, the pty paths and the Modbus server address.
func (f *Fleet) Ready() Ready {
	r := Ready{Serial: []string{}}
	if f.control != nil {
		r.Control = f.control.Addr().String()
	}
	for _, b := range f.buses {
		r.Serial = append(r.Serial, b.Path())
	}
	if f.modbus != nil {
		r.Modbus = f.modbus.addr
	}
	return r
}

// Terminals returns the simulated terminals.
func (f *Fleet) Terminals() []*terminal.Terminal { return f.terminals }

// Terminal returns the terminal with the A1A2 address.
func (f *Fleet) Terminal(a1a2 string) (*terminal.Terminal, bool) {
	t, ok := f.byTerminal[a1a2]
	return t, ok
}

// Meter returns the meter with the 12-digit address.
func (f *Fleet) Meter(address string) (*meter.Meter, bool) {
	sm, ok := f.meters[address]
	if !ok {
		return nil, false
	}
	return sm.m, true
}

func (f *Fleet) modbusMeters() []*simMeter {
	var out []*simMeter
	for _, sm := range f.order {
		if sm.unit != 0 {
			out = append(out, sm)
		}
	}
	return out
}

// Archive returns the archive of the fleet with the current pty paths, the Modbus server
// address and the meters' plain passwords. The gateway needs the passwords, so export it
// only to the gateway under test.
func (f *Fleet) Archive() *archive.Archive {
	a := &archive.Archive{Terminals: []archive.Terminal{}, Buses: []archive.Bus{},
		Links: []archive.Link{}, ModbusModels: []archive.ModbusModel{}, Meters: []archive.Meter{}}
	for _, t := range f.terminals {
		kind := archive.KindConcentrator
		if t.ControlTurns() > 0 {
			kind = archive.KindDedicatedTransformer
		}
		a.Terminals = append(a.Terminals, archive.Terminal{Address: t.Address().String(),
			Kind: kind, HeartbeatPeriodS: int(f.opts.Heartbeat / time.Second),
			ControlTurns: t.ControlTurns()})
	}
	for _, b := range f.buses {
		a.Buses = append(a.Buses, archive.Bus{Name: b.name, Device: b.Path(), Baud: 2400,
			Parity: "even"})
	}
	for _, sm := range f.order {
		st := sm.m.State(time.Now())
		am := archive.Meter{Address: st.Address, Protocol: st.Protocol, Kind: st.Kind}
		switch {
		case sm.terminal != "":
			am.Route = archive.Route{Terminal: sm.terminal, Point: int(sm.point),
				Port: int(sm.port), Baud: sm.m.Baud()}
		case sm.bus != 0:
			am.Route = archive.Route{Bus: f.buses[sm.bus-1].name, Baud: sm.m.Baud()}
		case sm.unit != 0:
			endpoint := ""
			if f.modbus != nil {
				endpoint = f.modbus.addr
			}
			am.Route = archive.Route{Modbus: &archive.ModbusRoute{Endpoint: endpoint,
				Unit: int(sm.unit), Model: archive.DefaultModbusModelName}}
		}
		if st.Protocol != archive.ProtocolModbus {
			am.Password = &archive.Password{Level: 2, Value: sm.password.String()}
		}
		a.Meters = append(a.Meters, am)
	}
	sort.SliceStable(a.Terminals, func(i, j int) bool { return a.Terminals[i].Address < a.Terminals[j].Address })
	return a
}
