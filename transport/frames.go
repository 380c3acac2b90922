package transport

import (
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"

	"github.com/feegate/feegate/gw376"
)

// maxReportFrames bounds a multi-frame active report, so a terminal that never sends FIN
// cannot grow memory without limit.
const maxReportFrames = 64

// maxReplyFrames bounds a multi-frame reply to a request. A reply that reaches it without
// FIN fails the request with ErrTimeout, so a terminal that keeps sending continuation
// frames cannot hold the request open or grow memory without limit.
const maxReplyFrames = 64

var (
	errDownlink    = errors.New("frame with DIR=0 (master to terminal) received from a terminal")
	errNotLoggedIn = errors.New("frame before login ignored")
	errNoUnit      = errors.New("AFN02 frame without a data-unit identifier")
	errOtherAddr   = errors.New("frame with another terminal address on a logged-in connection")
)

// firstFn returns the Fn of the first data-unit identifier of f, or 0.
func firstFn(f *gw376.Frame) uint8 {
	if len(f.Data) < gw376.IDLen {
		return 0
	}
	dt := gw376.IDFromWire(f.Data).DT
	for i := uint8(0); i < 8; i++ {
		if dt.Bits&(1<<i) != 0 {
			return dt.Group*8 + i + 1
		}
	}
	return 0
}

// frame handles one whole frame from a terminal. It runs on the connection's event loop.
func (s *Server) frame(cs *connState, c gnet.Conn, raw []byte) gnet.Action {
	sc := s.scratch.Get().(*frameScratch)
	defer s.scratch.Put(sc)
	f := &sc.in
	if err := gw376.DecodeInto(f, raw); err != nil {
		return s.protocolError(cs, nil, err)
	}
	if !f.Control.Up {
		return s.protocolError(cs, nil, errDownlink)
	}
	now := time.Now()
	cs.lastValid.Store(now.UnixNano())
	cs.errors = 0

	sess := cs.session.Load()
	var action gnet.Action
	switch {
	case f.AFN == gw376.AFNLink && f.Control.PRM:
		action = s.link(cs, c, f, sc, now)
	case sess == nil:
		s.metrics.frames.WithLabelValues("gw376", "received", "before_login").Inc()
		return s.protocolError(cs, nil, errNotLoggedIn)
	case f.Address != sess.addr:
		// One connection carries one terminal: a report or reply in another address's name
		// would be published or matched as this terminal's.
		return s.protocolError(cs, nil, errOtherAddr)
	case !f.Control.PRM:
		s.metrics.frames.WithLabelValues("gw376", "received", "reply").Inc()
		s.reply(sess, f, raw)
	default:
		s.metrics.frames.WithLabelValues("gw376", "received", "report").Inc()
		action = s.report(cs, sess, c, f, sc, raw, now)
	}
	if sess = cs.session.Load(); sess != nil && f.HasEC() {
		s.checkEvents(sess, f.EC)
	}
	return action
}

// link handles AFN02: login, heartbeat and logout.
func (s *Server) link(cs *connState, c gnet.Conn, f *gw376.Frame, sc *frameScratch,
	now time.Time) gnet.Action {
	switch fn := firstFn(f); fn {
	case gw376.FnLogin:
		s.metrics.frames.WithLabelValues("gw376", "received", "login").Inc()
		if a := s.login(cs, f, now, false); a != gnet.None {
			return a
		}
	case gw376.FnHeartbeat:
		s.metrics.frames.WithLabelValues("gw376", "received", "heartbeat").Inc()
		sess := cs.session.Load()
		if sess == nil || sess.addr != f.Address {
			// A terminal that believes it is still logged in, such as after a gateway restart,
			// heartbeats on a new connection: bind it as a login.
			if a := s.login(cs, f, now, true); a != gnet.None {
				return a
			}
		} else {
			s.learnPeriod(cs, sess.term, now)
		}
	case gw376.FnLogout:
		s.metrics.frames.WithLabelValues("gw376", "received", "logout").Inc()
		if cs.session.Load() == nil {
			return s.protocolError(cs, nil, errNotLoggedIn)
		}
		if a := s.confirm(cs, c, f, sc); a != gnet.None {
			return a
		}
		cs.setReason(ReasonLogout)
		return gnet.Close
	default:
		s.metrics.frames.WithLabelValues("gw376", "received", "link_other").Inc()
		if fn == 0 {
			return s.protocolError(cs, nil, errNoUnit)
		}
	}
	return s.confirm(cs, c, f, sc)
}

