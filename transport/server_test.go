package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

func TestServerLoginHeartbeatLogout(t *testing.T) {
	t.Parallel()
	srv, reg := startServer(t, ServerConfig{})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "24495845")

	c.login()
	ans := c.mustRecvAfter(func() {
		clock := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
		hb := gw376.Heartbeat(c.addr, c.nextPSEQ(), &clock)
		hb.SetTp(gw376.NewTp(7, clock, 5))
		c.write(hb)
	})
	if !ans.Seq.TpV || ans.Tp.PFC != 7 || ans.Tp.DelayMin != 5 {
		t.Errorf("heartbeat answer Tp %+v (TpV %v), want the request's Tp echoed", ans.Tp,
			ans.Seq.TpV)
	}
	if fn := firstFn(ans); fn != gw376.FnConfirmEach {
		t.Errorf("answer F%d, want F3 (per-unit confirmation)", fn)
	}
	if e := nextEvent(t, events, EventOnline); e.Terminal != c.addr {
		t.Errorf("online event for %s", e.Terminal)
	}
	if n := srv.Online(); n != 1 {
		t.Errorf("Online() = %d, want 1", n)
	}
	d, ok := srv.Terminal(c.addr)
	if !ok || !d.Online || d.Logins24h != 1 || d.OnlineSince == nil || d.LastFrameAt == nil {
		t.Fatalf("diagnostics while online: %+v", d)
	}
	if d.RemoteAddr != c.conn.LocalAddr().String() {
		t.Errorf("remote_addr %q, want %q", d.RemoteAddr, c.conn.LocalAddr())
	}

	logout := gw376.Logout(c.addr, c.nextPSEQ())
	c.write(logout)
	checkConfirm(t, c.mustRecv(), &logout)
	c.expectClosed()
	e := nextEvent(t, events, EventOffline)
	if e.Reason != ReasonLogout {
		t.Errorf("offline reason %q, want logout", e.Reason)
	}
	d, _ = srv.Terminal(c.addr)
	if d.Online || d.Disconnects24h[ReasonLogout] != 1 || d.LastDisconnect == nil ||
		d.LastDisconnect.Reason != ReasonLogout {
		t.Fatalf("diagnostics after logout: %+v", d)
	}
	if v := metricValue(t, srv.metrics.logins); v != 1 {
		t.Errorf("logins metric %v, want 1", v)
	}
	if v := metricValue(t, srv.metrics.disconnects.WithLabelValues("logout")); v != 1 {
		t.Errorf("logout disconnects metric %v, want 1", v)
	}
	if v := metricValue(t, srv.metrics.terminalsOnline); v != 0 {
		t.Errorf("terminals online metric %v, want 0", v)
	}
	if n, err := gatherCount(reg, "feegate_frames_total"); err != nil || n == 0 {
		t.Errorf("feegate_frames_total not gathered: %d series, %v", n, err)
	}
}

// mustRecvAfter runs send and returns the next frame from the server.
func (c *termClient) mustRecvAfter(send func()) *gw376.Frame {
	c.t.Helper()
	send()
	return c.mustRecv()
}

func TestServerConfirmAllStyle(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{ConfirmStyle: ConfirmAllUnits})
	c := dialTerminal(t, srv, "44010001")
	req := gw376.Login(c.addr, c.nextPSEQ())
	c.write(req)
	ans := c.mustRecv()
	checkConfirm(t, ans, &req)
	if fn := firstFn(ans); fn != gw376.FnConfirmAll {
		t.Fatalf("answer F%d, want F1", fn)
	}
}

func TestServerOfflineBySilence(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: 100 * time.Millisecond,
		OfflineFactor: 2})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "44010002")
	start := time.Now() // the server's silence starts at the login, before its confirmation
	c.login()
	e := nextEvent(t, events, EventOffline)
	if e.Reason != ReasonHeartbeatTimeout {
		t.Fatalf("offline reason %q, want heartbeat_timeout", e.Reason)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("offline after %v, before the 200 ms window", d)
	}
	c.expectClosed()
}

