package terminal

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testGateway is a minimal master on loopback: it accepts terminal connections, confirms
// logins and heartbeats, and hands every other frame to the test.
type testGateway struct {
	t      *testing.T
	ln     net.Listener
	conns  chan *gatewayConn
	noConf bool
}

type gatewayConn struct {
	conn   net.Conn
	frames chan *gw376.Frame
}

func newTestGateway(t *testing.T) *testGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &testGateway{t: t, ln: ln, conns: make(chan *gatewayConn, 8)}
	go g.accept()
	t.Cleanup(func() { _ = ln.Close() })
	return g
}

func (g *testGateway) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		gc := &gatewayConn{conn: c, frames: make(chan *gw376.Frame, 64)}
		g.conns <- gc
		go g.read(gc)
	}
}

func (g *testGateway) read(gc *gatewayConn) {
	defer close(gc.frames)
	framer := protocol.NewFramer(gw376.Spec, 1<<16)
	buf := make([]byte, 1024)
	for {
		n, err := gc.conn.Read(buf)
		framer.Write(buf[:n])
		for {
			r := framer.Next(false)
			if r.Frame == nil {
				break
			}
			f, derr := gw376.Decode(r.Frame)
			if derr != nil {
				continue
			}
			if f.AFN == gw376.AFNLink && !g.noConf {
				ack := gw376.ConfirmAll(f)
				b, _ := gw376.Encode(&ack)
				_, _ = gc.conn.Write(b)
			}
			gc.frames <- f
		}
		if err != nil {
			return
		}
	}
}

func (g *testGateway) next(t *testing.T) *gatewayConn {
	t.Helper()
	select {
	case c := <-g.conns:
		t.Cleanup(func() { _ = c.conn.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no terminal connected")
		return nil
	}
}

// expect returns the next frame of afn (and fn of its first unit when fn > 0), skipping
// heartbeats.
func (gc *gatewayConn) expect(t *testing.T, afn gw376.AFN, fn uint8) *gw376.Frame {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-gc.frames:
			if !ok {
				t.Fatalf("connection closed while waiting for AFN %02X F%d", afn, fn)
			}
			if f.AFN != afn {
				continue
			}
			if fn > 0 {
				var fns [8]uint8
				got, _ := gw376.IDFromWire(f.Data).DT.AppendFns(fns[:0])
				if len(got) == 0 || got[0] != fn {
					continue
				}
			}
			return f
		case <-deadline:
			t.Fatalf("no AFN %02X F%d frame", afn, fn)
			return nil
		}
	}
}

