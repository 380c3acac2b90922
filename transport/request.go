package transport

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// RequestOptions adjusts one terminal request.
type RequestOptions struct {
	// Timeout is the wait for the reply per attempt; 0 means the timeout of the request's
	// kind (see Server.Timeout).
	Timeout time.Duration
	// Attempts overrides the server default when non-zero; 1 means no retry.
	Attempts int
}

// Response is the reply to a terminal request: one frame, or every frame of a multi-frame
// reply in order.
type Response struct {
	Frames   []*gw376.Frame
	Attempts int
	Elapsed  time.Duration
}

// pending is the outstanding request of a session, guarded by session.mu.
type pending struct {
	afn      gw376.AFN
	pseq     uint8
	tpv      bool  // the request carries Tp, and so does its reply
	pfc      uint8 // the request's PFC, which a reply with Tp echoes
	frames   []*gw376.Frame
	done     chan struct{}
	progress chan struct{}
	err      error
	finished bool
}

func (p *pending) finish(err error) {
	if p.finished {
		return
	}
	p.finished = true
	p.err = err
	close(p.done)
}

// end fails the session's pending request with kind and makes later requests on it fail
// the same way.
func (sess *session) end(kind error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.closed == nil {
		sess.closed = kind
	}
	if sess.pending != nil {
		sess.pending.finish(kind)
	}
}

// Request sends frame to the terminal and waits for its reply, with the server's default
// timeout and attempts. See RequestWith.
func (s *Server) Request(ctx context.Context, terminal protocol.TerminalAddress,
	frame *gw376.Frame) (*Response, error) {
	return s.RequestWith(ctx, terminal, frame, RequestOptions{})
}

// RequestWith sends frame to the terminal and waits for its reply. The server sets the
// address, the master address MSA (non-zero), DIR=0, PRM=1 and the PSEQ from the
// terminal's frame counter PFC; a set TpV gets the PFC in Tp. The rest of frame, such as
// the AFN, the data units and PW, is sent as given, so build it with gw376.NewRequest.
//
// One request per terminal is outstanding at a time, and others queue, at most MaxQueued.
// A reply must come from the terminal with the request's AFN (or AFN00) and RSEQ equal to
// the PSEQ, counting up by one per frame of a multi-frame reply. Any other reply is late:
// it is counted and dropped. A request without a reply is written again with the same
// PSEQ.
//
// Errors are *TerminalError values of kind ErrTerminalOffline, ErrTimeout, ErrSuperseded
// (a newer connection replaced the session), ErrDisconnected, ErrDenied (AFN00 F2),
// ErrQueueFull, ErrClosed or ErrInvalidRequest; a cancelled ctx returns ctx's error. It is
// safe for concurrent use.
func (s *Server) RequestWith(ctx context.Context, terminal protocol.TerminalAddress,
	frame *gw376.Frame, opts RequestOptions) (*Response, error) {
	start := time.Now()
	kind := requestKind(frame.AFN)
	resp, err := s.request(ctx, terminal, frame, opts)
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrDenied) {
		s.recordError(terminal, err)
	}
	s.metrics.requestSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	s.metrics.requests.WithLabelValues(kind, requestResult(err)).Inc()
	if resp != nil {
		resp.Elapsed = time.Since(start)
	}
	return resp, err
}