func TestServerConfiguredHeartbeatPeriod(t *testing.T) {
	t.Parallel()
	short := mustAddr(t, "44010101")
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: time.Hour, OfflineFactor: 2,
		HeartbeatPeriodOf: func(a protocolAddr) (time.Duration, bool) {
			return 100 * time.Millisecond, a == short
		}})
	c := dialTerminal(t, srv, "44010101")
	other := dialTerminal(t, srv, "44010102")
	c.login()
	other.login()
	c.expectClosed()
	d, _ := srv.Terminal(c.addr)
	if d.Disconnects24h[ReasonHeartbeatTimeout] != 1 || d.HeartbeatPeriodS != 0 {
		t.Fatalf("terminal with a 100 ms period: %+v", d)
	}
	if d, _ := srv.Terminal(other.addr); !d.Online || d.HeartbeatPeriodS != 3600 {
		t.Fatalf("terminal on the 1 h default: %+v", d)
	}
}

func TestServerLearnedHeartbeatPeriod(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: time.Hour, OfflineFactor: 3})
	c := dialTerminal(t, srv, "44010103")
	start := time.Now()
	c.login()
	for range 3 {
		time.Sleep(1100 * time.Millisecond) // intervals under a second are ignored
		c.heartbeat()
	}
	d, _ := srv.Terminal(c.addr)
	if d.HeartbeatPeriodS < 1 || d.HeartbeatPeriodS > 2 {
		t.Fatalf("learned period %d s, want about 1 s", d.HeartbeatPeriodS)
	}
	// Silent now: offline after about three learned periods, not three hours.
	c.expectClosedWithin(10 * time.Second)
	if d, _ := srv.Terminal(c.addr); d.Disconnects24h[ReasonHeartbeatTimeout] != 1 {
		t.Fatalf("disconnects %+v after %v, want heartbeat_timeout", d.Disconnects24h,
			time.Since(start))
	}
}

func TestServerHeartbeatsKeepOnline(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: 100 * time.Millisecond,
		OfflineFactor: 3})
	c := dialTerminal(t, srv, "44010003")
	c.login()
	for range 6 {
		time.Sleep(60 * time.Millisecond)
		c.heartbeat()
	}
	d, _ := srv.Terminal(c.addr)
	if !d.Online || len(d.Disconnects24h) != 0 {
		t.Fatalf("terminal that heartbeats went offline: %+v", d)
	}
}

