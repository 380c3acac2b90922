package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/feegate/feegate/gw376"
)

// TestServerStaleMiddleFrameNotMatched sends the middle frame of a timed-out multi-frame
// reply with the RSEQ of the next request's PSEQ: it must count as late, and the next
// request must get its own reply.
func TestServerStaleMiddleFrameNotMatched(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010061")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})

	// The first request gets only the first frame of a reply that never finishes.
	first := make(chan *gw376.Frame, 1)
	go func() {
		r, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no first request: %v", err)
			close(first)
			return
		}
		f := gw376.Reply(r, append(r.Data[:4:4], 0x01))
		f.Seq.FIN = false
		c.write(f)
		first <- r
	}()
	_, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 200 * time.Millisecond, Attempts: 1})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: err = %v, want ErrTimeout", err)
	}
	r1 := <-first
	if r1 == nil {
		t.FailNow()
	}

	// The second request's PSEQ is the first one's plus one, which is also the RSEQ the
	// stale middle frame of the first reply carries.
	done := make(chan struct{})
	go func() {
		defer close(done)
		r2, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no second request: %v", err)
			return
		}
		stale := gw376.Reply(r1, append(r1.Data[:4:4], 0x02))
		stale.Seq.FIR, stale.Seq.FIN = false, false
		stale.Seq.Num = (r1.Seq.Num + 1) & 0x0F
		if stale.Seq.Num != r2.Seq.Num {
			t.Errorf("test setup: stale RSEQ %d, second PSEQ %d", stale.Seq.Num, r2.Seq.Num)
		}
		c.write(stale)
		time.Sleep(20 * time.Millisecond)
		c.write(gw376.Reply(r2, append(r2.Data[:4:4], 0xEE)))
	}()
	resp, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: time.Second, Attempts: 1})
	<-done
	if err != nil {
		t.Fatalf("second request: %v", err)
	}
	if len(resp.Frames) != 1 {
		t.Fatalf("second response has %d frames, want 1", len(resp.Frames))
	}
	if got := resp.Frames[0].Data[4]; got != 0xEE {
		t.Fatalf("second response carries %#x, want its own reply 0xEE", got)
	}
	if n := metricValue(t, srv.metrics.lateReplies.WithLabelValues("gw376")); n < 1 {
		t.Errorf("late replies %v, want the stale frame counted", n)
	}
}

// TestServerEndlessReplyBounded floods a request with continuation frames that never set
// FIN. The request must fail once the reply passes the frame bound, while the flood still
// runs, instead of collecting frames for as long as the terminal sends them.
func TestServerEndlessReplyBounded(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010062")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})

	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		r, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no request: %v", err)
			sent <- 0
			return
		}
		const limit = 5000
		n := 0
		for ; n < limit; n++ {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			f := gw376.Reply(r, append(r.Data[:4:4], byte(n)))
			f.Seq.FIR, f.Seq.FIN = n == 0, false
			f.Seq.Num = (r.Seq.Num + uint8(n)) & 0x0F
			b, _ := gw376.Encode(&f)
			if _, err := c.conn.Write(b); err != nil {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		sent <- n
	}()
	_, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 500 * time.Millisecond, Attempts: 1})
	close(stop)
	n := <-sent
	if err == nil {
		t.Fatal("endless reply accepted")
	}
	var te *TerminalError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want a *TerminalError of kind ErrTimeout", err)
	}
	if n >= 5000 {
		t.Fatalf("request still collecting after %d frames", n)
	}
}

