package terminal

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// Timing rules of the terminal side, after field firmware: a login waits 30 s for its
// confirmation, and three heartbeats in a row without confirmation drop the link.
const (
	loginTimeout         = 30 * time.Second
	maxMissedHeartbeats  = 3
	maxFrameData         = 512 // data-unit bytes per uplink frame before a reply is split
	writeTimeout         = 10 * time.Second
	readBufferSize       = 512
	maxBufferedDownlinks = 4096
)

// readBuffers pools the connection read buffers.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// session is one TCP connection of a terminal, owned by Run's goroutine.
type session struct {
	t      *Terminal
	conn   net.Conn
	stale  net.Conn // the connection a duplicate login left behind
	framer *protocol.Framer

	awaitingLogin bool
	loginBy       time.Time
	nextBeat      time.Time
	missedBeats   int
	flapAt        time.Time
	dupDone       bool
	frame         gw376.Frame
}

func (t *Terminal) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if t.cfg.LocalIP != nil {
		d.LocalAddr = &net.TCPAddr{IP: t.cfg.LocalIP}
	}
	return d.DialContext(ctx, "tcp", t.cfg.Gateway)
}

// session connects, logs in and serves one connection until it fails, a fault ends it or
// ctx ends (then it logs out first).
func (t *Terminal) session(ctx context.Context) error {
	conn, err := t.dial(ctx)
	if err != nil {
		return err
	}
	s := &session{t: t, conn: conn, framer: protocol.NewFramer(gw376.Spec, maxBufferedDownlinks)}
	t.mu.Lock()
	t.conn, t.connected = conn, true
	if t.faults.Flapping {
		s.flapAt = time.Now().Add(2*time.Second + rand.N(3*time.Second))
	}
	t.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.conn != nil {
			_ = t.conn.SetReadDeadline(time.Now())
		}
	})
	defer func() {
		stop()
		t.mu.Lock()
		if t.conn != nil {
			_ = t.conn.Close()
		}
		t.conn, t.connected, t.loggedIn = nil, false, false
		t.mu.Unlock()
		if s.stale != nil {
			_ = s.stale.Close()
		}
	}()
	t.log.Debug("connected", zap.String("local", conn.LocalAddr().String()))
	if err := s.login(); err != nil {
		return err
	}
	return s.loop(ctx)
}

func (s *session) login() error {
	t := s.t
	t.mu.Lock()
	f := gw376.Login(t.cfg.Address, t.nextPSEQ())
	t.mu.Unlock()
	s.awaitingLogin = true
	s.loginBy = time.Now().Add(loginTimeout)
	return s.send(&f)
}

// nextPSEQ advances the terminal's frame counter and returns its PSEQ; t.mu must be held.
func (t *Terminal) nextPSEQ() uint8 {
	t.pfc++
	return t.pfc & 0x0F
}

func (s *session) loop(ctx context.Context) error {
	t := s.t
	bufp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bufp)
	buf := *bufp
	for {
		if ctx.Err() != nil {
			s.logout()
			return ctx.Err()
		}
		t.mu.Lock()
		stopped := !t.powered || t.faults.Offline
		halfOpen := t.faults.HalfOpen
		dup := t.faults.DuplicateLogin && !s.dupDone
		conn := t.conn
		t.mu.Unlock()
		if stopped || conn != s.conn {
			return errStop
		}
		if halfOpen {
			// The socket stays open and nothing is read or sent, as when the terminal's
			// side vanished without a FIN.
			if err := s.waitHalfOpen(ctx); err != nil {
				return err
			}
			continue
		}
		if dup {
			if err := s.duplicateLogin(ctx); err != nil {
				return err
			}
			continue
		}
		if err := s.timers(); err != nil {
			return err
		}
		if err := s.flushReports(); err != nil {
			return err
		}
		_ = s.conn.SetReadDeadline(s.deadline())
		n, err := s.conn.Read(buf)
		if n > 0 {
			s.framer.Write(buf[:n])
			if perr := s.frames(ctx); perr != nil {
				return perr
			}
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}

// waitHalfOpen blocks until the half_open fault clears or ctx ends.
func (s *session) waitHalfOpen(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.t.wake:
		return nil
	}
}