func TestServerNewestConnectionWins(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	old := dialTerminal(t, srv, "24495845")
	old.login()
	nextEvent(t, events, EventOnline)

	// A request waits on the old connection, which stays half-open: it never answers and
	// never closes its side.
	req, err := gw376.NewRequest(old.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() {
		_, err := srv.RequestWith(context.Background(), old.addr, &req,
			RequestOptions{Timeout: 10 * time.Second})
		result <- err
	}()
	old.mustRecv() // the request reached the old connection

	fresh := dialTerminal(t, srv, "24495845")
	fresh.login()
	select {
	case err := <-result:
		if !errors.Is(err, ErrSuperseded) {
			t.Fatalf("pending request: err = %v, want ErrSuperseded", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("pending request on the superseded connection did not fail at once")
	}
	old.expectClosed()
	waitFor(t, "superseded disconnect", func() bool {
		d, _ := srv.Terminal(fresh.addr)
		return d.Disconnects24h[ReasonSuperseded] == 1
	})
	d, _ := srv.Terminal(fresh.addr)
	if !d.Online || d.Logins24h != 2 || d.RemoteAddr != fresh.conn.LocalAddr().String() {
		t.Fatalf("diagnostics after the new login: %+v", d)
	}
	select {
	case e := <-events:
		t.Fatalf("unexpected %v event: the terminal never went offline", e.Kind)
	default:
	}
	if srv.Online() != 1 {
		t.Errorf("Online() = %d, want 1", srv.Online())
	}
	// The new session serves requests.
	done := answer(t, fresh, func(r *gw376.Frame) gw376.Frame { return gw376.Reply(r, r.Data) })
	if _, err := srv.Request(context.Background(), fresh.addr, &req); err != nil {
		t.Fatalf("request on the new session: %v", err)
	}
	<-done
}

// answer reads one request from another goroutine and writes the reply build makes of it.
// Receiving from the returned channel orders the caller after that goroutine.
func answer(t *testing.T, c *termClient, build func(*gw376.Frame) gw376.Frame) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		answerOne(t, c, build)
	}()
	return done
}

func answerOne(t *testing.T, c *termClient, build func(*gw376.Frame) gw376.Frame) {
	f, err := c.recv(3 * time.Second)
	if err != nil {
		t.Errorf("terminal: no request: %v", err)
		return
	}
	ans := build(f)
	b, err := gw376.Encode(&ans)
	if err != nil {
		t.Errorf("encode reply: %v", err)
		return
	}
	_, _ = c.conn.Write(b)
}

func TestServerFlapping(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{FlapThreshold: 3, FlapWindow: time.Minute})
	addr := "44010004"
	for i := range 3 {
		c := dialTerminal(t, srv, addr)
		c.login()
		_ = c.conn.Close()
		waitFor(t, "disconnect", func() bool {
			d, _ := srv.Terminal(c.addr)
			return d.Disconnects24h[ReasonPeerClosed] == i+1
		})
		d, _ := srv.Terminal(c.addr)
		if want := i+1 >= 3; d.Flapping != want {
			t.Fatalf("after %d disconnects flapping = %v, want %v", i+1, d.Flapping, want)
		}
	}
}

func TestServerGarbageClosesConnection(t *testing.T) {
	t.Parallel()
	srv, reg := startServer(t, ServerConfig{MaxProtocolErrors: 3})
	c := dialTerminal(t, srv, "44010005")
	c.login()
	// Garbage that arrives in one read counts as one error, so keep sending bursts until the
	// server closes the connection.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			if _, err := c.conn.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { <-done }()
	c.expectClosed()
	waitFor(t, "protocol_error disconnect", func() bool {
		d, _ := srv.Terminal(c.addr)
		return d.Disconnects24h[ReasonProtocolError] == 1
	})
	d, _ := srv.Terminal(c.addr)
	if !strings.Contains(d.LastError, "outside any frame") {
		t.Errorf("last_error %q does not describe the garbage", d.LastError)
	}
	if n, _ := gatherCount(reg, "feegate_frame_errors_total"); n == 0 {
		t.Error("no frame errors counted")
	}
}

func TestServerBadChecksumNotConfirmed(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010006")
	login := gw376.Login(c.addr, 0)
	b, err := gw376.Encode(&login)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2]++ // checksum
	if _, err := c.conn.Write(b); err != nil {
		t.Fatal(err)
	}
	if f, err := c.recv(200 * time.Millisecond); err == nil {
		t.Fatalf("server answered a frame with a bad checksum: %+v", f)
	}
	c.login() // the stream resynchronises on the next good frame
}

func TestServerFrameTooLarge(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{MaxFrameL1: 100})
	c := dialTerminal(t, srv, "44010007")
	c.login()
	l := uint16(200<<2 | gw376.ProtocolID)
	if _, err := c.conn.Write([]byte{0x68, byte(l), byte(l >> 8), byte(l), byte(l >> 8), 0x68,
		0xC9}); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	waitFor(t, "frame_too_large disconnect", func() bool {
		d, _ := srv.Terminal(c.addr)
		return d.Disconnects24h[ReasonFrameTooLarge] == 1
	})
}

func TestServerByteDribbleLoginTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{LoginTimeout: 300 * time.Millisecond})
	c := dialTerminal(t, srv, "44010008")
	login := gw376.Login(c.addr, 0)
	b, _ := gw376.Encode(&login)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for _, x := range b {
			if _, err := c.conn.Write([]byte{x}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	c.expectClosed()
	<-closed
	if _, ok := srv.Terminal(c.addr); ok {
		t.Fatal("a login that never completed created a terminal")
	}
	if v := metricValue(t, srv.metrics.disconnects.WithLabelValues("login_timeout")); v != 1 {
		t.Errorf("login_timeout disconnects %v, want 1", v)
	}
}

func TestServerSlowReaderClosed(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{OutboundLimit: 2048, SocketSendBuffer: 4096})
	c := dialTerminal(t, srv, "44010009")
	c.login()
	if tc, ok := c.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	batch := make([]byte, 0, 64*20)
	for i := range 64 {
		f := gw376.Heartbeat(c.addr, uint8(i)&0x0F, nil)
		batch, _ = gw376.Append(batch, &f)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.conn.Write(batch); err != nil {
			break
		}
		d, _ := srv.Terminal(c.addr)
		if d.Disconnects24h[ReasonSlowReader] == 1 {
			break
		}
	}
	waitFor(t, "slow_reader disconnect", func() bool {
		d, _ := srv.Terminal(c.addr)
		return d.Disconnects24h[ReasonSlowReader] == 1
	})
}

func TestServerPerIPLimit(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{MaxConnsPerIP: 2})
	a := dialTerminal(t, srv, "44010011")
	b := dialTerminal(t, srv, "44010012")
	a.login()
	b.login()
	c := dialTerminal(t, srv, "44010013")
	c.expectClosed()
	if v := metricValue(t, srv.metrics.disconnects.WithLabelValues("rejected")); v != 1 {
		t.Errorf("rejected disconnects %v, want 1", v)
	}
	a.heartbeat() // the connections within the limit still work
}

func TestServerAllowlist(t *testing.T) {
	t.Parallel()
	known := mustAddr(t, "44010021")
	srv, _ := startServer(t, ServerConfig{Allowlist: []protocolAddr{known},
		Unknown: RejectUnknown})
	c := dialTerminal(t, srv, "44010021")
	c.login()
	u := dialTerminal(t, srv, "44010022")
	u.write(gw376.Login(u.addr, 0))
	u.expectClosed()
	if _, ok := srv.Terminal(u.addr); ok {
		t.Error("rejected terminal has diagnostics")
	}

	srv2, _ := startServer(t, ServerConfig{Allowlist: []protocolAddr{known},
		Unknown: AcceptUnknown})
	f := dialTerminal(t, srv2, "44010022")
	f.login()
	d, _ := srv2.Terminal(f.addr)
	if !d.Online || !d.Unknown {
		t.Fatalf("unknown terminal under accept policy: %+v, want online and flagged", d)
	}
}