func (s *Server) request(ctx context.Context, addr protocol.TerminalAddress, frame *gw376.Frame,
	opts RequestOptions) (*Response, error) {
	fail := func(kind error, attempts int, cause error) error {
		return &TerminalError{Kind: kind, Terminal: addr, AFN: byte(frame.AFN),
			Attempts: attempts, Err: cause}
	}
	if s.stopping.Load() {
		return nil, fail(ErrClosed, 0, nil)
	}
	s.mu.Lock()
	t := s.terminals[addr]
	s.mu.Unlock()
	if t == nil {
		return nil, fail(ErrTerminalOffline, 0, nil)
	}

	// Queue for the terminal's single outstanding-request token.
	if int(t.waiting.Add(1)) > s.cfg.MaxQueued {
		t.waiting.Add(-1)
		return nil, fail(ErrQueueFull, 0, nil)
	}
	select {
	case t.queue <- struct{}{}:
		t.waiting.Add(-1)
	case <-ctx.Done():
		t.waiting.Add(-1)
		return nil, ctx.Err()
	}
	defer func() { <-t.queue }()
	if s.stopping.Load() {
		// The server closed while the request was queued: the session it would find is
		// gone for that reason, not because the terminal went offline.
		return nil, fail(ErrClosed, 0, nil)
	}

	t.mu.Lock()
	sess := t.session
	pfc := t.pfc
	if sess != nil {
		t.pfc++
	}
	t.mu.Unlock()
	if sess == nil {
		return nil, fail(ErrTerminalOffline, 0, nil)
	}

	req := *frame
	req.Address = addr
	req.A3 = protocol.A3{MSA: s.cfg.MSA}
	req.Control.Up = false
	req.Control.PRM = true
	req.Seq.Num = pfc & 0x0F
	if req.Seq.TpV {
		req.Tp.PFC = pfc
	}
	out, err := gw376.Encode(&req)
	if err != nil {
		return nil, fail(ErrInvalidRequest, 0, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = s.Timeout(&req)
	}
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = s.cfg.Attempts
	}
	attempts = min(attempts, maxAttempts)

	p := &pending{afn: req.AFN, pseq: req.Seq.Num, tpv: req.Seq.TpV, pfc: pfc,
		done: make(chan struct{}), progress: make(chan struct{}, 1)}
	sess.mu.Lock()
	if sess.closed != nil {
		kind := sess.closed
		sess.mu.Unlock()
		return nil, fail(kind, 0, nil)
	}
	sess.pending = p
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		if sess.pending == p {
			sess.pending = nil
		}
		p.finished = true
		sess.mu.Unlock()
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			s.log.Info("retrying terminal request", zap.Stringer("terminal", addr),
				zap.Stringer("afn", afnHex(req.AFN)), zap.Uint8("pseq", req.Seq.Num),
				zap.Int("attempt", attempt))
			sess.mu.Lock()
			p.frames = nil
			sess.mu.Unlock()
		}
		if err := s.send(sess.cs, out); err != nil {
			return nil, fail(ErrDisconnected, attempt, err)
		}
		timer.Reset(timeout)
	wait:
		for {
			select {
			case <-p.done:
				sess.mu.Lock()
				frames, perr := p.frames, p.err
				sess.mu.Unlock()
				if perr != nil {
					var reply []byte
					if len(frames) > 0 {
						reply, _ = gw376.Encode(frames[len(frames)-1])
					}
					return nil, &TerminalError{Kind: perr, Terminal: addr, AFN: byte(req.AFN),
						Attempts: attempt, Reply: reply}
				}
				return &Response{Frames: frames, Attempts: attempt}, nil
			case <-p.progress:
				timer.Reset(timeout) // a multi-frame reply is still coming
			case <-timer.C:
				break wait
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return nil, fail(ErrTimeout, attempts, nil)
}

// recordError keeps err as the terminal's last error for its diagnostics.
func (s *Server) recordError(addr protocol.TerminalAddress, err error) {
	s.mu.Lock()
	t := s.terminals[addr]
	s.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	t.lastError, t.lastErrorAt = err.Error(), time.Now()
	t.mu.Unlock()
}

// send queues b for the connection's event loop, closing the connection with slow_reader
// when the bytes waiting for it pass the outbound limit.
func (s *Server) send(cs *connState, b []byte) error {
	n := int64(len(b))
	if cs.queued.Add(n) > int64(s.cfg.OutboundLimit) {
		cs.queued.Add(-n)
		cs.closeWith(ReasonSlowReader)
		return errors.New("outbound limit reached")
	}
	err := cs.conn.AsyncWrite(b, func(c gnet.Conn, err error) error {
		cs.queued.Add(-n)
		if err != nil {
			cs.setReason(ReasonWriteError)
			return nil
		}
		if c.OutboundBuffered() > s.cfg.OutboundLimit {
			cs.setReason(ReasonSlowReader)
			_ = c.Close()
		}
		return nil
	})
	if err != nil {
		cs.queued.Add(-n)
		return err
	}
	s.metrics.frames.WithLabelValues("gw376", "sent", "request").Inc()
	return nil
}

// reply matches an uplink response to the session's pending request. It runs on the
// connection's event loop.
func (s *Server) reply(sess *session, f *gw376.Frame, raw []byte) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	p := sess.pending
	if p == nil || p.finished {
		s.late(sess, f, "no request outstanding")
		return
	}
	if f.Address != sess.addr {
		s.late(sess, f, "reply from another terminal address on this connection")
		return
	}
	want := (p.pseq + uint8(len(p.frames))) & 0x0F
	if f.Seq.Num != want || (f.AFN != p.afn && f.AFN != gw376.AFNConfirm) {
		s.late(sess, f, "AFN or RSEQ does not match the outstanding request")
		return
	}
	// PSEQ repeats every 16 requests, but a reply's Tp echoes the 8-bit PFC of its request.
	if p.tpv && f.Seq.TpV && f.Tp.PFC != p.pfc {
		s.late(sess, f, "Tp PFC does not match the outstanding request")
		return
	}
	// A reply starts with FIR set (or is a single frame with FIN set, as some terminals send
	// it) and continues with FIR clear. The RSEQ alone cannot tell a continuation of an
	// earlier, timed-out reply from the start of this one, because PSEQ counts up by one
	// per request and RSEQ by one per frame.
	if len(p.frames) == 0 && !f.Seq.FIR && !f.Seq.FIN {
		s.late(sess, f, "continuation frame without a first frame")
		return
	}
	if len(p.frames) > 0 && f.Seq.FIR {
		s.late(sess, f, "first frame in the middle of a multi-frame reply")
		return
	}
	own, err := gw376.Decode(raw)
	if err != nil {
		return
	}
	p.frames = append(p.frames, own)
	switch {
	case f.AFN == gw376.AFNConfirm && p.afn != gw376.AFNConfirm:
		var perr error
		if firstFn(f) == gw376.FnDenyAll {
			perr = ErrDenied
		}
		p.finish(perr)
	case f.Seq.FIN:
		p.finish(nil)
	case len(p.frames) >= maxReplyFrames:
		s.metrics.frameErrors.WithLabelValues("gw376", "reply_too_long").Inc()
		s.sampled.Warn("multi-frame reply past the frame bound; failing the request",
			zap.Stringer("terminal", sess.addr), zap.Stringer("afn", afnHex(f.AFN)),
			zap.Int("frames", len(p.frames)))
		p.finish(ErrTimeout)
	default:
		select {
		case p.progress <- struct{}{}:
		default:
		}
	}
}

