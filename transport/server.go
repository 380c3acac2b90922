package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// ConfirmStyle selects the AFN00 confirmation of logins, heartbeats and logouts.
type ConfirmStyle int

const (
	// ConfirmPerUnit confirms with AFN00 F3, one result for the frame's data unit, as the
	// 2013 edition of the standard specifies.
	ConfirmPerUnit ConfirmStyle = iota
	// ConfirmAllUnits confirms with AFN00 F1, as most masters in the field do.
	ConfirmAllUnits
)

// UnknownPolicy decides what happens to a login from an address missing from the allowlist.
type UnknownPolicy int

const (
	// AcceptUnknown confirms the login and flags the terminal as unknown in its diagnostics.
	AcceptUnknown UnknownPolicy = iota
	// RejectUnknown closes the connection with reason rejected, without a confirmation.
	RejectUnknown
)

// ServerConfig sets the terminal server. Zero values take the defaults given per field.
type ServerConfig struct {
	// Address is the listen address, host:port, such as 127.0.0.1:9027. Required.
	Address string
	// ConfirmStyle selects AFN00 F3 (the default) or F1 for logins and heartbeats.
	ConfirmStyle ConfirmStyle
	// HeartbeatPeriod is the heartbeat period assumed for a terminal that has no configured
	// period and whose period has not been learned yet; 0 means 15 min.
	HeartbeatPeriod time.Duration
	// HeartbeatPeriodOf returns the configured period of a terminal, such as the archive's
	// heartbeat_period_s, or false. Nil means every period is learned from the intervals
	// between heartbeats. The sweeper and diagnostics call it from their own goroutines, so
	// it must be safe for concurrent use and must not block.
	HeartbeatPeriodOf func(protocol.TerminalAddress) (time.Duration, bool)
	// OfflineFactor is how many heartbeat periods without a valid frame make a terminal
	// offline; 0 means 3.
	OfflineFactor float64
	// LoginTimeout closes a connection that has not logged in; 0 means 60 s.
	LoginTimeout time.Duration
	// MaxProtocolErrors closes a connection after this many consecutive protocol errors
	// (garbage bytes, bad checksums, frames that do not decode); 0 means 16.
	MaxProtocolErrors int
	// MaxFrameL1 is the largest L1 (user data length) accepted; a header announcing more
	// closes the connection with frame_too_large. 0 means 16383, the network maximum.
	MaxFrameL1 int
	// OutboundLimit bounds the bytes waiting to be written to one connection; a connection
	// past it closes with slow_reader. 0 means 64 KiB.
	OutboundLimit int
	// MaxConnsPerIP rejects connections from a source IP beyond this count; 0 means no limit.
	MaxConnsPerIP int
	// Allowlist, when not empty, lists the terminal addresses expected to log in.
	Allowlist []protocol.TerminalAddress
	// Unknown is the policy for logins from addresses missing from a non-empty Allowlist.
	Unknown UnknownPolicy
	// TCPKeepAlive is the keepalive idle time of accepted sockets; 0 means 2 min, and a
	// negative value turns keepalive off.
	TCPKeepAlive time.Duration
	// SocketSendBuffer sets SO_SNDBUF of accepted sockets in bytes; 0 keeps the system value.
	SocketSendBuffer int
	// EventLoops is the number of gnet event loops; 0 means one per CPU.
	EventLoops int
	// SweepInterval is how often silent and never-logged-in connections are looked for;
	// 0 means 1 s.
	SweepInterval time.Duration
	// MSA is the master station address (1–127) of requests; 0 means 1.
	MSA uint8
	// RequestTimeout is the wait for a reply per attempt when the request's AFN has no
	// entry in Timeouts; 0 means 30 s.
	RequestTimeout time.Duration
	// Timeouts sets the wait per attempt by request AFN, such as a longer one for AFN0D
	// history reads. AFN10 F1 ignores it: its wait follows from the frame (see Timeout).
	Timeouts map[gw376.AFN]time.Duration
	// ForwardMargin is added to the forward timeout an AFN10 F1 request carries; 0 means
	// 15 s.
	ForwardMargin time.Duration
	// Attempts is how often a request is written before it fails with ErrTimeout; 0 means 2,
	// at most 4 (the first write and three retries, all with the same PSEQ).
	Attempts int
	// MaxQueued bounds the requests waiting per terminal; 0 means 64.
	MaxQueued int
	// ReadEvents makes an uplink with ACD and a new important-event count EC1 trigger an
	// AFN0E F1 read of the new events, delivered to subscribers.
	ReadEvents bool
	// FlapThreshold disconnects within FlapWindow mark a terminal as flapping; 0 means 5.
	FlapThreshold int
	// FlapWindow is the window of FlapThreshold; 0 means 10 min.
	FlapWindow time.Duration
	// Logger receives one line per connect, login, disconnect, retry and caught error; nil
	// means none.
	Logger *zap.Logger
	// Metrics receives the server's counters; nil means none.
	Metrics *Metrics
}