func TestServerRequestOffline(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	addr := mustAddr(t, "44010031")
	req, _ := gw376.NewRequest(addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	_, err := srv.Request(context.Background(), addr, &req)
	var te *TerminalError
	if !errors.As(err, &te) || !errors.Is(err, ErrTerminalOffline) || te.Terminal != addr {
		t.Fatalf("err = %v, want ErrTerminalOffline for %s", err, addr)
	}
}

func TestServerRequestReplies(t *testing.T) {
	t.Parallel()
	srv, reg := startServer(t, ServerConfig{MSA: 5})
	c := dialTerminal(t, srv, "44010041")
	c.login()
	data := []byte{0, 0, 0x10, 0} // p0 F5
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, data)

	// Single-frame reply; the request carries MSA 5 and a PSEQ from the PFC.
	var seen *gw376.Frame
	done := answer(t, c, func(r *gw376.Frame) gw376.Frame {
		seen = r
		return gw376.Reply(r, append(r.Data[:4:4], 0xAB))
	})
	resp, err := srv.Request(context.Background(), c.addr, &req)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if seen.A3.MSA != 5 || seen.Control.Up || !seen.Control.PRM {
		t.Errorf("request as sent: MSA %d, C %+v", seen.A3.MSA, seen.Control)
	}
	if len(resp.Frames) != 1 || resp.Frames[0].Data[4] != 0xAB || resp.Attempts != 1 {
		t.Fatalf("response %+v", resp)
	}
	firstPSEQ := seen.Seq.Num

	// Multi-frame reply: FIR, middle, FIN with RSEQ counting up.
	multi := make(chan struct{})
	go func() {
		defer close(multi)
		r, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no request: %v", err)
			return
		}
		if r.Seq.Num != (firstPSEQ+1)&0x0F {
			t.Errorf("second request PSEQ %d, want %d", r.Seq.Num, (firstPSEQ+1)&0x0F)
		}
		for i, pos := range []gw376.Seq{{FIR: true}, {}, {FIN: true}} {
			f := gw376.Reply(r, append(r.Data[:4:4], byte(i)))
			f.Seq.FIR, f.Seq.FIN = pos.FIR, pos.FIN
			f.Seq.Num = (r.Seq.Num + uint8(i)) & 0x0F
			c.write(f)
			time.Sleep(20 * time.Millisecond)
		}
		// A duplicate of the last frame after the reply is complete: late.
		f := gw376.Reply(r, r.Data[:4])
		f.Seq.Num = (r.Seq.Num + 2) & 0x0F
		c.write(f)
	}()
	resp, err = srv.Request(context.Background(), c.addr, &req)
	if err != nil {
		t.Fatal(err)
	}
	<-multi
	if len(resp.Frames) != 3 {
		t.Fatalf("multi-frame response has %d frames, want 3", len(resp.Frames))
	}
	for i, f := range resp.Frames {
		if f.Data[4] != byte(i) {
			t.Errorf("frame %d carries %d", i, f.Data[4])
		}
	}
	waitFor(t, "late reply counted", func() bool {
		return metricValue(t, srv.metrics.lateReplies.WithLabelValues("gw376")) == 1
	})
	if n, _ := gatherCount(reg, "feegate_request_duration_seconds"); n == 0 {
		t.Error("no request latency recorded")
	}
}

func TestServerRequestRetryKeepsPSEQ(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010042")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	done := make(chan struct{})
	go func() {
		defer close(done)
		first, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no first request: %v", err)
			return
		}
		second, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no retry: %v", err)
			return
		}
		if second.Seq.Num != first.Seq.Num {
			t.Errorf("retry PSEQ %d, want %d", second.Seq.Num, first.Seq.Num)
		}
		c.write(gw376.Reply(second, second.Data))
	}()
	resp, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 150 * time.Millisecond, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if resp.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", resp.Attempts)
	}
}

func TestServerRequestTimeoutAndDeny(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010043")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNControl, 0, []byte{1, 1, 1, 0})
	_, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 80 * time.Millisecond, Attempts: 2})
	var te *TerminalError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) || te.Attempts != 2 {
		t.Fatalf("err = %v, want ErrTimeout after 2 attempts", err)
	}
	for range 2 {
		if _, err := c.recv(time.Second); err != nil {
			t.Fatalf("terminal did not see both attempts: %v", err)
		}
	}
	if d, _ := srv.Terminal(c.addr); !strings.Contains(d.LastError, "timed out") {
		t.Errorf("last_error %q, want the request timeout", d.LastError)
	}

	done := answer(t, c, func(r *gw376.Frame) gw376.Frame { return gw376.ReplyConfirm(r, false) })
	_, err = srv.Request(context.Background(), c.addr, &req)
	<-done
	if !errors.As(err, &te) || !errors.Is(err, ErrDenied) || len(te.Reply) == 0 {
		t.Fatalf("err = %v, want ErrDenied with the deny frame", err)
	}

	done = answer(t, c, func(r *gw376.Frame) gw376.Frame { return gw376.ReplyConfirm(r, true) })
	if _, err := srv.Request(context.Background(), c.addr, &req); err != nil {
		t.Fatalf("confirmed request: %v", err)
	}
	<-done
}

