package terminal

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
)

// Range is a closed interval of durations; a value is drawn uniformly from it.
type Range struct{ Min, Max time.Duration }

// Draw returns a uniformly drawn duration of the range.
func (r Range) Draw() time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + rand.N(r.Max-r.Min+1)
}

// Config describes one simulated terminal.
type Config struct {
	Address protocol.TerminalAddress
	// Gateway is host:port of the gateway's terminal server.
	Gateway string
	// LocalIP, when set, is the source address of the connection (such as 127.0.0.7), so a
	// large fleet spreads its ports over several loopback addresses.
	LocalIP net.IP
	// Heartbeat is the heartbeat period; 0 means one minute.
	Heartbeat time.Duration
	// Latency is the simulated channel latency per forward (default 100–300 ms).
	Latency Range
	// MeterDelay is the meters' reply delay Td (default 20–500 ms, the DL/T 645 range).
	MeterDelay Range
	// ControlTurns is the number of the terminal's own control turns, 0–8.
	ControlTurns int
	// Backoff is the first reconnect delay (default 1 s); it doubles up to 60 s with ±20 %
	// jitter.
	Backoff time.Duration
	// RetryWindow is how long a reply stays cached for a repeated PSEQ (default 60 s).
	RetryWindow time.Duration
	// ReportCon requests confirmation of active reports (CON=1); AFN04 F1 may change it.
	ReportCon bool
	// Logger receives connection events; nil logs nothing.
	Logger *zap.Logger
}

// Attached is a meter behind a terminal: its measurement point and port.
type Attached struct {
	Point uint16
	Port  uint8
	Meter *meter.Meter
}

// Terminal is one simulated terminal.
type Terminal struct {
	cfg    Config
	log    *zap.Logger
	meters []Attached

	mu         sync.Mutex
	conn       net.Conn // current connection, nil when disconnected
	connected  bool
	loggedIn   bool
	powered    bool
	poweredOff time.Time // when power was removed, for ERC14
	faults     Faults
	wake       chan struct{}
	pfc        uint8 // frame counter of frames the terminal starts
	skew       time.Duration
	heartbeat  time.Duration
	reportCon  bool
	turnOpen   uint8        // remote-trip output state per turn (bit n-1 = turn n tripped)
	turnAlarm  [8]time.Time // a trip waiting out its alarm delay, per turn; zero if none
	guarantee  bool
	guardUntil time.Time // zero: indefinite
	events     []event
	ec         gw376.EC
	pending    []pendingReport
	table      [][]byte // AFN04 F10 meter table records, 27 bytes each
	params     map[uint8][]byte
	cache      [2]cachedReply
	stats      Stats
	logins     int
}

// Faults are the injected faults of a terminal.
type Faults struct {
	Offline        bool    `json:"offline,omitempty"`
	Silent         bool    `json:"silent,omitempty"`
	CarrierLoss    bool    `json:"carrier_loss,omitempty"`
	HalfOpen       bool    `json:"half_open,omitempty"`
	HeartbeatStop  bool    `json:"heartbeat_stop,omitempty"`
	DuplicateLogin bool    `json:"duplicate_login,omitempty"`
	Flapping       bool    `json:"flapping,omitempty"`
	CorruptRate    float64 `json:"corrupt_rate,omitempty"`
}

// Stats are the forwarding figures of a terminal, for the physical limit of a benchmark.
type Stats struct {
	Forwards int64 `json:"forwards"`
	// Sums over every forward, in milliseconds: channel latency, meter reply delay and the
	// byte times of request and reply at the meter's baud.
	LatencyMs float64 `json:"latency_ms"`
	MeterMs   float64 `json:"meter_ms"`
	BytesMs   float64 `json:"bytes_ms"`
	// Last is the timing of the latest forward.
	Last ForwardTiming `json:"last"`
}

// ForwardTiming is the time one forward took on the simulated channel, in milliseconds.
type ForwardTiming struct {
	LatencyMs float64 `json:"latency_ms"`
	MeterMs   float64 `json:"meter_ms"`
	BytesMs   float64 `json:"bytes_ms"`
	TotalMs   float64 `json:"total_ms"`
	Meter     string  `json:"meter,omitempty"`
	Answered  bool    `json:"answered"`
}

type cachedReply struct {
	key    uint64
	at     time.Time
	frames [][]byte
}

type pendingReport struct {
	important bool
	record    []byte
}