// TestServerReportFromOtherAddressDropped sends an active report with another terminal's
// address on a logged-in connection: it must not reach subscribers as the logged-in
// terminal's report.
func TestServerReportFromOtherAddressDropped(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "44010063")
	c.login()
	report := gw376.Frame{
		Control: gw376.Control{Up: true, PRM: true, Func: gw376.FuncRequestClass1},
		Address: mustAddr(t, "44010064"),
		AFN:     gw376.AFNClass3,
		Seq:     gw376.Seq{FIR: true, FIN: true, Num: 3},
		Data:    []byte{0, 0, 1, 0, 1, 1, 0, 1, 0x05, 0x00},
	}
	c.write(report)
	time.Sleep(50 * time.Millisecond)
	report.Address = c.addr
	report.Seq.Num = 4
	c.write(report)
	e := nextEvent(t, events, EventReport)
	if e.Terminal != c.addr {
		t.Fatalf("report event for %s, want %s", e.Terminal, c.addr)
	}
	if got := e.Frames[0].Address; got != c.addr {
		t.Fatalf("report of %s delivered as a report of %s", got, e.Terminal)
	}
}

// TestServerUnloggedFloodReleasesConnections opens many connections that never log in and
// checks that the login timeout closes all of them and that no goroutines stay behind.
func TestServerUnloggedFloodReleasesConnections(t *testing.T) {
	srv, _ := startServer(t, ServerConfig{LoginTimeout: 300 * time.Millisecond})
	// One connection first, so that every event loop of the server is running before the
	// goroutines are counted.
	warm, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = warm.Close()
	waitFor(t, "warm-up connection closed", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) == 0
	})
	fdBefore := openFiles(t)
	const n = 500
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	closed := make(chan int, n)
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 16)
			if _, err := c.Read(buf); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return
				}
				closed <- 1
			}
		}(c)
	}
	wg.Wait()
	close(closed)
	count := 0
	for range closed {
		count++
	}
	if count != n {
		t.Fatalf("%d of %d unlogged connections closed by the server", count, n)
	}
	waitFor(t, "server connection table empty", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) == 0 && len(srv.perIP) == 0
	})
	// TestMain checks for leaked goroutines when the package ends; here the descriptors
	// must come back.
	waitFilesBack(t, fdBefore)
}

// waitFilesBack waits up to 10 s for the process to hold no more file descriptors than
// before a test's connections, give or take a small slack: descriptors the runtime or an
// earlier test's closing server open and close meanwhile must not fail a check that is
// about hundreds of connections.
func waitFilesBack(t *testing.T, before int) {
	t.Helper()
	const slack = 16
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := openFiles(t)
		if now <= before+slack {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d file descriptors open 10 s after the connections closed, %d "+
				"before them: the server kept connections it had closed", now, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openFiles returns the number of open file descriptors of this process.
func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(entries)
}

// TestServerRequestsDuringReconnects runs requests from many goroutines for one terminal
// while the terminal replaces its connection again and again. Every request must end with
// its own reply or a typed error, never with another request's reply.
func TestServerRequestsDuringReconnects(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	const address = "44010065"
	stop := make(chan struct{})
	var terminals sync.WaitGroup
	serve := func(c *termClient) {
		defer terminals.Done()
		for {
			r, err := c.recv(100 * time.Millisecond)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				return // closed: superseded
			}
			f := gw376.Reply(r, r.Data)
			b, _ := gw376.Encode(&f)
			_, _ = c.conn.Write(b)
		}
	}
	first := dialTerminal(t, srv, address)
	first.login()
	terminals.Add(1)
	go serve(first)
	reconnects := make(chan struct{})
	go func() {
		defer close(reconnects)
		for i := 0; i < 10; i++ {
			time.Sleep(30 * time.Millisecond)
			c := dialTerminal(t, srv, address)
			c.login()
			terminals.Add(1)
			go serve(c)
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				data := []byte{0, 0, 1, 0, byte(g), byte(i)}
				req, _ := gw376.NewRequest(first.addr, 1, gw376.AFNClass1, 0, data)
				resp, err := srv.RequestWith(context.Background(), first.addr, &req,
					RequestOptions{Timeout: 500 * time.Millisecond, Attempts: 1})
				kind := "ok"
				switch {
				case err == nil:
					got := resp.Frames[0].Data
					if len(got) != len(data) || got[4] != byte(g) || got[5] != byte(i) {
						t.Errorf("request %d/%d got the reply % X", g, i, got)
					}
				case errors.Is(err, ErrSuperseded):
					kind = "superseded"
				case errors.Is(err, ErrTimeout):
					kind = "timeout"
				case errors.Is(err, ErrDisconnected), errors.Is(err, ErrTerminalOffline):
					kind = "disconnected"
				default:
					t.Errorf("request %d/%d: untyped error %v", g, i, err)
				}
				mu.Lock()
				outcomes[kind]++
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	<-reconnects
	close(stop)
	terminals.Wait()
	if outcomes["ok"] == 0 {
		t.Errorf("no request succeeded: %v", outcomes)
	}
	t.Logf("outcomes: %v", outcomes)
}

// TestServerPSEQWrapsUnderManyRequests sends more than 16 sequential requests: PSEQ counts
// up by one per request modulo 16, and every reply is matched to its own request.
func TestServerPSEQWrapsUnderManyRequests(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010066")
	c.login()
	var seen []uint8
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			r, err := c.recv(3 * time.Second)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			seen = append(seen, r.Seq.Num)
			c.write(gw376.Reply(r, r.Data))
		}
	}()
	for i := 0; i < 40; i++ {
		data := []byte{0, 0, 1, 0, byte(i)}
		req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, data)
		resp, err := srv.Request(context.Background(), c.addr, &req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := resp.Frames[0].Data[4]; got != byte(i) {
			t.Fatalf("request %d got the reply of request %d", i, got)
		}
	}
	<-done
	for i := 1; i < len(seen); i++ {
		if seen[i] != (seen[i-1]+1)&0x0F {
			t.Fatalf("PSEQ sequence %v breaks at %d", seen, i)
		}
	}
}