func TestServerPendingFailsOnDisconnect(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010044")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.recv(3 * time.Second); err == nil {
			_ = c.conn.Close()
		}
	}()
	defer func() { <-done }()
	start := time.Now()
	_, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 10 * time.Second})
	if !errors.Is(err, ErrDisconnected) {
		t.Fatalf("err = %v, want ErrDisconnected", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pending request failed after %v, not at the disconnect", d)
	}
}

func TestServerRequestsQueuePerTerminal(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010045")
	c.login()
	const n = 4
	var served sync.WaitGroup
	served.Add(1)
	go func() {
		defer served.Done()
		for range n {
			r, err := c.recv(3 * time.Second)
			if err != nil {
				t.Errorf("request missing: %v", err)
				return
			}
			// Only one request is outstanding: nothing else arrives before this reply.
			if extra, err := c.recv(30 * time.Millisecond); err == nil {
				t.Errorf("second request %+v arrived while one was outstanding", extra.Seq)
				return
			}
			c.write(gw376.Reply(r, r.Data))
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
			if _, err := srv.Request(context.Background(), c.addr, &req); err != nil {
				t.Errorf("request: %v", err)
			}
		}()
	}
	wg.Wait()
	served.Wait()
}

func TestServerActiveReportConfirmed(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "44010051")
	c.login()
	report := gw376.Frame{
		Control: gw376.Control{Up: true, PRM: true, Func: gw376.FuncRequestClass1},
		Address: c.addr,
		AFN:     gw376.AFNClass3,
		Seq:     gw376.Seq{FIR: true, FIN: true, CON: true, Num: 9},
		Data:    []byte{0, 0, 1, 0, 1, 1, 0, 1, 0x05, 0x00},
	}
	c.write(report)
	ans := c.mustRecv()
	checkConfirm(t, ans, &report)
	if fn := firstFn(ans); fn != gw376.FnConfirmAll {
		t.Errorf("report answered with F%d, want F1", fn)
	}
	e := nextEvent(t, events, EventReport)
	if e.Terminal != c.addr || len(e.Frames) != 1 || e.Frames[0].AFN != gw376.AFNClass3 {
		t.Fatalf("report event %+v", e)
	}

	report.Seq.CON = false
	c.write(report)
	if f, err := c.recv(150 * time.Millisecond); err == nil {
		t.Fatalf("report without CON was answered: %+v", f)
	}
	nextEvent(t, events, EventReport)

	// A three-frame report is delivered once, whole.
	for i, pos := range []gw376.Seq{{FIR: true}, {}, {FIN: true}} {
		part := report
		part.Seq = gw376.Seq{FIR: pos.FIR, FIN: pos.FIN, Num: uint8(4 + i)}
		c.write(part)
	}
	e = nextEvent(t, events, EventReport)
	if len(e.Frames) != 3 {
		t.Fatalf("multi-frame report delivered with %d frames, want 3", len(e.Frames))
	}
}

func TestServerACDTriggersEventRead(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{ReadEvents: true})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "44010052")
	c.login()
	hb := func(ec uint8) {
		f := gw376.Heartbeat(c.addr, c.nextPSEQ(), nil)
		f.Control.ACD = true
		f.EC = gw376.EC{Important: ec}
		c.write(f)
	}
	hb(3) // the first count sets the baseline
	if f := c.mustRecv(); f.AFN != gw376.AFNConfirm {
		t.Fatalf("heartbeat answered with AFN %02X", f.AFN)
	}
	hb(5)
	if f := c.mustRecv(); f.AFN != gw376.AFNConfirm {
		t.Fatalf("heartbeat answered with AFN %02X", f.AFN)
	}
	read := c.mustRecv()
	if read.AFN != gw376.AFNClass3 || firstFn(read) != 1 || read.A3.MSA == 0 {
		t.Fatalf("event read %+v, want AFN0E F1 with MSA set", read)
	}
	if pm, pn := read.Data[4], read.Data[5]; pm != 3 || pn != 5 {
		t.Errorf("event read Pm %d Pn %d, want 3 and 5", pm, pn)
	}
	c.write(gw376.Reply(read, append(read.Data[:4:4], 5, 0, 3, 5)))
	e := nextEvent(t, events, EventEvents)
	if e.Err != nil || len(e.Frames) != 1 {
		t.Fatalf("events event %+v", e)
	}
}