// New returns a powered terminal with the meters behind it. Its AFN04 F10 meter table is
// built from the meters.
func New(cfg Config, meters []Attached) *Terminal {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Minute
	}
	if cfg.Latency == (Range{}) {
		cfg.Latency = Range{100 * time.Millisecond, 300 * time.Millisecond}
	}
	if cfg.MeterDelay == (Range{}) {
		cfg.MeterDelay = Range{20 * time.Millisecond, 500 * time.Millisecond}
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.RetryWindow <= 0 {
		cfg.RetryWindow = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	t := &Terminal{
		cfg:       cfg,
		log:       log.With(zap.String("terminal", cfg.Address.String())),
		meters:    meters,
		powered:   true,
		wake:      make(chan struct{}, 1),
		heartbeat: cfg.Heartbeat,
		reportCon: cfg.ReportCon,
	}
	for i, a := range meters {
		t.table = append(t.table, tableRecord(uint16(i+1), a))
	}
	return t
}

// tableRecord builds the 27-byte AFN04 F10 record of an attached meter.
func tableRecord(seq uint16, a Attached) []byte {
	r := make([]byte, 27)
	r[0], r[1] = byte(seq), byte(seq>>8)
	r[2], r[3] = byte(a.Point), byte(a.Point>>8)
	r[4] = baudCode(a.Meter.Baud())<<5 | a.Port&0x1F
	r[5] = 30 // DL/T 645-2007
	if a.Meter.Edition() == dlt645.Edition1997 {
		r[5] = 1
	}
	addr := a.Meter.Address()
	copy(r[6:12], addr[:])
	r[18] = 4        // four tariffs
	r[19] = 2<<2 | 1 // six integer digits, two decimals
	r[26] = 0
	return r
}

// baudCode returns the AFN04 F10 rate code (1..7 = 600 … 19200; 0 = default).
func baudCode(baud int) uint8 {
	for i, b := range []int{600, 1200, 2400, 4800, 7200, 9600, 19200} {
		if b == baud {
			return uint8(i + 1)
		}
	}
	return 0
}

// Address returns the terminal's A1A2 address.
func (t *Terminal) Address() protocol.TerminalAddress { return t.cfg.Address }

// ControlTurns returns the number of the terminal's own control turns.
func (t *Terminal) ControlTurns() int { return t.cfg.ControlTurns }

// Meters returns the meters behind the terminal.
func (t *Terminal) Meters() []Attached { return t.meters }

// State is what the control API reports of a terminal.
type State struct {
	Address   string   `json:"address"`
	Connected bool     `json:"connected"`
	LoggedIn  bool     `json:"logged_in"`
	Powered   bool     `json:"powered"`
	Faults    []string `json:"faults"`
	Logins    int      `json:"logins"`
	Guarantee bool     `json:"guarantee"`
	// TurnsTripped lists the control turns whose remote-trip output is on.
	TurnsTripped []int `json:"turns_tripped"`
	Meters       int   `json:"meters"`
	Forwarding   Stats `json:"forwarding"`
}

// State returns the terminal's state. Safe from any goroutine.
func (t *Terminal) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.applyTurnAlarms(time.Now())
	s := State{
		Address:      t.cfg.Address.String(),
		Connected:    t.connected,
		LoggedIn:     t.loggedIn,
		Powered:      t.powered,
		Faults:       t.faultNames(),
		Logins:       t.logins,
		Guarantee:    t.guaranteeActive(time.Now()),
		TurnsTripped: []int{},
		Meters:       len(t.meters),
		Forwarding:   t.stats,
	}
	for i := 0; i < 8; i++ {
		if t.turnOpen&(1<<i) != 0 {
			s.TurnsTripped = append(s.TurnsTripped, i+1)
		}
	}
	return s
}

// Stats returns the forwarding figures. Safe from any goroutine.
func (t *Terminal) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// SetPower powers the terminal off (it drops its connection without logging out) or on (it
// reconnects, logs in and reports ERC14 with the outage). Safe from any goroutine.
func (t *Terminal) SetPower(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if on == t.powered {
		return
	}
	t.powered = on
	now := time.Now()
	if !on {
		t.poweredOff = now
		t.closeLocked()
		return
	}
	t.addEvent(ercPower(t.poweredOff.In(dlt645.DefaultLocation()), now.In(dlt645.DefaultLocation())), true)
	t.kick()
}

// kick wakes the connection goroutine so it applies a state change; t.mu must be held.
func (t *Terminal) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
	if t.conn != nil {
		_ = t.conn.SetReadDeadline(time.Now())
	}
}

// closeLocked drops the current connection without a logout; t.mu must be held.
func (t *Terminal) closeLocked() {
	if t.conn != nil {
		_ = t.conn.Close()
	}
	t.connected, t.loggedIn = false, false
	t.kick()
}

// clock returns the terminal's clock.
func (t *Terminal) clock(now time.Time) time.Time {
	return now.Add(t.skew).In(dlt645.DefaultLocation())
}

func (t *Terminal) guaranteeActive(now time.Time) bool {
	return t.guarantee && (t.guardUntil.IsZero() || now.Before(t.guardUntil))
}

// Run keeps the terminal connected to the gateway until ctx ends, then logs out and
// returns. It is the terminal's only goroutine.
func (t *Terminal) Run(ctx context.Context) {
	backoff := t.cfg.Backoff
	for ctx.Err() == nil {
		if !t.ready() {
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
			}
			continue
		}
		started := time.Now()
		err := t.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > 2*t.heartbeat {
			backoff = t.cfg.Backoff
		}
		t.mu.Lock()
		flapping := t.faults.Flapping
		t.mu.Unlock()
		wait := jitter(backoff)
		if flapping {
			wait = jitter(200 * time.Millisecond)
		} else {
			backoff = min(backoff*2, 60*time.Second)
		}
		t.log.Debug("disconnected", zap.Error(err), zap.Duration("reconnect_in", wait))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-t.wake:
			timer.Stop()
		}
	}
}

// ready reports whether the terminal should be connected.
func (t *Terminal) ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.powered && !t.faults.Offline
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// errStop ends a session on purpose (power off, offline, flapping).
var errStop = errors.New("terminal: session stopped")