// TestServerSecondAddressOnOneConnection logs in as one address and then as another on the
// same connection: the server must close it with protocol_error, confirm nothing for the
// second address and never show that address online.
func TestServerSecondAddressOnOneConnection(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	events, cancel := srv.Subscribe(16)
	defer cancel()
	c := dialTerminal(t, srv, "44010067")
	c.login()
	nextEvent(t, events, EventOnline)
	other := mustAddr(t, "44010068")
	c.write(gw376.Login(other, c.nextPSEQ()))
	c.expectClosed()
	e := nextEvent(t, events, EventOffline)
	if e.Terminal != c.addr || e.Reason != ReasonProtocolError {
		t.Fatalf("offline event %+v, want %s with protocol_error", e, c.addr)
	}
	if _, ok := srv.Terminal(other); ok {
		t.Errorf("the second address %s has a terminal record", other)
	}
	d, _ := srv.Terminal(c.addr)
	if d.Online || d.Disconnects24h[ReasonProtocolError] != 1 || d.LastError == "" {
		t.Errorf("diagnostics of %s after the second login: %+v", c.addr, d)
	}
	if srv.Online() != 0 {
		t.Errorf("Online() = %d, want 0", srv.Online())
	}
}

// TestServerHeartbeatBindsSession sends a heartbeat without a login first, as a terminal
// does after a gateway restart: the server must confirm it, bind the session and serve
// requests on it.
func TestServerHeartbeatBindsSession(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010069")
	c.heartbeat()
	waitFor(t, "terminal online", func() bool { return srv.Online() == 1 })
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	done := answer(t, c, func(r *gw376.Frame) gw376.Frame { return gw376.Reply(r, r.Data) })
	if _, err := srv.Request(context.Background(), c.addr, &req); err != nil {
		t.Fatalf("request after a heartbeat login: %v", err)
	}
	<-done
	d, _ := srv.Terminal(c.addr)
	if !d.Online || d.Logins24h != 1 {
		t.Errorf("diagnostics %+v, want online with one login", d)
	}
}

