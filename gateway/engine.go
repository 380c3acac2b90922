package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Options configure Open: the store, logger, metrics registry and drivers.
type Options struct {
	Config Config
	Store  *Store
	Logger *zap.Logger
	// Registry receives the engine's metrics; nil registers none.
	Registry prometheus.Registerer
	// Drivers by route kind (RouteTerminal, RouteBus, RouteLink, RouteModbus). The
	// RouteTerminal driver also serves terminal control turns.
	Drivers map[string]Driver
	// Terminals reports live terminal sessions; nil reports every terminal offline.
	Terminals TerminalSource
	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time
}

// job is the engine's in-memory state of one unfinished command.
type job struct {
	cmd     *Command
	dev     Device
	key     string // device key: one command at a time per meter or terminal turn
	recover bool   // was sending or verifying when the engine last stopped
	// superseded marks a queued job that a newer switching command replaces. It may only
	// be cancelled, so a worker that picks it before the cancel is stored does not send it.
	superseded bool
	channel    *channel
	// visible is the last persisted snapshot of cmd, which Get returns; nil until the first
	// change after submission is stored.
	visible *Command
}

type channel struct {
	name  string
	queue []*job
	wake  chan struct{}
}

type meterState struct {
	Relay     *Relay             `json:"relay"`
	RelayAt   *time.Time         `json:"relay_at"`
	Readings  map[string]Reading `json:"readings"`
	ReadingAt *time.Time         `json:"reading_at"`
}

type batchState struct {
	batch *Batch
	jobs  []*job
}

// Engine is the command engine. Its exported methods are safe for concurrent use.
type Engine struct {
	cfg     Config
	store   *Store
	log     *zap.Logger
	metrics *Metrics
	hub     *Hub
	drivers map[string]Driver
	source  TerminalSource
	now     func() time.Time

	importMu sync.Mutex
	// current mirrors dir for readers that must not wait for mu.
	current    atomic.Pointer[directory]
	mu         sync.Mutex
	dir        *directory
	active     map[string]*job
	idem       map[string]idemRecord
	batches    map[string]*batchState
	channels   map[string]*channel
	pending    map[string][]*job // queued switching commands by device key
	meters     map[string]*meterState
	trips      map[string][]time.Time // recent trips by terminal, for the rate guard
	deadlines  deadlineHeap
	queued     int
	nextCmd    uint64
	nextBatch  uint64
	closing    bool
	openedAt   time.Time
	runCtx     context.Context
	stopRun    context.CancelFunc
	stopSweep  chan struct{}
	workers    sync.WaitGroup
	background sync.WaitGroup
	// afterSupersede, set only by tests, runs between marking superseded jobs and
	// cancelling them.
	afterSupersede func(old []*job)
}

// Open starts an engine on an opened store: it loads the archive, idempotency keys and
// batches, resumes queued commands and recovers the ones that were being sent.
func Open(opts Options) (*Engine, error) {
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Store == nil {
		return nil, errors.New("gateway: Open needs a store")
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	hub, err := newHub(opts.Store, cfg.EventBuffer)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg: cfg, store: opts.Store, log: log, metrics: newMetrics(opts.Registry), hub: hub,
		drivers: opts.Drivers, source: opts.Terminals, now: now,
		dir: newDirectory(nil), active: map[string]*job{}, batches: map[string]*batchState{},
		channels: map[string]*channel{}, pending: map[string][]*job{},
		meters: map[string]*meterState{}, trips: map[string][]time.Time{},
		stopSweep: make(chan struct{}),
	}
	e.runCtx, e.stopRun = context.WithCancel(context.Background())
	e.openedAt = now()
	// Workers start while load enqueues, so load runs under the engine lock.
	e.mu.Lock()
	err = e.load()
	e.mu.Unlock()
	if err != nil {
		e.Close(context.Background())
		return nil, err
	}
	e.background.Add(2)
	go e.sweep()
	go e.compactLoop()
	return e, nil
}

// Events returns the event hub.
func (e *Engine) Events() *Hub { return e.hub }

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Location returns the zone of protected windows and meter deadlines.
func (e *Engine) Location() *time.Location { return e.cfg.location }