func (c *ServerConfig) setDefaults() {
	if c.HeartbeatPeriod <= 0 {
		c.HeartbeatPeriod = 15 * time.Minute
	}
	if c.OfflineFactor <= 0 {
		c.OfflineFactor = 3
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = time.Minute
	}
	if c.MaxProtocolErrors <= 0 {
		c.MaxProtocolErrors = 16
	}
	if c.MaxFrameL1 <= 0 || c.MaxFrameL1 > gw376.MaxL1 {
		c.MaxFrameL1 = gw376.MaxL1
	}
	if c.OutboundLimit <= 0 {
		c.OutboundLimit = 64 << 10
	}
	if c.TCPKeepAlive == 0 {
		c.TCPKeepAlive = 2 * time.Minute
	}
	if c.EventLoops <= 0 {
		c.EventLoops = runtime.GOMAXPROCS(0)
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.MSA == 0 || c.MSA > 127 {
		c.MSA = 1
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.ForwardMargin <= 0 {
		c.ForwardMargin = 15 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 2
	}
	c.Attempts = min(c.Attempts, maxAttempts)
	if c.MaxQueued <= 0 {
		c.MaxQueued = 64
	}
	if c.FlapThreshold <= 0 {
		c.FlapThreshold = 5
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = 10 * time.Minute
	}
}

// Server is the terminal server: it accepts Q/GDW 376.1 terminals over TCP with gnet,
// confirms their logins and heartbeats, keeps one session per terminal address, sends
// requests and delivers active reports. Its exported methods are safe for concurrent use.
type Server struct {
	cfg     ServerConfig
	log     *zap.Logger
	sampled *zap.Logger // for lines that one frame can cause: at most 5 a second per message
	metrics *Metrics
	spec    protocol.FrameSpec
	allow   map[protocol.TerminalAddress]struct{}

	eng      gnet.Engine
	addr     net.Addr
	started  atomic.Bool
	booted   chan struct{}
	runErr   chan error
	stopping atomic.Bool
	stopOnce sync.Once
	sweeper  chan struct{}
	sweepWG  sync.WaitGroup
	bgWG     sync.WaitGroup // event reads started by the server

	mu        sync.Mutex // guards conns, perIP and terminals
	conns     map[*connState]struct{}
	perIP     map[string]int
	terminals map[protocol.TerminalAddress]*terminal
	online    atomic.Int64

	subs subscribers

	scratch sync.Pool // *frameScratch
}

type frameScratch struct {
	in  gw376.Frame
	out []byte
}

// NewServer checks cfg and returns a server that is not listening yet.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("transport: terminal server needs a listen address")
	}
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		metrics:   cfg.Metrics,
		spec:      newServerSpec(cfg.MaxFrameL1),
		booted:    make(chan struct{}),
		runErr:    make(chan error, 1),
		sweeper:   make(chan struct{}),
		conns:     make(map[*connState]struct{}),
		perIP:     make(map[string]int),
		terminals: make(map[protocol.TerminalAddress]*terminal),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.sampled = s.log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 0)
	}))
	if s.metrics == nil {
		s.metrics = discardMetrics()
	}
	if len(cfg.Allowlist) > 0 {
		s.allow = make(map[protocol.TerminalAddress]struct{}, len(cfg.Allowlist))
		for _, a := range cfg.Allowlist {
			s.allow[a] = struct{}{}
		}
	}
	s.scratch.New = func() any { return &frameScratch{out: make([]byte, 0, 64)} }
	return s, nil
}