// TestServerLoginCyclesReleaseEverything logs one terminal in and out many times, half by
// logout and half by dropping the socket. Connections, descriptors and the online count
// must come back, and the history stays within its bound.
func TestServerLoginCyclesReleaseEverything(t *testing.T) {
	srv, _ := startServer(t, ServerConfig{})
	warm := dialTerminal(t, srv, "44010070")
	warm.login()
	_ = warm.conn.Close()
	waitFor(t, "warm-up closed", func() bool { return srv.Online() == 0 })
	fdBefore := openFiles(t)
	const cycles = 200
	for i := 0; i < cycles; i++ {
		c := dialTerminal(t, srv, "44010070")
		c.login()
		if i%2 == 0 {
			c.write(gw376.Logout(c.addr, c.nextPSEQ()))
			c.expectClosed()
		}
		_ = c.conn.Close()
	}
	waitFor(t, "every session closed", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.conns) == 0 && srv.Online() == 0
	})
	waitFilesBack(t, fdBefore)
	d, _ := srv.Terminal(mustAddr(t, "44010070"))
	if d.Logins24h != cycles+1 {
		t.Errorf("logins %d, want %d", d.Logins24h, cycles+1)
	}
	if got := d.Disconnects24h[ReasonLogout]; got != cycles/2 {
		t.Errorf("logout disconnects %d, want %d", got, cycles/2)
	}
}

// TestServerTpRejectsWrappedPSEQ lets a request with a time label time out and sends its
// reply only after 16 more requests, when PSEQ has wrapped to the same value. The reply
// echoes the old PFC in Tp, so it must count as late and not answer the new request.
func TestServerTpRejectsWrappedPSEQ(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010071")
	c.login()
	newReq := func(marker byte) gw376.Frame {
		req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0, marker})
		req.SetTp(gw376.Tp{})
		return req
	}

	// The first request gets no reply in time; the terminal keeps the request.
	first := make(chan *gw376.Frame, 1)
	go func() {
		r, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no first request: %v", err)
		}
		first <- r
	}()
	req := newReq(0xA0)
	if _, err := srv.RequestWith(context.Background(), c.addr, &req,
		RequestOptions{Timeout: 100 * time.Millisecond, Attempts: 1}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: err = %v, want ErrTimeout", err)
	}
	stale := <-first
	if stale == nil {
		t.FailNow()
	}

	// Fifteen requests answered at once bring PSEQ back to one below the first request's.
	for i := 0; i < 15; i++ {
		done := answer(t, c, func(r *gw376.Frame) gw376.Frame { return gw376.Reply(r, r.Data) })
		req := newReq(byte(i))
		if _, err := srv.Request(context.Background(), c.addr, &req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		<-done
	}

	// The seventeenth request has the first one's PSEQ; the stale reply comes first.
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err := c.recv(3 * time.Second)
		if err != nil {
			t.Errorf("no request: %v", err)
			return
		}
		if r.Seq.Num != stale.Seq.Num {
			t.Errorf("test setup: PSEQ %d, want the first request's %d", r.Seq.Num,
				stale.Seq.Num)
		}
		c.write(gw376.Reply(stale, stale.Data))
		time.Sleep(20 * time.Millisecond)
		c.write(gw376.Reply(r, r.Data))
	}()
	req = newReq(0xB0)
	resp, err := srv.Request(context.Background(), c.addr, &req)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Frames[0].Data[4]; got != 0xB0 {
		t.Fatalf("request answered with the reply carrying %#x, want its own 0xB0", got)
	}
}

// TestServerLearnedPeriodRecovers has a terminal heartbeat about once a second, go silent
// until the server closes it, and then heartbeat every three seconds on a new connection.
// The learned period that closed the first session must not close the second before its
// first heartbeat, or the terminal would flap for ever.
func TestServerLearnedPeriodRecovers(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: 4 * time.Second, OfflineFactor: 2})
	c := dialTerminal(t, srv, "44010072")
	c.login()
	for range 3 {
		time.Sleep(1100 * time.Millisecond)
		c.heartbeat()
	}
	if d, _ := srv.Terminal(c.addr); d.HeartbeatPeriodS != 1 {
		t.Fatalf("learned period %d s, want 1 s", d.HeartbeatPeriodS)
	}
	c.expectClosedWithin(5 * time.Second)

	again := dialTerminal(t, srv, "44010072")
	again.login()
	time.Sleep(3 * time.Second)
	again.heartbeat() // fails the test if the server has closed the connection
	d, _ := srv.Terminal(again.addr)
	if !d.Online || d.Disconnects24h[ReasonHeartbeatTimeout] != 1 {
		t.Fatalf("diagnostics after a 3 s heartbeat: %+v", d)
	}
}