// load restores state from the store at Open.
func (e *Engine) load() error {
	if data, err := e.store.Archive(); err != nil {
		return err
	} else if data != nil {
		dir, err := decodeStoredArchive(data)
		if err != nil {
			return fmt.Errorf("stored archive: %w", err)
		}
		e.dir = dir
	}
	e.current.Store(e.dir)
	idem, err := e.store.IdempotencyKeys()
	if err != nil {
		return err
	}
	e.idem = idem
	batches, err := e.store.Batches()
	if err != nil {
		return err
	}
	for _, b := range batches {
		b.Counts = map[State]int{}
		e.batches[b.ID] = &batchState{batch: b}
		if n := parseID(b.ID); n >= e.nextBatch {
			e.nextBatch = n
		}
	}
	var resumed, recovered int
	err = e.store.ScanCommands("", func(c *Command) bool {
		if n := parseID(c.ID); n >= e.nextCmd {
			e.nextCmd = n
		}
		if bs := e.batches[c.Batch]; bs != nil {
			bs.batch.Counts[c.State]++
		}
		if c.State.Final() {
			return true
		}
		j := &job{cmd: c}
		j.dev, j.key = e.deviceFor(c.Target)
		if bs := e.batches[c.Batch]; bs != nil {
			bs.jobs = append(bs.jobs, j)
		}
		e.active[c.ID] = j
		if c.State == StateQueued {
			resumed++
		} else {
			j.recover = true
			recovered++
		}
		return true
	})
	if err != nil {
		return err
	}
	// Recovered commands go first on their channels, in id order.
	ids := make([]string, 0, len(e.active))
	for id := range e.active {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if j := e.active[id]; j.recover {
			e.enqueueLocked(j)
		}
	}
	for _, id := range ids {
		if j := e.active[id]; !j.recover {
			e.enqueueLocked(j)
			if e.switching(j) {
				e.pending[j.key] = append(e.pending[j.key], j)
			}
		}
	}
	if resumed+recovered > 0 {
		e.log.Info("resumed commands from the store", zap.Int("queued", resumed),
			zap.Int("recovering", recovered))
	}
	return nil
}

func formatID(prefix byte, n uint64) string { return fmt.Sprintf("%c%016x", prefix, n) }

func parseID(id string) uint64 {
	if len(id) != 17 {
		return 0
	}
	n, _ := strconv.ParseUint(id[1:], 16, 64)
	return n
}

// deviceFor resolves a stored target against the current archive. A meter that left the
// archive resolves to a device without an entry; its command fails with route_unknown.
func (e *Engine) deviceFor(t Target) (Device, string) {
	if t.Meter != "" {
		m := e.dir.meters[t.Meter]
		return Device{Meter: m}, "meter/" + t.Meter
	}
	return Device{Terminal: t.Terminal, Turn: t.Turn},
		"terminal/" + t.Terminal + "/" + strconv.Itoa(t.Turn)
}

func (e *Engine) switching(j *job) bool {
	info, _ := lookupAction(j.cmd.Action)
	return info.switching
}

// enqueueLocked appends a job to its channel and starts the channel's worker on first use.
// Callers hold e.mu.
func (e *Engine) enqueueLocked(j *job) {
	name := j.dev.Channel()
	if j.dev.Meter == nil && j.cmd.Target.Meter != "" {
		name = "unresolved"
	}
	ch := e.channels[name]
	if ch == nil {
		ch = &channel{name: name, wake: make(chan struct{}, 1)}
		e.channels[name] = ch
		e.workers.Add(1)
		go e.runChannel(ch)
	}
	j.channel = ch
	ch.queue = append(ch.queue, j)
	e.queued++
	e.metrics.queueDepth.Set(float64(e.queued))
	e.deadlines.push(j)
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// Close stops the engine: it stops taking work, waits until ctx ends for the requests in
// flight to finish, then abandons the rest. Abandoned commands stay `sending` or
// `verifying` in the store and follow the recovery rule at the next Open. Queued commands
// stay queued. Close does not close the store.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil
	}
	e.closing = true
	for _, ch := range e.channels {
		select {
		case ch.wake <- struct{}{}:
		default:
		}
	}
	e.mu.Unlock()
	close(e.stopSweep)
	done := make(chan struct{})
	go func() {
		e.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("shutdown deadline reached, abandoning requests in flight")
		err = ctx.Err()
	}
	e.stopRun()
	<-done
	e.background.Wait()
	return err
}

// Get returns a copy of one command; ErrNotFound when it does not exist.
func (e *Engine) Get(id string) (*Command, error) {
	e.mu.Lock()
	if j, ok := e.active[id]; ok {
		var c *Command
		if j.visible != nil {
			c = j.visible.clone()
		} else {
			c = j.cmd.clone()
		}
		e.mu.Unlock()
		return c, nil
	}
	e.mu.Unlock()
	c, err := e.store.Command(id)
	if errors.Is(err, ErrNotFound) {
		return nil, &RequestError{Kind: ErrNotFound, Code: "not_found", Field: "id", Value: id,
			Message: "no command with this id"}
	}
	return c, err
}

// Filter selects commands in List.
type Filter struct {
	State  State
	Meter  string
	Batch  string
	Limit  int
	Cursor string
}