// confirm writes the AFN00 confirmation of frame f from the event loop.
func (s *Server) confirm(cs *connState, c gnet.Conn, f *gw376.Frame,
	sc *frameScratch) gnet.Action {
	var ans gw376.Frame
	if s.cfg.ConfirmStyle == ConfirmPerUnit && f.AFN == gw376.AFNLink {
		var err error
		if ans, err = gw376.ConfirmLink(f); err != nil {
			return s.protocolError(cs, nil, err)
		}
	} else {
		ans = gw376.ConfirmAll(f)
	}
	out, err := gw376.Append(sc.out[:0], &ans)
	if err != nil {
		s.log.Error("encoding a confirmation failed", zap.Error(err))
		return gnet.None
	}
	sc.out = out
	if _, err := c.Write(out); err != nil {
		cs.setReason(ReasonWriteError)
		s.log.Warn("writing a confirmation failed", zap.String("remote", cs.remote),
			zap.Error(err))
		return gnet.Close
	}
	s.metrics.frames.WithLabelValues("gw376", "sent", "confirm").Inc()
	if c.OutboundBuffered() > s.cfg.OutboundLimit {
		cs.setReason(ReasonSlowReader)
		s.log.Warn("terminal does not read its confirmations; closing",
			zap.String("remote", cs.remote), zap.Int("outbound_bytes", c.OutboundBuffered()))
		return gnet.Close
	}
	return gnet.None
}

// login binds the connection to the frame's terminal address. The newest connection of an
// address wins: the older session is closed with reason superseded and its pending request
// fails at once, without marking the terminal offline.
func (s *Server) login(cs *connState, f *gw376.Frame, now time.Time, implicit bool) gnet.Action {
	addr := f.Address
	if cur := cs.session.Load(); cur != nil {
		if cur.addr == addr {
			return gnet.None // a repeated login on the same connection: confirm it again
		}
		cs.firstErr = errors.New("login with another address on a logged-in connection")
		cs.setReason(ReasonProtocolError)
		s.log.Warn("terminal changed its address on one connection; closing",
			zap.Stringer("terminal", cur.addr), zap.Stringer("new_address", addr),
			zap.String("remote", cs.remote))
		return gnet.Close
	}
	unknown := false
	if s.allow != nil {
		if _, ok := s.allow[addr]; !ok {
			if s.cfg.Unknown == RejectUnknown {
				cs.setReason(ReasonRejected)
				s.log.Warn("login rejected: terminal not in the allowlist",
					zap.Stringer("terminal", addr), zap.String("remote", cs.remote))
				return gnet.Close
			}
			unknown = true
		}
	}

	s.mu.Lock()
	t := s.terminals[addr]
	if t == nil {
		// NOTE: terminal records are never removed, so without an allowlist with
		// RejectUnknown a peer that logs in under ever new addresses grows this map by
		// about a kilobyte per address until the server restarts.
		t = newTerminal(addr)
		s.terminals[addr] = t
	}
	s.mu.Unlock()

	sess := &session{addr: addr, cs: cs, term: t}
	t.mu.Lock()
	old := t.session
	t.session = sess
	if old == nil {
		t.onlineSince = now
	}
	t.remote = cs.remote
	t.unknown = unknown
	t.logins = append(t.logins, now)
	t.prune(now)
	if old == nil {
		// Published under t.mu: see Server.closed.
		s.online.Add(1)
		s.metrics.terminalsOnline.Inc()
		s.subs.publish(Event{Kind: EventOnline, Terminal: addr, At: now, Remote: cs.remote})
	}
	t.mu.Unlock()
	cs.session.Store(sess)
	// The interval from the login to the first heartbeat is not a period: some terminals
	// heartbeat right after logging in.
	cs.lastHB = time.Time{}
	if implicit {
		cs.lastHB = now
	}

	s.metrics.logins.Inc()
	fields := []zap.Field{zap.Stringer("terminal", addr), zap.String("remote", cs.remote)}
	if implicit {
		fields = append(fields, zap.Bool("heartbeat_as_login", true))
	}
	if unknown {
		fields = append(fields, zap.Bool("unknown", true))
	}
	if old != nil {
		fields = append(fields, zap.String("superseded_remote", old.cs.remote))
		old.cs.closeWith(ReasonSuperseded)
		old.end(ErrSuperseded)
	}
	s.log.Info("terminal logged in", fields...)
	return gnet.None
}