// TestServerEarlyHeartbeatNotLearned sends a heartbeat right after the login, as some
// terminals do: the gap from the login must not become the learned period.
func TestServerEarlyHeartbeatNotLearned(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: time.Hour})
	c := dialTerminal(t, srv, "44010073")
	c.login()
	time.Sleep(1100 * time.Millisecond)
	c.heartbeat()
	if d, _ := srv.Terminal(c.addr); d.HeartbeatPeriodS != 3600 {
		t.Fatalf("period %d s after one early heartbeat, want the 3600 s default",
			d.HeartbeatPeriodS)
	}
}

// TestServerCloseFailsQueuedRequests closes the server while one request waits for its
// reply and another waits in the terminal's queue: both must fail with ErrClosed.
func TestServerCloseFailsQueuedRequests(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{})
	c := dialTerminal(t, srv, "44010074")
	c.login()
	req, _ := gw376.NewRequest(c.addr, 1, gw376.AFNClass1, 0, []byte{0, 0, 1, 0})
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := srv.RequestWith(context.Background(), c.addr, &req,
				RequestOptions{Timeout: 10 * time.Second, Attempts: 1})
			results <- err
		}()
	}
	c.mustRecv() // one request is on the wire; the other waits for the terminal
	waitFor(t, "second request queued", func() bool {
		srv.mu.Lock()
		term := srv.terminals[c.addr]
		srv.mu.Unlock()
		return term.waiting.Load() == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		select {
		case err := <-results:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("request %d: err = %v, want ErrClosed", i, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("request %d still waiting after Close", i)
		}
	}
}

// slowCore is a zap core that stalls the line of one message, to widen the window between
// what the server does before and after that line.
type slowCore struct {
	message string
	delay   time.Duration
}

func (c slowCore) Enabled(zapcore.Level) bool        { return true }
func (c slowCore) With([]zapcore.Field) zapcore.Core { return c }
func (c slowCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == c.message {
		time.Sleep(c.delay)
	}
	return ce
}
func (c slowCore) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (c slowCore) Sync() error                                { return nil }

// TestServerEventOrderOnQuickReconnect drops a terminal's connection and logs it in again
// on a new one while the server still handles the close. Subscribers must see the offline
// of the old session before the online of the new one, or they would keep the terminal
// offline while it is online.
func TestServerEventOrderOnQuickReconnect(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{Logger: zap.New(slowCore{
		message: "terminal disconnected", delay: 100 * time.Millisecond})})
	events, cancel := srv.Subscribe(64)
	defer cancel()
	// Connections spread over the event loops; a few rounds put the old and the new
	// connection on different loops, where the close and the login run at once.
	for round := range 4 {
		address := fmt.Sprintf("440100%02d", 80+round)
		old := dialTerminal(t, srv, address)
		old.login()
		nextEvent(t, events, EventOnline)
		_ = old.conn.Close()
		time.Sleep(20 * time.Millisecond) // the server is inside the slow log line now
		fresh := dialTerminal(t, srv, address)
		fresh.login()
		waitFor(t, "old session closed", func() bool {
			d, _ := srv.Terminal(fresh.addr)
			return len(d.Disconnects24h) == 1
		})
		time.Sleep(150 * time.Millisecond) // past the slow log line
		var last Event
	drain:
		for {
			select {
			case e := <-events:
				if e.Terminal == fresh.addr {
					last = e
				}
			default:
				break drain
			}
		}
		d, _ := srv.Terminal(fresh.addr)
		if !d.Online {
			t.Fatalf("round %d: terminal offline after the new login", round)
		}
		if last.Kind != EventOnline {
			t.Fatalf("round %d: last event %v (%s) for an online terminal", round, last.Kind,
				last.Reason)
		}
		_ = fresh.conn.Close()
		nextEvent(t, events, EventOffline)
	}
}