func (gc *gatewayConn) send(t *testing.T, f gw376.Frame) {
	t.Helper()
	b, err := gw376.Encode(&f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

var termAddr = protocol.TerminalAddress{A1: 4401, A2: 1}

func testTerminal(t *testing.T, g *testGateway) (*Terminal, *meter.Meter, func()) {
	t.Helper()
	maddr, _ := protocol.ParseMeterAddress("000000000161")
	pw, _ := dlt645.ParsePassword("123456")
	m := meter.New(meter.Config{Address: maddr, Edition: dlt645.Edition2007, Password: pw,
		LoadKW: 1, InitialKWh: 50, Start: time.Now()})
	term := New(Config{
		Address: termAddr, Gateway: g.ln.Addr().String(), Heartbeat: 300 * time.Millisecond,
		Latency:      Range{5 * time.Millisecond, 10 * time.Millisecond},
		MeterDelay:   Range{20 * time.Millisecond, 20 * time.Millisecond},
		ControlTurns: 2, Backoff: 50 * time.Millisecond,
	}, []Attached{{Point: 1, Port: 31, Meter: m}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { term.Run(ctx); close(done) }()
	return term, m, func() { cancel(); <-done }
}

func forwardRequest(t *testing.T, pseq uint8, frame []byte) gw376.Frame {
	t.Helper()
	id, _ := gw376.IDFor(0, 1)
	data := id.Append(nil)
	data = append(data, 31, 0x6B, 0x82, 0x0A, byte(len(frame)), byte(len(frame)>>8))
	data = append(data, frame...)
	f, err := gw376.NewRequest(termAddr, 1, gw376.AFNForward, pseq, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoginHeartbeatLogout(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	gc := g.next(t)
	login := gc.expect(t, gw376.AFNLink, gw376.FnLogin)
	if login.Address != termAddr || !login.Control.Up || !login.Seq.CON {
		t.Errorf("login frame: %+v", login)
	}
	beat := gc.expect(t, gw376.AFNLink, gw376.FnHeartbeat)
	if len(beat.Data) != gw376.IDLen+gw376.A1Len {
		t.Errorf("heartbeat carries %d bytes, want the 2013 clock", len(beat.Data))
	}
	gc.expect(t, gw376.AFNLink, gw376.FnHeartbeat)
	if s := term.State(); !s.Connected || !s.LoggedIn || s.Logins != 1 {
		t.Errorf("state: %+v", s)
	}
	stop()
	gc.expect(t, gw376.AFNLink, gw376.FnLogout)
}

func TestForwardAndRepeatedPSEQ(t *testing.T) {
	g := newTestGateway(t)
	term, m, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	gc.expect(t, gw376.AFNLink, gw376.FnLogin)
	waitLoggedIn(t, term)

	read, _ := dlt645.Encode(dlt645.NewReadRequest(m.Address(), 0x00010000))
	req := forwardRequest(t, 5, read)
	gc.send(t, req)
	reply := gc.expect(t, gw376.AFNForward, 1)
	if reply.Seq.Num != 5 || reply.A3.MSA != 1 {
		t.Errorf("reply RSEQ %d MSA %d, want 5 and 1", reply.Seq.Num, reply.A3.MSA)
	}
	content := reply.Data[gw376.IDLen+3:]
	f, err := dlt645.Decode(content)
	if err != nil {
		t.Fatalf("forwarded reply: %v", err)
	}
	r, err := dlt645.ParseReadReply(f, 0x00010000)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := protocol.DecodeBCD(r.Data); v != 5000 {
		t.Errorf("energy = %d, want 5000 (50.00 kWh)", v)
	}
	if n := term.Stats().Forwards; n != 1 {
		t.Fatalf("forwards = %d, want 1", n)
	}

	gc.send(t, req) // a retry: same PSEQ, same content
	again := gc.expect(t, gw376.AFNForward, 1)
	if string(again.Data) != string(reply.Data) {
		t.Errorf("cached reply differs")
	}
	if n := term.Stats().Forwards; n != 1 {
		t.Errorf("forwards after a repeated PSEQ = %d, want 1 (served from cache)", n)
	}
	st := term.Stats().Last
	if !st.Answered || st.MeterMs != 20 || st.BytesMs <= 0 {
		t.Errorf("timing: %+v", st)
	}
}

func TestCarrierLossForwardsEmpty(t *testing.T) {
	g := newTestGateway(t)
	term, m, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)
	if err := term.SetFault(FaultCarrierLoss, true, 0); err != nil {
		t.Fatal(err)
	}
	read, _ := dlt645.Encode(dlt645.NewReadRequest(m.Address(), 0x00010000))
	gc.send(t, forwardRequest(t, 1, read))
	reply := gc.expect(t, gw376.AFNForward, 1)
	if k := int(reply.Data[gw376.IDLen+1]) | int(reply.Data[gw376.IDLen+2])<<8; k != 0 {
		t.Errorf("content length = %d, want 0", k)
	}
}

func TestTurnTripReportsERC5(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)

	id, _ := gw376.IDFor(1, 1)
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNControl, 2, append(id.Append(nil), 0x00))
	gc.send(t, req)
	ack := gc.expect(t, gw376.AFNConfirm, 0)
	var fns [8]uint8
	if got, _ := gw376.IDFromWire(ack.Data).DT.AppendFns(fns[:0]); len(got) != 1 || got[0] != gw376.FnConfirmAll {
		t.Errorf("AFN05 F1 answer F%v, want F1 (all confirmed)", got)
	}
	report := gc.expect(t, gw376.AFNClass3, 1)
	if erc := report.Data[gw376.IDLen+4]; erc != 5 {
		t.Errorf("reported ERC%d, want ERC5", erc)
	}
	if s := term.State(); len(s.TurnsTripped) != 1 || s.TurnsTripped[0] != 1 {
		t.Errorf("turns tripped = %v", s.TurnsTripped)
	}

	// A turn beyond ControlTurns is denied.
	id3, _ := gw376.IDFor(3, 1)
	req, _ = gw376.NewRequest(termAddr, 1, gw376.AFNControl, 3, append(id3.Append(nil), 0x00))
	gc.send(t, req)
	deny := gc.expect(t, gw376.AFNConfirm, 0)
	if got, _ := gw376.IDFromWire(deny.Data).DT.AppendFns(fns[:0]); len(got) != 1 || got[0] != gw376.FnDenyAll {
		t.Errorf("AFN05 F1 on turn 3 answered F%v, want F2 (denied)", got)
	}
}

func TestPowerCycleReportsERC14(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)
	term.SetPower(false)
	for range gc.frames { // the terminal drops the link without a logout
	}
	if s := term.State(); s.Powered || s.Connected {
		t.Errorf("state after power off: %+v", s)
	}
	term.SetPower(true)
	gc2 := g.next(t)
	gc2.expect(t, gw376.AFNLink, gw376.FnLogin)
	report := gc2.expect(t, gw376.AFNClass3, 1)
	if erc := report.Data[gw376.IDLen+4]; erc != 14 {
		t.Errorf("reported ERC%d, want ERC14", erc)
	}
}

func TestClass1RelayState(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)
	id, _ := gw376.IDFor(1, 161)
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNClass1, 4, id.Append(nil))
	gc.send(t, req)
	reply := gc.expect(t, gw376.AFNClass1, 161)
	if len(reply.Data) != gw376.IDLen+18 {
		t.Fatalf("F161 unit is %d bytes, want 18", len(reply.Data)-gw376.IDLen)
	}
	if state := reply.Data[gw376.IDLen+5]; state != 0x11 {
		t.Errorf("relay state = %02X, want 11 (closed)", state)
	}
}