func (s *Server) late(sess *session, f *gw376.Frame, cause string) {
	s.metrics.lateReplies.WithLabelValues("gw376").Inc()
	s.sampled.Info("late reply dropped", zap.Stringer("terminal", sess.addr),
		zap.Stringer("afn", afnHex(f.AFN)), zap.Uint8("rseq", f.Seq.Num), zap.String("cause", cause))
}

// Timeout returns the per-attempt reply timeout of req: for AFN10 F1 the forward timeout
// the frame carries plus ForwardMargin, else the Timeouts entry of its AFN, else
// RequestTimeout. It is safe for concurrent use.
func (s *Server) Timeout(req *gw376.Frame) time.Duration {
	if req.AFN == gw376.AFNForward && firstFn(req) == 1 {
		if d, ok := forwardTimeout(req.Data); ok {
			return d + s.cfg.ForwardMargin
		}
	}
	if d, ok := s.cfg.Timeouts[req.AFN]; ok && d > 0 {
		return d
	}
	return s.cfg.RequestTimeout
}

// forwardTimeout reads the frame timeout of an AFN10 F1 downlink: after DA DT come the
// port, the control word and the timeout byte, whose D7 selects the unit (0 = 10 ms,
// 1 = 1 s) of the value in D6–D0.
func forwardTimeout(data []byte) (time.Duration, bool) {
	const off = gw376.IDLen + 2
	if len(data) <= off {
		return 0, false
	}
	b := data[off]
	unit := 10 * time.Millisecond
	if b&0x80 != 0 {
		unit = time.Second
	}
	return time.Duration(b&0x7F) * unit, true
}