// Start listens and runs the event loops until Close. It returns once the server accepts
// connections, or with the listen error.
func (s *Server) Start() error {
	h := &handler{s: s}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.EventLoops),
		gnet.WithReuseAddr(true),
		gnet.WithLogger(s.log.Sugar().Named("gnet")),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	}
	if s.cfg.TCPKeepAlive > 0 {
		opts = append(opts, gnet.WithTCPKeepAlive(s.cfg.TCPKeepAlive))
	}
	if s.cfg.SocketSendBuffer > 0 {
		opts = append(opts, gnet.WithSocketSendBuffer(s.cfg.SocketSendBuffer))
	}
	go func() {
		s.runErr <- gnet.Run(h, "tcp://"+s.cfg.Address, opts...)
	}()
	select {
	case <-s.booted:
	case err := <-s.runErr:
		return fmt.Errorf("transport: terminal server on %s: %w", s.cfg.Address, err)
	}
	s.started.Store(true)
	s.sweepWG.Add(1)
	go s.sweep()
	s.log.Info("terminal server listening", zap.String("address", s.Addr().String()))
	return nil
}

// Addr returns the address the server listens on, with the port chosen when the configured
// port was 0. It is valid after Start.
func (s *Server) Addr() net.Addr { return s.addr }

// Close closes every connection with reason server_shutdown, fails pending and queued
// requests with ErrClosed and stops the event loops. It is safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		if !s.started.Load() {
			s.subs.closeAll()
			return
		}
		close(s.sweeper)
		s.sweepWG.Wait()
		err = s.eng.Stop(ctx)
		if runErr := <-s.runErr; err == nil && runErr != nil {
			err = runErr
		}
		s.bgWG.Wait()
		s.subs.closeAll()
		s.log.Info("terminal server stopped")
	})
	return err
}

// Online returns the number of terminals with a logged-in session. It is safe for
// concurrent use.
func (s *Server) Online() int { return int(s.online.Load()) }

// handler adapts the Server to gnet's event callbacks, which run on the event loops.
type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.s
	s.eng = eng
	s.addr = listenAddr(eng, s.cfg.Address)
	close(s.booted)
	return gnet.None
}

// listenAddr returns the bound address of the engine's listener, falling back to the
// configured one when the socket cannot be read.
func listenAddr(eng gnet.Engine, configured string) net.Addr {
	fallback, _ := net.ResolveTCPAddr("tcp", configured)
	fd, err := eng.Dup()
	if err != nil {
		return fallback
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fallback
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return fallback
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	s := h.s
	cs := &connState{conn: c, opened: time.Now()}
	if ra := c.RemoteAddr(); ra != nil {
		cs.remote = ra.String()
		if ta, ok := ra.(*net.TCPAddr); ok {
			cs.ip = ta.IP.String()
		}
	}
	c.SetContext(cs)

	s.mu.Lock()
	s.conns[cs] = struct{}{}
	s.perIP[cs.ip]++
	over := s.cfg.MaxConnsPerIP > 0 && s.perIP[cs.ip] > s.cfg.MaxConnsPerIP
	s.mu.Unlock()
	if over {
		cs.setReason(ReasonRejected)
		s.log.Warn("connection rejected: too many connections from one IP",
			zap.String("remote", cs.remote), zap.Int("limit", s.cfg.MaxConnsPerIP))
		return nil, gnet.Close
	}
	if s.stopping.Load() {
		cs.setReason(ReasonServerShutdown)
		return nil, gnet.Close
	}
	s.log.Info("terminal connected", zap.String("remote", cs.remote))
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.None
	}
	h.s.closed(cs, err)
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	cs, ok := c.Context().(*connState)
	if !ok {
		return gnet.Close
	}
	return h.s.traffic(cs, c)
}