// duplicateLogin opens a second connection and logs in on it, leaving the first one open
// and unread, as a terminal does that reconnects while its old socket is half open.
func (s *session) duplicateLogin(ctx context.Context) error {
	s.dupDone = true
	conn, err := s.t.dial(ctx)
	if err != nil {
		return err
	}
	s.t.mu.Lock()
	s.stale = s.conn
	s.conn = conn
	s.t.conn = conn
	s.t.loggedIn = false
	s.t.mu.Unlock()
	s.framer.Reset()
	return s.login()
}

func (s *session) deadline() time.Time {
	d := s.nextBeat
	if s.awaitingLogin {
		d = s.loginBy
	}
	s.t.mu.Lock()
	alarm := s.t.nextTurnAlarm()
	s.t.mu.Unlock()
	if !alarm.IsZero() && alarm.Before(d) {
		d = alarm
	}
	if !s.flapAt.IsZero() && s.flapAt.Before(d) {
		d = s.flapAt
	}
	return d
}

// timers sends a due heartbeat and ends the session when the login or the heartbeats go
// unconfirmed or the flapping fault drops the link.
func (s *session) timers() error {
	now := time.Now()
	s.t.mu.Lock()
	s.t.applyTurnAlarms(now)
	s.t.mu.Unlock()
	if !s.flapAt.IsZero() && !now.Before(s.flapAt) {
		return fmt.Errorf("flapping: %w", errStop)
	}
	if s.awaitingLogin {
		if now.After(s.loginBy) {
			return errors.New("login not confirmed")
		}
		return nil
	}
	if now.Before(s.nextBeat) {
		return nil
	}
	t := s.t
	t.mu.Lock()
	stopBeats := t.faults.HeartbeatStop
	period := t.heartbeat
	var f gw376.Frame
	if !stopBeats {
		clock := t.clock(now)
		f = gw376.Heartbeat(t.cfg.Address, t.nextPSEQ(), &clock)
	}
	t.mu.Unlock()
	s.nextBeat = now.Add(jitter(period))
	if stopBeats {
		return nil
	}
	if s.missedBeats >= maxMissedHeartbeats {
		return errors.New("heartbeats not confirmed")
	}
	s.missedBeats++
	return s.send(&f)
}

// frames handles every complete frame in the framer.
func (s *session) frames(ctx context.Context) error {
	for {
		r := s.framer.Next(false)
		if r.Frame == nil {
			return nil
		}
		if err := gw376.DecodeInto(&s.frame, r.Frame); err != nil {
			continue // a frame the codec rejects is discarded without an answer
		}
		if err := s.frameIn(ctx, &s.frame); err != nil {
			return err
		}
	}
}

func (s *session) frameIn(ctx context.Context, f *gw376.Frame) error {
	t := s.t
	if f.Control.Up {
		return nil
	}
	if f.AFN == gw376.AFNConfirm && !f.Control.PRM {
		return s.confirmed()
	}
	if !f.Control.PRM {
		return nil
	}
	t.mu.Lock()
	mute := t.faults.Silent || t.faults.HeartbeatStop || !t.loggedIn
	t.mu.Unlock()
	if mute {
		return nil
	}
	now := time.Now()
	if !t.fresh(f, now) {
		t.log.Debug("request past its Tp delay discarded", zap.Uint8("pseq", f.Seq.Num))
		return nil
	}
	key := requestKey(f)
	if frames := t.cached(key, now); frames != nil {
		for _, b := range frames {
			if err := s.write(b); err != nil {
				return err
			}
		}
		return nil
	}
	replies := t.handle(ctx, f, now)
	encoded := make([][]byte, 0, len(replies))
	for i := range replies {
		b, err := gw376.Encode(&replies[i])
		if err != nil {
			t.log.Warn("reply does not encode", zap.Error(err))
			return nil
		}
		encoded = append(encoded, b)
	}
	t.store(key, now, encoded)
	for _, b := range encoded {
		if err := s.write(b); err != nil {
			return err
		}
	}
	return nil
}

