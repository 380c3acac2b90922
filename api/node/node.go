package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/feegate/feegate/api"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/plan"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
)

// DefaultSecuritySecret is the master secret of the encryption-machine test double when
// none is configured. The simulator's cost-control meters derive their keys from the same
// value by default. It is a test value: configure a real encryption machine in the field.
const DefaultSecuritySecret = "feegate-secdouble-master-secret"

// Config configures a node. Zero values take the defaults given per field.
type Config struct {
	// TerminalListen is the terminal server address; "" means ":9027".
	TerminalListen string
	// APIListen is the HTTP API address; "" means "127.0.0.1:8080".
	APIListen string
	// StorePath is the bbolt file; "" means "./feegate.db".
	StorePath string
	// Tokens are the accepted API bearer tokens. With none, APIListen must be loopback.
	Tokens []string
	// Engine tunes the command engine.
	Engine gateway.Config
	// Terminal tunes the terminal server; Address, Logger and Metrics are set by Start.
	Terminal transport.ServerConfig
	// SecuritySecret is the master secret of the encryption-machine double; "" means
	// DefaultSecuritySecret.
	SecuritySecret string
	// Operator is the 8-digit operator code of controls that name none.
	Operator string
	// ForwardTimeout and ForwardControlTimeout are the meter reply waits written into
	// AFN10 F1 forwards for reads and for controls; 0 means 5 s and 10 s.
	ForwardTimeout        time.Duration
	ForwardControlTimeout time.Duration
	// ClockTolerance is how far a DL/T 645 meter clock may be from the gateway clock after
	// sync_time before the command fails; 0 or less means 10 s.
	ClockTolerance time.Duration
	// ShutdownTimeout bounds the drain of commands in flight at Close; 0 means 10 s.
	ShutdownTimeout time.Duration
	// Logger receives every log line; nil means none.
	Logger *zap.Logger
}

// Node is a running gateway. Its methods are safe for concurrent use.
type Node struct {
	cfg       Config
	log       *zap.Logger
	store     *gateway.Store
	terminals *transport.Server
	lines     *plan.Lines
	modbus    *plan.Modbus
	engine    *gateway.Engine
	http      *http.Server
	apiAddr   net.Addr
	registry  *prometheus.Registry
	stopSubs  func()
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// IsLoopback reports whether a listen address binds only to loopback interfaces. A host
// that is empty or unspecified binds every interface, so it is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) setDefaults() {
	if c.TerminalListen == "" {
		c.TerminalListen = ":9027"
	}
	if c.APIListen == "" {
		c.APIListen = "127.0.0.1:8080"
	}
	if c.StorePath == "" {
		c.StorePath = "./feegate.db"
	}
	if c.SecuritySecret == "" {
		c.SecuritySecret = DefaultSecuritySecret
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// ErrNoToken means the API would listen beyond loopback without any bearer token.
var ErrNoToken = errors.New("node: no API token is configured, so the API may only " +
	"listen on a loopback address")

// Start opens the store, starts the terminal server, the engine and the API, and returns
// once all of them accept work. On error everything started is stopped again.
func Start(cfg Config) (n *Node, err error) {
	cfg.setDefaults()
	hasToken := false
	for _, t := range cfg.Tokens {
		hasToken = hasToken || t != ""
	}
	if !hasToken && !IsLoopback(cfg.APIListen) {
		return nil, fmt.Errorf("%w: %s", ErrNoToken, cfg.APIListen)
	}
	n = &Node{cfg: cfg, log: cfg.Logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			n.Close(ctx)
		}
	}()
	n.registry.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	n.store, err = gateway.OpenStore(cfg.StorePath, cfg.Engine.StoreBatchDelay)
	if err != nil {
		return n, err
	}
	tm, err := transport.NewMetrics(n.registry)
	if err != nil {
		return n, err
	}
	// The engine's drivers need the terminal server, and the server asks the engine's
	// archive for heartbeat periods. So the server reaches the engine through engineRef,
	// which is set after Open and before the server starts.
	var engineRef *gateway.Engine
	tcfg := cfg.Terminal
	tcfg.Address = cfg.TerminalListen
	tcfg.Logger = cfg.Logger.Named("terminal")
	tcfg.Metrics = tm
	tcfg.HeartbeatPeriodOf = func(a protocol.TerminalAddress) (time.Duration, bool) {
		if engineRef == nil {
			return 0, false
		}
		return engineRef.HeartbeatPeriod(a.String())
	}
	n.terminals, err = transport.NewServer(tcfg)
	if err != nil {
		return n, err
	}
	loc, err := time.LoadLocation(orDefault(cfg.Engine.Timezone, "Asia/Shanghai"))
	if err != nil {
		return n, err
	}
	machine := secdouble.NewMaster([]byte(cfg.SecuritySecret))
	meterPlan := func(ex plan.Exchanger) *plan.DLT645 {
		return plan.NewDLT645(ex, plan.DLT645Config{Machine: machine, Operator: cfg.Operator,
			Location: loc, ClockTolerance: cfg.ClockTolerance,
			Logger: cfg.Logger.Named("dlt645")})
	}
	n.lines = plan.NewLines(cfg.Logger.Named("bus"), tm)
	n.modbus = &plan.Modbus{Logger: cfg.Logger.Named("modbus"), Metrics: tm}
	linePlan := meterPlan(n.lines)
	drivers := map[string]gateway.Driver{
		gateway.RouteTerminal: &plan.TerminalRoutes{
			Meters: meterPlan(&plan.Forwarder{Server: n.terminals,
				ReadTimeout: cfg.ForwardTimeout, ControlTimeout: cfg.ForwardControlTimeout}),
			Turns: &plan.Turns{Server: n.terminals, Location: loc}},
		gateway.RouteBus:    linePlan,
		gateway.RouteLink:   linePlan,
		gateway.RouteModbus: n.modbus,
	}
	n.engine, err = gateway.Open(gateway.Options{Config: cfg.Engine, Store: n.store,
		Logger: cfg.Logger.Named("engine"), Registry: n.registry, Drivers: drivers,
		Terminals: terminalSource{n.terminals}})
	if err != nil {
		return n, err
	}
	engineRef = n.engine
	if err = n.terminals.Start(); err != nil {
		return n, err
	}
	events, stop := n.terminals.Subscribe(1024)
	n.stopSubs = stop
	n.wg.Add(1)
	go n.forwardEvents(events)

	ln, err := net.Listen("tcp", cfg.APIListen)
	if err != nil {
		return n, fmt.Errorf("API listen on %s: %w", cfg.APIListen, err)
	}
	n.apiAddr = ln.Addr()
	handler := api.New(api.Options{Engine: n.engine, Tokens: cfg.Tokens,
		Logger: cfg.Logger.Named("api"), Gatherer: n.registry, Ready: n.ready})
	// Event streams never end on their own. Shutdown cancels the base context of every
	// request, so they return and Shutdown does not wait for its deadline.
	base, cancelBase := context.WithCancel(context.Background())
	n.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return base }}
	n.http.RegisterOnShutdown(cancelBase)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("API server stopped", zap.Error(err))
		}
	}()
	n.log.Info("gateway started", zap.String("api", n.apiAddr.String()),
		zap.String("terminals", n.terminals.Addr().String()),
		zap.String("store", cfg.StorePath))
	return n, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (n *Node) ready() bool { return n.engine != nil && n.terminals.Addr() != nil }