// learnPeriod updates the learned heartbeat period from the interval since the last
// heartbeat. Intervals under a second are repeats of one heartbeat and are ignored.
func (s *Server) learnPeriod(cs *connState, t *terminal, now time.Time) {
	last := cs.lastHB
	cs.lastHB = now
	interval := now.Sub(last)
	if last.IsZero() || interval < time.Second {
		return
	}
	t.mu.Lock()
	if t.learnedPeriod == 0 {
		t.learnedPeriod = interval
	} else {
		t.learnedPeriod = (3*t.learnedPeriod + interval) / 4
	}
	t.mu.Unlock()
}

// period returns the heartbeat period that decides when t goes offline: the configured
// one, else the learned one, else the server default.
func (s *Server) period(t *terminal) time.Duration {
	if s.cfg.HeartbeatPeriodOf != nil {
		if p, ok := s.cfg.HeartbeatPeriodOf(t.addr); ok && p > 0 {
			return p
		}
	}
	t.mu.Lock()
	p := t.learnedPeriod
	t.mu.Unlock()
	if p > 0 {
		return p
	}
	return s.cfg.HeartbeatPeriod
}

// report confirms an active report when CON is set and delivers it to subscribers.
func (s *Server) report(cs *connState, sess *session, c gnet.Conn, f *gw376.Frame,
	sc *frameScratch, raw []byte, now time.Time) gnet.Action {
	if f.Seq.CON {
		if a := s.confirm(cs, c, f, sc); a != gnet.None {
			return a
		}
	}
	own, err := gw376.Decode(raw)
	if err != nil {
		return gnet.None // DecodeInto accepted the same bytes
	}
	if cs.reports == nil {
		cs.reports = gw376.NewAssembler(maxReportFrames)
	}
	msg, err := cs.reports.Add(own)
	if err != nil {
		s.metrics.frameErrors.WithLabelValues("gw376", "report_sequence").Inc()
		s.sampled.Warn("active report out of sequence", zap.Stringer("terminal", sess.addr),
			zap.Error(err))
	}
	if msg != nil {
		s.subs.publish(Event{Kind: EventReport, Terminal: sess.addr, At: now,
			Frames: msg.Frames})
	}
	return gnet.None
}

// sweep closes connections that never logged in within the login timeout and sessions
// silent for longer than their offline window, because gnet has no read deadlines.
func (s *Server) sweep() {
	defer s.sweepWG.Done()
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	var list []*connState
	for {
		select {
		case <-s.sweeper:
			return
		case now := <-tick.C:
			list = list[:0]
			s.mu.Lock()
			for cs := range s.conns {
				list = append(list, cs)
			}
			s.mu.Unlock()
			for _, cs := range list {
				s.check(cs, now)
			}
		}
	}
}

func (s *Server) check(cs *connState, now time.Time) {
	if cs.reason.Load() != nil {
		return
	}
	sess := cs.session.Load()
	if sess == nil {
		if now.Sub(cs.opened) > s.cfg.LoginTimeout {
			s.log.Info("closing a connection that did not log in",
				zap.String("remote", cs.remote), zap.Duration("timeout", s.cfg.LoginTimeout))
			cs.closeWith(ReasonLoginTimeout)
		}
		return
	}
	window := time.Duration(float64(s.period(sess.term)) * s.cfg.OfflineFactor)
	if silent := now.Sub(time.Unix(0, cs.lastValid.Load())); silent > window {
		s.log.Info("terminal silent past its heartbeat window; closing",
			zap.Stringer("terminal", sess.addr), zap.Duration("silent", silent),
			zap.Duration("window", window))
		cs.closeWith(ReasonHeartbeatTimeout)
	}
}