// checkEvents starts an AFN0E F1 read when an uplink shows a new important-event count.
func (s *Server) checkEvents(sess *session, ec gw376.EC) {
	t := sess.term
	t.mu.Lock()
	prev, known := t.ec, t.ecKnown
	t.ec, t.ecKnown = ec, true
	// TODO: the first EC a terminal sends only sets the baseline; events counted before
	// it are not read.
	start := s.cfg.ReadEvents && known && prev.Important != ec.Important && !t.eventRead &&
		!s.stopping.Load()
	if start {
		t.eventRead = true
	}
	t.mu.Unlock()
	if !start {
		return
	}
	id, _ := gw376.IDFor(0, 1)
	data := append(id.Append(nil), prev.Important, ec.Important)
	req, err := gw376.NewRequest(sess.addr, s.cfg.MSA, gw376.AFNClass3, 0, data)
	if err != nil {
		return
	}
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		resp, err := s.Request(context.Background(), sess.addr, &req)
		t.mu.Lock()
		t.eventRead = false
		t.mu.Unlock()
		e := Event{Kind: EventEvents, Terminal: sess.addr, At: time.Now(), Err: err}
		if err != nil {
			s.log.Warn("reading new events failed", zap.Stringer("terminal", sess.addr),
				zap.Error(err))
		} else {
			e.Frames = resp.Frames
		}
		s.subs.publish(e)
	}()
}

// Terminal returns the diagnostics of one terminal, or false when it never logged in
// since the server started. It is safe for concurrent use.
func (s *Server) Terminal(addr protocol.TerminalAddress) (Diagnostics, bool) {
	s.mu.Lock()
	t := s.terminals[addr]
	s.mu.Unlock()
	if t == nil {
		return Diagnostics{}, false
	}
	return s.diagnostics(t, time.Now()), true
}

// Terminals returns the diagnostics of every terminal seen since the server started,
// ordered by address. It is safe for concurrent use.
func (s *Server) Terminals() []Diagnostics {
	s.mu.Lock()
	list := make([]*terminal, 0, len(s.terminals))
	for _, t := range s.terminals {
		list = append(list, t)
	}
	s.mu.Unlock()
	now := time.Now()
	out := make([]Diagnostics, 0, len(list))
	for _, t := range list {
		out = append(out, s.diagnostics(t, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

func (s *Server) diagnostics(t *terminal, now time.Time) Diagnostics {
	period := s.period(t)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	d := Diagnostics{
		Address:          t.addr.String(),
		Online:           t.session != nil,
		RemoteAddr:       t.remote,
		HeartbeatPeriodS: int(period / time.Second),
		Logins24h:        len(t.logins),
		Disconnects24h:   map[DisconnectReason]int{},
		LastError:        t.lastError,
		Unknown:          t.unknown,
	}
	if d.Online {
		since := t.onlineSince
		d.OnlineSince = &since
		if last := t.session.cs.lastValid.Load(); last > 0 {
			at := time.Unix(0, last)
			d.LastFrameAt = &at
		}
	} else if !t.lastFrameAt.IsZero() {
		at := t.lastFrameAt
		d.LastFrameAt = &at
	}
	recent := 0
	for _, r := range t.disconnects {
		d.Disconnects24h[r.Reason]++
		if now.Sub(r.At) <= s.cfg.FlapWindow {
			recent++
		}
	}
	d.Flapping = recent >= s.cfg.FlapThreshold
	if t.lastDisconnect != nil {
		d.LastDisconnect = &Disconnect{At: t.lastDisconnect.At, Reason: t.lastDisconnect.Reason}
	}
	return d
}

// requestKind returns the metric label of a request: its AFN in hex.
func requestKind(afn gw376.AFN) string { return "gw376_afn" + afnHex(afn).String() }

type afnHex gw376.AFN

func (a afnHex) String() string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[a>>4], digits[a&0x0F]})
}

func requestResult(err error) string {
	switch {
	case err == nil:
		return resultOK
	case errors.Is(err, ErrTimeout):
		return resultTimeout
	case errors.Is(err, ErrDenied):
		return resultDenied
	case errors.Is(err, ErrTerminalOffline):
		return resultOffline
	case errors.Is(err, ErrDisconnected), errors.Is(err, ErrSuperseded):
		return resultDisconnected
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return resultCancelled
	}
	return resultError
}