// confirmed handles the master's AFN00 answer to a login, heartbeat or report.
func (s *session) confirmed() error {
	t := s.t
	s.missedBeats = 0
	if !s.awaitingLogin {
		return nil
	}
	s.awaitingLogin = false
	s.nextBeat = time.Now().Add(jitter(t.heartbeat))
	t.mu.Lock()
	t.loggedIn = true
	t.logins++
	t.mu.Unlock()
	t.log.Debug("logged in")
	return s.flushReports()
}

// flushReports sends the event reports queued while logged in.
func (s *session) flushReports() error {
	t := s.t
	t.mu.Lock()
	if !t.loggedIn || t.faults.Silent || t.faults.HeartbeatStop {
		t.mu.Unlock()
		return nil
	}
	reports := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, r := range reports {
		if err := s.report(r); err != nil {
			return err
		}
	}
	return nil
}

// report sends one event record as an active AFN0E F1 report.
func (s *session) report(r pendingReport) error {
	t := s.t
	t.mu.Lock()
	f := t.reportFrame(r)
	t.mu.Unlock()
	return s.send(&f)
}

func (s *session) logout() {
	t := s.t
	t.mu.Lock()
	logged := t.loggedIn
	f := gw376.Logout(t.cfg.Address, t.nextPSEQ())
	t.mu.Unlock()
	if logged {
		_ = s.send(&f)
	}
}

func (s *session) send(f *gw376.Frame) error {
	b, err := gw376.Encode(f)
	if err != nil {
		return err
	}
	return s.write(b)
}

// write sends b, corrupting one byte first when the corrupt fault draws it.
func (s *session) write(b []byte) error {
	t := s.t
	t.mu.Lock()
	rate := t.faults.CorruptRate
	t.mu.Unlock()
	if rate > 0 && rand.Float64() < rate {
		c := append([]byte(nil), b...)
		c[len(c)/2] ^= 0x5A
		b = c
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := s.conn.Write(b)
	return err
}

// fresh checks the request's time label: a request older than its allowed delay is
// discarded; a delay of 0 means no check.
func (t *Terminal) fresh(f *gw376.Frame, now time.Time) bool {
	if !f.Seq.TpV || f.Tp.DelayMin == 0 {
		return true
	}
	day, hour, minute, second, err := f.Tp.SentClock()
	if err != nil {
		return false
	}
	t.mu.Lock()
	clock := t.clock(now)
	t.mu.Unlock()
	sent := time.Date(clock.Year(), clock.Month(), day, hour, minute, second, 0, clock.Location())
	if sent.After(clock.Add(24 * time.Hour)) {
		sent = sent.AddDate(0, -1, 0) // sent last month
	}
	return clock.Sub(sent) <= time.Duration(f.Tp.DelayMin)*time.Minute
}

// requestKey identifies a request for the retry cache: MSA, PSEQ, AFN and the data units.
func requestKey(f *gw376.Frame) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte{f.A3.MSA, f.Seq.Num, byte(f.AFN)})
	_, _ = h.Write(f.Data)
	return h.Sum64()
}

// cached returns the reply frames of a repeated request within the retry window.
func (t *Terminal) cached(key uint64, now time.Time) [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.cache {
		if c.key == key && c.frames != nil && now.Sub(c.at) <= t.cfg.RetryWindow {
			return c.frames
		}
	}
	return nil
}

func (t *Terminal) store(key uint64, now time.Time, frames [][]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache[1] = t.cache[0]
	t.cache[0] = cachedReply{key: key, at: now, frames: frames}
}