func TestServerShutdownClosesSessions(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010061")
	c.login()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	d, _ := srv.Terminal(c.addr)
	if d.Disconnects24h[ReasonServerShutdown] != 1 {
		t.Fatalf("disconnects %+v, want one server_shutdown", d.Disconnects24h)
	}
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	if _, err := srv.Request(context.Background(), c.addr, &req); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: err = %v, want ErrClosed", err)
	}
}

func TestForwardTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{ForwardMargin: 10 * time.Second,
		RequestTimeout: 30 * time.Second,
		Timeouts:       map[gw376.AFN]time.Duration{gw376.AFNClass2: time.Minute}})
	addr := mustAddr(t, "44010071")
	cases := []struct {
		timeoutByte byte
		want        time.Duration
	}{
		{0xBC, 60*time.Second + 10*time.Second}, // D7=1: 60 s
		{0x32, 500*time.Millisecond + 10*time.Second},
	}
	for _, tc := range cases {
		data := []byte{0, 0, 1, 0, 0x02, 0x6B, tc.timeoutByte, 0x05, 0, 0}
		req, _ := gw376.NewRequest(addr, 1, gw376.AFNForward, 0, data)
		if got := srv.Timeout(&req); got != tc.want {
			t.Errorf("timeout byte %02X: %v, want %v", tc.timeoutByte, got, tc.want)
		}
	}
	req, _ := gw376.NewRequest(addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	if got := srv.Timeout(&req); got != 30*time.Second {
		t.Errorf("AFN0C timeout %v, want the default 30 s", got)
	}
	req.AFN = gw376.AFNClass2
	if got := srv.Timeout(&req); got != time.Minute {
		t.Errorf("AFN0D timeout %v, want the configured minute", got)
	}
}

func FuzzServerSpec(f *testing.F) {
	login := gw376.Login(protocolAddr{A1: 4401, A2: 1}, 3)
	b, _ := gw376.Encode(&login)
	f.Add(b)
	f.Add([]byte{0x68, 0x22, 0x03, 0x22, 0x03, 0x68, 0xC9})
	spec := newServerSpec(100)
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := protocol.NewFramer(spec, 1<<16)
		fr.Write(data)
		for {
			r := fr.Next(true)
			if r.Frame == nil {
				break
			}
			if _, err := gw376.Decode(r.Frame); err != nil &&
				!errors.Is(err, protocol.ErrUnknownFunction) &&
				!errors.Is(err, protocol.ErrInvalidAddress) &&
				!errors.Is(err, protocol.ErrBadLength) {
				t.Fatalf("framed % X fails to decode: %v", r.Frame, err)
			}
		}
	})
}

func TestDiagnosticsJSONFields(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "24495845")
	c.login()
	_ = c.conn.Close()
	waitFor(t, "disconnect", func() bool {
		d, _ := srv.Terminal(c.addr)
		return !d.Online
	})
	d, _ := srv.Terminal(c.addr)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"address", "online", "online_since", "last_frame_at",
		"remote_addr", "heartbeat_period_s", "logins_24h", "disconnects_24h",
		"last_disconnect", "last_error", "flapping"} {
		if _, ok := got[key]; !ok {
			t.Errorf("terminal JSON lacks %q: %s", key, b)
		}
	}
	if got["address"] != "24495845" {
		t.Errorf("address %v, want 24495845", got["address"])
	}
	last, _ := got["last_disconnect"].(map[string]any)
	if last["reason"] != "peer_closed" || last["at"] == nil {
		t.Errorf("last_disconnect %v, want peer_closed with a time", got["last_disconnect"])
	}
	if n, _ := got["disconnects_24h"].(map[string]any)["peer_closed"].(float64); n != 1 {
		t.Errorf("disconnects_24h %v, want peer_closed 1", got["disconnects_24h"])
	}
}