func waitLoggedIn(t *testing.T, term *Terminal) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !term.State().LoggedIn {
		if time.Now().After(deadline) {
			t.Fatal("terminal did not log in")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStaleTpDiscarded(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)
	id, _ := gw376.IDFor(0, 2)

	stale, _ := gw376.NewRequest(termAddr, 1, gw376.AFNClass1, 6, id.Append(nil))
	stale.SetTp(gw376.NewTp(6, time.Now().Add(-10*time.Minute).In(dlt645.DefaultLocation()), 1))
	gc.send(t, stale)
	fresh, _ := gw376.NewRequest(termAddr, 1, gw376.AFNClass1, 7, id.Append(nil))
	fresh.SetTp(gw376.NewTp(7, time.Now().In(dlt645.DefaultLocation()), 1))
	gc.send(t, fresh)
	reply := gc.expect(t, gw376.AFNClass1, 2)
	if reply.Seq.Num != 7 {
		t.Errorf("answered PSEQ %d first, want only the fresh request 7", reply.Seq.Num)
	}
	if !reply.Seq.TpV || reply.Tp.PFC != 7 {
		t.Errorf("reply Tp = %+v, want the request's echoed", reply.Tp)
	}
}

func TestMeterTableMultiFrame(t *testing.T) {
	g := newTestGateway(t)
	var attached []Attached
	for i := 1; i <= 40; i++ {
		a, _ := protocol.ParseMeterAddress(fmt.Sprintf("%012d", i))
		m := meter.New(meter.Config{Address: a, Edition: dlt645.Edition2007, Start: time.Now()})
		attached = append(attached, Attached{Point: uint16(i), Port: 31, Meter: m})
	}
	term := New(Config{Address: termAddr, Gateway: g.ln.Addr().String(),
		Heartbeat: time.Minute, Backoff: 50 * time.Millisecond}, attached)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { term.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	gc := g.next(t)
	waitLoggedIn(t, term)

	id, _ := gw376.IDFor(0, 10)
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNQueryParam, 9, append(id.Append(nil), 0, 0))
	gc.send(t, req)
	records := 0
	for i := 0; ; i++ {
		f := gc.expect(t, gw376.AFNQueryParam, 10)
		if f.Seq.FIR != (i == 0) {
			t.Errorf("frame %d FIR = %v", i, f.Seq.FIR)
		}
		if f.Seq.Num != uint8(9+i)&0x0F {
			t.Errorf("frame %d RSEQ = %d, want %d", i, f.Seq.Num, 9+i)
		}
		n := int(f.Data[gw376.IDLen]) | int(f.Data[gw376.IDLen+1])<<8
		if len(f.Data) != gw376.IDLen+2+27*n {
			t.Fatalf("frame %d: %d bytes for %d records", i, len(f.Data), n)
		}
		records += n
		if f.Seq.FIN {
			if i == 0 {
				t.Error("40 records came in one frame")
			}
			break
		}
	}
	if records != 40 {
		t.Errorf("records = %d, want 40", records)
	}
}

func TestReportConfirmationFromAFN04F1(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)

	id, _ := gw376.IDFor(0, 1)
	set, _ := gw376.NewRequest(termAddr, 1, gw376.AFNSetParam, 1,
		append(id.Append(nil), 0, 0, 30, 0x30, 0x04, 1))
	gc.send(t, set)
	gc.expect(t, gw376.AFNConfirm, 0)

	trip, _ := gw376.IDFor(2, 1)
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNControl, 2, append(trip.Append(nil), 0))
	gc.send(t, req)
	report := gc.expect(t, gw376.AFNClass3, 1)
	if !report.Seq.CON || report.Control.Func != gw376.FuncRequestClass1 {
		t.Errorf("report C=%02X CON=%v, want CA with CON", report.Control.Byte(), report.Seq.CON)
	}
}