// List returns commands in id order matching f, and the cursor of the next page ("" when
// this is the last one). It reads the store, so it shows persisted states.
func (e *Engine) List(f Filter) ([]*Command, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []*Command
	next := ""
	err := e.store.ScanCommands(f.Cursor, func(c *Command) bool {
		if f.State != "" && c.State != f.State {
			return true
		}
		if f.Meter != "" && c.Target.Meter != f.Meter {
			return true
		}
		if f.Batch != "" && c.Batch != f.Batch {
			return true
		}
		if len(out) == f.Limit {
			next = out[len(out)-1].ID
			return false
		}
		out = append(out, c)
		return true
	})
	return out, next, err
}

// MeterView is the API's view of a meter: its archive entry without the password, and
// the last relay state and reading the gateway saw.
type MeterView struct {
	Address       string             `json:"address"`
	Protocol      string             `json:"protocol"`
	Kind          string             `json:"kind"`
	MeterNumber   string             `json:"meter_number,omitempty"`
	Protected     bool               `json:"protected"`
	PasswordLevel int                `json:"password_level,omitempty"`
	Route         map[string]any     `json:"route"`
	Relay         *Relay             `json:"relay"`
	RelayAt       *time.Time         `json:"relay_at"`
	Readings      map[string]Reading `json:"readings"`
	ReadingAt     *time.Time         `json:"reading_at"`
}

// Meter returns the view of one archive meter; ErrNotFound when it is not in the archive.
func (e *Engine) Meter(address string) (*MeterView, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.dir.meters[address]
	if m == nil {
		return nil, &RequestError{Kind: ErrNotFound, Code: "not_found", Field: "address",
			Value: address, Message: "meter is not in the archive"}
	}
	v := &MeterView{Address: m.Address, Protocol: m.Protocol, Kind: m.Kind,
		MeterNumber: m.MeterNumber, Protected: m.Protected, Route: routeView(m.Route)}
	if m.Source.Password != nil {
		v.PasswordLevel = m.Source.Password.Level
	}
	if st := e.meters[address]; st != nil {
		v.Relay, v.RelayAt, v.Readings, v.ReadingAt = st.Relay, st.RelayAt, st.Readings,
			st.ReadingAt
	}
	return v, nil
}

func routeView(r MeterRoute) map[string]any {
	switch r.Kind {
	case RouteTerminal:
		return map[string]any{"terminal": r.Terminal, "point": r.Point, "port": r.Port,
			"baud": r.Baud}
	case RouteBus:
		return map[string]any{"bus": r.Bus, "baud": r.Baud}
	case RouteLink:
		return map[string]any{"link": r.Link}
	case RouteModbus:
		return map[string]any{"modbus": map[string]any{"endpoint": r.Endpoint,
			"unit": r.Unit, "model": r.Model}}
	}
	return nil
}

// Terminals returns the diagnostics of archive terminals and of every terminal that
// connected, in address order, filtered by online state when online is not nil.
func (e *Engine) Terminals(online *bool) []TerminalInfo {
	e.mu.Lock()
	dir := e.dir
	e.mu.Unlock()
	byAddr := map[string]TerminalInfo{}
	for addr, t := range dir.terminals {
		byAddr[addr] = TerminalInfo{Address: addr, HeartbeatPeriodS: t.HeartbeatPeriodS,
			Disconnects24h: map[string]int{}, InArchive: true}
	}
	if e.source != nil {
		for _, info := range e.source.Terminals() {
			_, info.InArchive = dir.terminals[info.Address]
			if info.Disconnects24h == nil {
				info.Disconnects24h = map[string]int{}
			}
			byAddr[info.Address] = info
		}
	}
	out := make([]TerminalInfo, 0, len(byAddr))
	for _, t := range byAddr {
		if online == nil || t.Online == *online {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// Terminal returns the diagnostics of one terminal; ErrNotFound when it is neither in the
// archive nor ever connected.
func (e *Engine) Terminal(address string) (*TerminalInfo, error) {
	e.mu.Lock()
	t := e.dir.terminals[address]
	e.mu.Unlock()
	if e.source != nil {
		if info, ok := e.source.Terminal(address); ok {
			info.InArchive = t != nil
			if info.Disconnects24h == nil {
				info.Disconnects24h = map[string]int{}
			}
			return &info, nil
		}
	}
	if t == nil {
		return nil, &RequestError{Kind: ErrNotFound, Code: "not_found", Field: "address",
			Value: address, Message: "terminal is neither in the archive nor connected"}
	}
	return &TerminalInfo{Address: address, HeartbeatPeriodS: t.HeartbeatPeriodS,
		Disconnects24h: map[string]int{}, InArchive: true}, nil
}

// HeartbeatPeriod returns the archive's heartbeat period of a terminal, false when the
// terminal is not in the archive or has none. It does not block on commands in flight.
func (e *Engine) HeartbeatPeriod(address string) (time.Duration, bool) {
	d := e.current.Load()
	if d == nil {
		return 0, false
	}
	t := d.terminals[address]
	if t == nil || t.HeartbeatPeriodS <= 0 {
		return 0, false
	}
	return time.Duration(t.HeartbeatPeriodS) * time.Second, true
}