// APIAddr returns the address the API listens on.
func (n *Node) APIAddr() string { return n.apiAddr.String() }

// TerminalAddr returns the address the terminal server listens on.
func (n *Node) TerminalAddr() string { return n.terminals.Addr().String() }

// Engine returns the command engine.
func (n *Node) Engine() *gateway.Engine { return n.engine }

// Close stops the API, drains the engine until ctx ends (commands still in flight then
// follow the recovery rule at the next start), stops the terminal server and the lines,
// and closes the store. It is safe to call more than once.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.http != nil {
			if err := n.http.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("API shutdown: %w", err))
				n.http.Close()
			}
		}
		if n.engine != nil {
			if err := n.engine.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("engine drain: %w", err))
			}
		}
		if n.stopSubs != nil {
			n.stopSubs()
		}
		if n.terminals != nil && n.terminals.Addr() != nil {
			if err := n.terminals.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("terminal server: %w", err))
			}
		}
		if n.lines != nil {
			n.lines.Close()
		}
		if n.modbus != nil {
			n.modbus.Close()
		}
		n.wg.Wait()
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("store: %w", err))
			}
		}
		n.closeErr = errors.Join(errs...)
		n.log.Info("gateway stopped", zap.Error(n.closeErr))
	})
	return n.closeErr
}

// forwardEvents publishes terminal session changes and reports on the engine's events.
func (n *Node) forwardEvents(events <-chan transport.Event) {
	defer n.wg.Done()
	hub := n.engine.Events()
	for ev := range events {
		base := map[string]any{"terminal": ev.Terminal.String(), "at": ev.At}
		switch ev.Kind {
		case transport.EventOnline:
			base["remote_addr"] = ev.Remote
			hub.Publish(gateway.EventTerminalOnline, base)
		case transport.EventOffline:
			base["reason"] = ev.Reason
			hub.Publish(gateway.EventTerminalOffline, base)
		case transport.EventReport, transport.EventEvents:
			if ev.Err != nil {
				n.log.Warn("reading terminal events failed",
					zap.String("terminal", ev.Terminal.String()), zap.Error(ev.Err))
				continue
			}
			var units []map[string]any
			for _, f := range ev.Frames {
				for _, u := range f.Units().List {
					units = append(units, map[string]any{"afn": fmt.Sprintf("%02X", byte(f.AFN)),
						"pn": u.Pn, "fn": u.Fn, "data": gw376.ObjectOf(u.Fields)})
				}
			}
			base["units"] = units
			hub.Publish(gateway.EventTerminalEvent, base)
		}
	}
}

// terminalSource adapts the terminal server's diagnostics to the engine.
type terminalSource struct{ s *transport.Server }

func convert(d transport.Diagnostics) gateway.TerminalInfo {
	info := gateway.TerminalInfo{Address: d.Address, Online: d.Online,
		OnlineSince: d.OnlineSince, LastFrameAt: d.LastFrameAt, RemoteAddr: d.RemoteAddr,
		HeartbeatPeriodS: d.HeartbeatPeriodS, Logins24h: d.Logins24h,
		Disconnects24h: map[string]int{}, LastError: d.LastError, Flapping: d.Flapping}
	for r, c := range d.Disconnects24h {
		info.Disconnects24h[string(r)] = c
	}
	if d.LastDisconnect != nil {
		info.LastDisconnect = &gateway.Disconnect{At: d.LastDisconnect.At,
			Reason: string(d.LastDisconnect.Reason)}
	}
	return info
}

func (t terminalSource) Terminal(address string) (gateway.TerminalInfo, bool) {
	a, err := protocol.ParseTerminalAddress(address)
	if err != nil {
		return gateway.TerminalInfo{}, false
	}
	d, ok := t.s.Terminal(a)
	if !ok {
		return gateway.TerminalInfo{}, false
	}
	return convert(d), true
}

func (t terminalSource) Terminals() []gateway.TerminalInfo {
	list := t.s.Terminals()
	out := make([]gateway.TerminalInfo, len(list))
	for i, d := range list {
		out[i] = convert(d)
	}
	return out
}