func TestGuaranteeDeniesTurnTrip(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)
	var fns [8]uint8
	answer := func(pn uint16, fn uint8, pseq uint8, data ...byte) uint8 {
		t.Helper()
		id, _ := gw376.IDFor(pn, fn)
		req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNControl, pseq, append(id.Append(nil), data...))
		gc.send(t, req)
		ack := gc.expect(t, gw376.AFNConfirm, 0)
		got, _ := gw376.IDFromWire(ack.Data).DT.AppendFns(fns[:0])
		if len(got) != 1 {
			t.Fatalf("AFN00 with %v", got)
		}
		return got[0]
	}
	if fn := answer(0, 25, 1, 0); fn != gw376.FnConfirmAll {
		t.Fatalf("guarantee on: F%d", fn)
	}
	if fn := answer(1, 1, 2, 0); fn != gw376.FnDenyAll {
		t.Errorf("trip under guarantee: F%d, want F2 (denied)", fn)
	}
	if s := term.State(); !s.Guarantee || len(s.TurnsTripped) != 0 {
		t.Errorf("state: %+v", s)
	}
	if fn := answer(0, 33, 3); fn != gw376.FnConfirmAll {
		t.Fatalf("guarantee release: F%d", fn)
	}
	if fn := answer(1, 1, 4, 0); fn != gw376.FnConfirmAll {
		t.Errorf("trip after release: F%d, want F1", fn)
	}
}

func TestForwardReadF9(t *testing.T) {
	g := newTestGateway(t)
	term, m, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)

	id, _ := gw376.IDFor(0, 9)
	addr := m.Address()
	data := append(id.Append(nil), 31, 0)
	data = append(data, addr[:]...)
	data = append(data, 1, 0x00, 0x00, 0x01, 0x00) // 2007, DI 00010000 low byte first
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNForward, 3, data)
	gc.send(t, req)
	reply := gc.expect(t, gw376.AFNForward, 9)
	u := reply.Data[gw376.IDLen:]
	if u[0] != 31 || string(u[1:7]) != string(addr[:]) {
		t.Fatalf("F9 reply port/target = % X", u[:7])
	}
	if u[7] != 5 || u[8] != 8 {
		t.Fatalf("F9 result %d, length %d; want 5 (data) and 8", u[7], u[8])
	}
	if v, _ := protocol.DecodeBCD(u[13:17]); v != 5000 {
		t.Errorf("F9 energy = %d, want 5000 (50.00 kWh)", v)
	}

	// A meter that is not there: result 1 (timeout).
	other, _ := protocol.ParseMeterAddress("000000000999")
	data = append(id.Append(nil), 31, 0)
	data = append(data, other[:]...)
	data = append(data, 1, 0x00, 0x00, 0x01, 0x00)
	req, _ = gw376.NewRequest(termAddr, 1, gw376.AFNForward, 4, data)
	gc.send(t, req)
	reply = gc.expect(t, gw376.AFNForward, 9)
	if res := reply.Data[gw376.IDLen+7]; res != 1 {
		t.Errorf("F9 to a missing meter: result %d, want 1 (timeout)", res)
	}
}

func TestTurnTripWaitsAlarmDelay(t *testing.T) {
	g := newTestGateway(t)
	term, _, stop := testTerminal(t, g)
	defer stop()
	gc := g.next(t)
	waitLoggedIn(t, term)

	id, _ := gw376.IDFor(1, 1)
	req, _ := gw376.NewRequest(termAddr, 1, gw376.AFNControl, 5, append(id.Append(nil), 0x10))
	gc.send(t, req)
	gc.expect(t, gw376.AFNConfirm, 0)
	if s := term.State(); len(s.TurnsTripped) != 0 {
		t.Fatalf("turn tripped before its one-minute alarm delay: %v", s.TurnsTripped)
	}
	f6, _ := gw376.IDFor(0, 6)
	read, _ := gw376.NewRequest(termAddr, 1, gw376.AFNClass1, 6, f6.Append(nil))
	gc.send(t, read)
	if r := gc.expect(t, gw376.AFNClass1, 6); r.Data[gw376.IDLen] != 0 {
		t.Errorf("F6 trip output = %02X during the alarm delay, want 00", r.Data[gw376.IDLen])
	}
	allow, _ := gw376.IDFor(1, 2)
	req, _ = gw376.NewRequest(termAddr, 1, gw376.AFNControl, 7, allow.Append(nil))
	gc.send(t, req)
	gc.expect(t, gw376.AFNConfirm, 0)
	term.mu.Lock()
	pending := term.nextTurnAlarm()
	term.mu.Unlock()
	if !pending.IsZero() {
		t.Errorf("allow close left the delayed trip pending at %v", pending)
	}
}