// closed records the end of a connection: its reason, the end of its session and the
// failure of its pending request. It runs on the connection's event loop.
func (s *Server) closed(cs *connState, err error) {
	reason := ReasonPeerClosed
	if r := cs.reason.Load(); r != nil {
		reason = *r
	} else if s.stopping.Load() {
		reason = ReasonServerShutdown
	} else if isWriteError(err) {
		reason = ReasonWriteError
	}
	now := time.Now()

	s.mu.Lock()
	delete(s.conns, cs)
	if s.perIP[cs.ip]--; s.perIP[cs.ip] <= 0 {
		delete(s.perIP, cs.ip)
	}
	sess := cs.session.Load()
	var current bool
	if sess != nil {
		t := sess.term
		t.mu.Lock()
		current = t.session == sess
		if current {
			t.session = nil
		}
		if reason == ReasonHeartbeatTimeout {
			// A learned period that ends a session is too short, such as after the terminal
			// was set to heartbeat less often. Kept, it would close every later session
			// before its first heartbeat, and so could never grow: start again from the
			// default.
			t.learnedPeriod = 0
		}
		t.disconnects = append(t.disconnects, disconnectRecord{At: now, Reason: reason})
		t.lastDisconnect = &disconnectRecord{At: now, Reason: reason}
		if cs.firstErr != nil {
			t.lastError, t.lastErrorAt = cs.firstErr.Error(), now
		}
		if last := cs.lastValid.Load(); last > 0 {
			t.lastFrameAt = time.Unix(0, last)
		}
		t.prune(now)
		if current {
			// Published under t.mu, as login publishes online, so that a subscriber sees
			// this offline before the online of a new session on another event loop.
			s.online.Add(-1)
			s.metrics.terminalsOnline.Dec()
			s.subs.publish(Event{Kind: EventOffline, Terminal: sess.addr, At: now,
				Reason: reason})
		}
		t.mu.Unlock()
	}
	s.mu.Unlock()
	s.metrics.disconnects.WithLabelValues(string(reason)).Inc()

	fields := []zap.Field{zap.String("remote", cs.remote), zap.String("reason", string(reason))}
	if sess != nil {
		fields = append(fields, zap.Stringer("terminal", sess.addr))
	}
	if cs.noise > 0 {
		fields = append(fields, zap.Int("noise_bytes", cs.noise))
	}
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	s.log.Info("terminal disconnected", fields...)

	if sess == nil {
		return
	}
	kind := ErrDisconnected
	switch {
	case reason == ReasonSuperseded:
		kind = ErrSuperseded
	case reason == ReasonServerShutdown:
		kind = ErrClosed
	}
	sess.end(kind)
}

func isWriteError(err error) bool {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return strings.HasPrefix(se.Syscall, "write")
	}
	return false
}

// traffic cuts frames out of the connection's inbound bytes and handles them. It runs on
// the connection's event loop.
func (s *Server) traffic(cs *connState, c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	consumed := 0
	for consumed < len(buf) {
		skip, n, err := protocol.Scan(buf[consumed:], &s.spec, false)
		if skip > 0 {
			if a := s.protocolError(cs, buf[consumed:consumed+skip], err); a != gnet.None {
				return a
			}
		}
		consumed += skip
		if n == 0 {
			break
		}
		if a := s.frame(cs, c, buf[consumed:consumed+n]); a != gnet.None {
			return a
		}
		consumed += n
	}
	_, _ = c.Discard(consumed)
	return gnet.None
}

// protocolError counts skipped bytes and rejected frames; past the limit it closes the
// connection. Only the first error of a connection is logged; the rest are counted and
// reported when it closes.
func (s *Server) protocolError(cs *connState, skipped []byte, err error) gnet.Action {
	if err == nil && len(skipped) == 0 {
		return gnet.None
	}
	cs.noise += len(skipped)
	kind := "noise"
	if err != nil {
		kind = errorKind(err)
	}
	s.metrics.frameErrors.WithLabelValues("gw376", kind).Inc()
	if errors.Is(err, protocol.ErrFrameTooLarge) {
		cs.firstErr = err
		cs.closeWith(ReasonFrameTooLarge)
		s.log.Warn("frame too large; closing", zap.String("remote", cs.remote), zap.Error(err))
		return gnet.Close
	}
	cs.errors++
	if cs.firstErr == nil {
		if err == nil {
			err = fmt.Errorf("%d byte(s) outside any frame", len(skipped))
		}
		cs.firstErr = err
		s.sampled.Warn("protocol error", zap.String("remote", cs.remote), zap.Error(err))
	}
	if cs.errors >= s.cfg.MaxProtocolErrors {
		cs.closeWith(ReasonProtocolError)
		return gnet.Close
	}
	return gnet.None
}

// newServerSpec returns the 376.1 frame spec with L1 capped at maxL1. A consistent header
// (68 L L 68 with protocol bits 10) that announces more fails with ErrFrameTooLarge, so the
// connection closes with frame_too_large rather than protocol_error.
func newServerSpec(maxL1 int) protocol.FrameSpec {
	inner := gw376.NewFrameSpec(gw376.MaxL1)
	return protocol.FrameSpec{
		Start: gw376.StartByte,
		Check: func(b []byte) (int, error) {
			if len(b) >= gw376.HeaderLen && b[5] == gw376.StartByte && b[1] == b[3] &&
				b[2] == b[4] {
				l := uint16(b[1]) | uint16(b[2])<<8
				if l&3 == gw376.ProtocolID && int(l>>2) > maxL1 {
					return 0, protocol.Errorf(protocol.ErrFrameTooLarge, 1, int64(l>>2),
						"L1 above the configured maximum %d", maxL1)
				}
			}
			return inner.Check(b)
		},
	}
}
