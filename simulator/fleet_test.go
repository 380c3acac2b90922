package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/terminal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testGateway is a minimal master on loopback that confirms logins and heartbeats and
// records every connection and frame.
type testGateway struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []*gwConn
	newC  chan *gwConn
}

type gwConn struct {
	conn     net.Conn
	frames   chan *gw376.Frame
	mu       sync.Mutex
	rawBytes int
	closed   bool
}

func newTestGateway(t *testing.T) *testGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &testGateway{ln: ln, newC: make(chan *gwConn, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			gc := &gwConn{conn: c, frames: make(chan *gw376.Frame, 256)}
			g.mu.Lock()
			g.conns = append(g.conns, gc)
			g.mu.Unlock()
			g.newC <- gc
			go gc.read()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range g.conns {
			_ = c.conn.Close()
		}
	})
	return g
}

func (gc *gwConn) read() {
	defer func() {
		gc.mu.Lock()
		gc.closed = true
		gc.mu.Unlock()
		close(gc.frames)
	}()
	framer := protocol.NewFramer(gw376.Spec, 1<<16)
	buf := make([]byte, 2048)
	for {
		n, err := gc.conn.Read(buf)
		gc.mu.Lock()
		gc.rawBytes += n
		gc.mu.Unlock()
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
			if f.AFN == gw376.AFNLink || (f.AFN == gw376.AFNClass3 && f.Seq.CON) {
				ack := gw376.ConfirmAll(f)
				b, _ := gw376.Encode(&ack)
				_, _ = gc.conn.Write(b)
			}
			select {
			case gc.frames <- f:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// wait returns the next connection of the terminal, waiting up to d.
func (g *testGateway) wait(t *testing.T, d time.Duration) *gwConn {
	t.Helper()
	select {
	case c := <-g.newC:
		return c
	case <-time.After(d):
		return nil
	}
}

// next returns the next frame of afn within d, or nil.
func (gc *gwConn) next(afn gw376.AFN, fn uint8, d time.Duration) *gw376.Frame {
	deadline := time.After(d)
	for {
		select {
		case f, ok := <-gc.frames:
			if !ok {
				return nil
			}
			if afn == 0xFF {
				return f
			}
			if f.AFN != afn {
				continue
			}
			var fns [8]uint8
			got, _ := gw376.IDFromWire(f.Data).DT.AppendFns(fns[:0])
			if fn == 0 || len(got) > 0 && got[0] == fn {
				return f
			}
		case <-deadline:
			return nil
		}
	}
}

func (gc *gwConn) send(t *testing.T, f gw376.Frame) {
	t.Helper()
	b, err := gw376.Encode(&f)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = gc.conn.Write(b)
}

var pseqCounter uint8

// forward sends a 645 frame through AFN10 F1 and returns the embedded reply (nil when no
// answer frame came within d, empty when the terminal forwarded nothing back).
func (gc *gwConn) forward(t *testing.T, a1a2 string, frame *dlt645.Frame, d time.Duration) []byte {
	t.Helper()
	addr, _ := protocol.ParseTerminalAddress(a1a2)
	wire, err := dlt645.Encode(frame)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := gw376.IDFor(0, 1)
	data := id.Append(nil)
	data = append(data, 31, 0x6B, 0x82, 0x0A, byte(len(wire)), byte(len(wire)>>8))
	data = append(data, wire...)
	pseqCounter = (pseqCounter + 1) & 0x0F
	req, err := gw376.NewRequest(addr, 1, gw376.AFNForward, pseqCounter, data)
	if err != nil {
		t.Fatal(err)
	}
	gc.send(t, req)
	reply := gc.next(gw376.AFNForward, 1, d)
	if reply == nil {
		return nil
	}
	k := int(reply.Data[gw376.IDLen+1]) | int(reply.Data[gw376.IDLen+2])<<8
	return append([]byte{}, reply.Data[gw376.IDLen+3:gw376.IDLen+3+k]...)
}

func startFleet(t *testing.T, g *testGateway, opts Options) (*Fleet, string) {
	t.Helper()
	if g != nil {
		opts.Gateway = g.ln.Addr().String()
	}
	opts.Heartbeat = 200 * time.Millisecond
	opts.Latency = terminal.Range{Min: time.Millisecond, Max: 2 * time.Millisecond}
	opts.MeterDelay = terminal.Range{Min: 20 * time.Millisecond, Max: 20 * time.Millisecond}
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, "http://" + f.Ready().Control
}

func call(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

func TestFleetAddressesDeterministic(t *testing.T) {
	a, _ := New(Options{Gateway: "127.0.0.1:1", Terminals: 2, MetersPerTerminal: 8, Seed: 7, Control: "-"})
	b, _ := New(Options{Gateway: "127.0.0.1:1", Terminals: 2, MetersPerTerminal: 8, Seed: 7, Control: "-"})
	c, _ := New(Options{Gateway: "127.0.0.1:1", Terminals: 2, MetersPerTerminal: 8, Seed: 8, Control: "-"})
	if len(a.order) != 16 {
		t.Fatalf("meters = %d, want 16", len(a.order))
	}
	kinds := map[string]int{}
	for i := range a.order {
		x, y := a.order[i].m.State(time.Now()), b.order[i].m.State(time.Now())
		if x.Address != y.Address {
			t.Errorf("meter %d: %s vs %s for the same seed", i, x.Address, y.Address)
		}
		if x.Address == c.order[i].m.State(time.Now()).Address {
			t.Errorf("meter %d: same address %s for another seed", i, x.Address)
		}
		kinds[x.Protocol+"/"+x.Kind]++
	}
	want := map[string]int{"dlt645-2007/cost_control": 10, "dlt645-2007/plain": 4, "dlt645-1997/plain": 2}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s meters = %d, want %d", k, kinds[k], n)
		}
	}
	ar := a.Archive()
	if err := archive.Validate(ar); err != nil {
		t.Errorf("exported archive invalid: %v", err)
	}
}

func TestControlAPIStateAndPower(t *testing.T) {
	g := newTestGateway(t)
	f, base := startFleet(t, g, Options{Terminals: 2, MetersPerTerminal: 4})
	c1 := g.wait(t, 5*time.Second)
	c2 := g.wait(t, 5*time.Second)
	if c1 == nil || c2 == nil {
		t.Fatal("terminals did not connect")
	}
	waitFor(t, func() bool {
		var ts []terminal.State
		call(t, "GET", base+"/terminals", nil, &ts)
		return len(ts) == 2 && ts[0].LoggedIn && ts[1].LoggedIn
	})
	var ms []MeterView
	call(t, "GET", base+"/meters?terminal=44010001", nil, &ms)
	if len(ms) != 4 {
		t.Fatalf("meters of 44010001 = %d, want 4", len(ms))
	}
	if ms[0].Relay != "closed" || ms[0].Terminal != "44010001" || ms[0].Point != 1 {
		t.Errorf("meter view: %+v", ms[0])
	}
	var one MeterView
	if code := call(t, "GET", base+"/meters/"+ms[1].Address, nil, &one); code != 200 || one.Address != ms[1].Address {
		t.Errorf("GET /meters/{address}: %d %+v", code, one)
	}
	if code := call(t, "GET", base+"/meters/999999999998", nil, nil); code != 404 {
		t.Errorf("unknown meter: status %d, want 404", code)
	}
	var st terminal.State
	call(t, "POST", base+"/terminals/44010002/power", map[string]bool{"on": false}, &st)
	if st.Powered || st.Connected {
		t.Errorf("after power off: %+v", st)
	}
	call(t, "POST", base+"/terminals/44010002/power", map[string]bool{"on": true}, &st)
	c3 := g.wait(t, 5*time.Second)
	if c3 == nil {
		t.Fatal("no reconnect after power on")
	}
	if r := c3.next(gw376.AFNClass3, 1, 3*time.Second); r == nil || r.Data[gw376.IDLen+4] != 14 {
		t.Errorf("no ERC14 after power on: %v", r)
	}
	_ = f
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// relayRequest builds a plain relay command to addr.
func relayRequest(t *testing.T, addr string, action dlt645.RelayAction, deadline time.Time) *dlt645.Frame {
	t.Helper()
	a, _ := protocol.ParseMeterAddress(addr)
	pw, _ := dlt645.ParsePassword(DefaultPassword)
	f, err := dlt645.NewRelayRequest(a, &dlt645.RelayCommand{Level: dlt645.LevelPlain02,
		Password: pw, Action: action, Deadline: deadline})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFaultTable switches each fault on through the control API and checks what the wire
// shows the gateway.
func TestFaultTable(t *testing.T) {
	g := newTestGateway(t)
	f, base := startFleet(t, g, Options{Terminals: 1, MetersPerTerminal: 8})
	gc := g.wait(t, 5*time.Second)
	waitFor(t, func() bool { return f.terminals[0].State().LoggedIn })
	const term = "44010001"
	meters := f.terminals[0].Meters()
	plain := meters[3].Meter.Address().String() // index 3 is a plain 2007 meter
	cost := meters[0].Meter.Address().String()
	read := func(addr string) *dlt645.Frame {
		a, _ := protocol.ParseMeterAddress(addr)
		return dlt645.NewReadRequest(a, 0x00010000)
	}
	put := func(req FaultRequest) {
		t.Helper()
		if code := call(t, "PUT", base+"/faults", req, nil); code != 200 {
			t.Fatalf("PUT /faults %+v: status %d", req, code)
		}
	}
	del := func(req FaultRequest) {
		t.Helper()
		if code := call(t, "DELETE", base+"/faults", req, nil); code != 200 {
			t.Fatalf("DELETE /faults %+v: status %d", req, code)
		}
	}
	relayErr := func(reply []byte) error {
		t.Helper()
		fr, err := dlt645.Decode(reply)
		if err != nil {
			t.Fatalf("relay reply: %v", err)
		}
		_, err = dlt645.ParseRelayReply(fr)
		return err
	}
	meterT := func(addr string) FaultTarget { return FaultTarget{Meter: addr} }
	termT := FaultTarget{Terminal: term}

	t.Run("meter silent", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "silent"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "silent"})
		if got := gc.forward(t, term, read(plain), 6*time.Second); got == nil || len(got) != 0 {
			t.Errorf("forward to a silent meter = %X, want an empty forward", got)
		}
	})
	t.Run("meter slow", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "slow", Params: map[string]any{"delay": "300ms"}})
		defer del(FaultRequest{Target: meterT(plain), Fault: "slow"})
		start := time.Now()
		if got := gc.forward(t, term, read(plain), 5*time.Second); len(got) == 0 {
			t.Fatal("slow meter did not answer")
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("slow meter answered after %v, want at least 300ms", d)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "wrong_password"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "wrong_password"})
		reply := gc.forward(t, term, relayRequest(t, plain, dlt645.ActionAlarm, time.Now().Add(time.Hour)), 5*time.Second)
		if err := relayErr(reply); !errors.Is(err, dlt645.ErrPasswordRejected) {
			t.Errorf("err = %v, want ErrPasswordRejected", err)
		}
	})
	t.Run("guarantee on", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "guarantee_on"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "guarantee_on"})
		reply := gc.forward(t, term, relayRequest(t, plain, dlt645.ActionTrip, time.Now().Add(time.Hour)), 5*time.Second)
		if err := relayErr(reply); !errors.Is(err, dlt645.ErrGuaranteeActive) {
			t.Errorf("err = %v, want ErrGuaranteeActive", err)
		}
	})
	t.Run("clock skew", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "clock_skew"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "clock_skew"})
		reply := gc.forward(t, term, relayRequest(t, plain, dlt645.ActionTrip, time.Now().Add(time.Hour)), 5*time.Second)
		if err := relayErr(reply); !errors.Is(err, dlt645.ErrDeadlineInvalid) {
			t.Errorf("err = %v, want ErrDeadlineInvalid", err)
		}
	})
	t.Run("relay stuck", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "relay_stuck"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "relay_stuck"})
		reply := gc.forward(t, term, relayRequest(t, plain, dlt645.ActionTrip, time.Now().Add(time.Hour)), 5*time.Second)
		if err := relayErr(reply); err != nil {
			t.Fatalf("stuck relay rejected the trip: %v", err)
		}
		var v MeterView
		call(t, "GET", base+"/meters/"+plain, nil, &v)
		if v.Relay != "closed" || v.CommandState != "open" || v.Operations.Trip != 1 {
			t.Errorf("stuck meter state: relay %s command %s trips %d", v.Relay, v.CommandState, v.Operations.Trip)
		}
		_ = gc.forward(t, term, relayRequest(t, plain, dlt645.ActionClose, time.Now().Add(time.Hour)), 5*time.Second)
	})
	t.Run("bypass", func(t *testing.T) {
		put(FaultRequest{Target: meterT(plain), Fault: "bypass"})
		defer del(FaultRequest{Target: meterT(plain), Fault: "bypass"})
		reply := gc.forward(t, term, relayRequest(t, plain, dlt645.ActionTrip, time.Now().Add(time.Hour)), 5*time.Second)
		if err := relayErr(reply); err != nil {
			t.Fatal(err)
		}
		var v MeterView
		call(t, "GET", base+"/meters/"+plain, nil, &v)
		if v.Relay != "open" || v.PowerKW <= 0 {
			t.Errorf("bypassed meter: relay %s power %v kW, want open with power", v.Relay, v.PowerKW)
		}
		_ = gc.forward(t, term, relayRequest(t, plain, dlt645.ActionClose, time.Now().Add(time.Hour)), 5*time.Second)
	})
	t.Run("security failure", func(t *testing.T) {
		put(FaultRequest{Target: meterT(cost), Fault: "security_failure"})
		defer del(FaultRequest{Target: meterT(cost), Fault: "security_failure"})
		master := secdouble.NewMaster([]byte(DefaultSecret))
		a, _ := protocol.ParseMeterAddress(cost)
		div, _ := dlt645.DispersionFactor(cost)
		req, err := dlt645.BuildIdentityAuthRequest(context.Background(), master, a, dlt645.OperatorCode{}, div)
		if err != nil {
			t.Fatal(err)
		}
		reply := gc.forward(t, term, req, 5*time.Second)
		fr, err := dlt645.Decode(reply)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dlt645.ParseIdentityAuthReply(fr, div); !errors.Is(err, dlt645.ErrSecurity) {
			t.Errorf("err = %v, want ErrSecurity", err)
		}
	})
	t.Run("carrier loss", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "carrier_loss"})
		defer del(FaultRequest{Target: termT, Fault: "carrier_loss"})
		if got := gc.forward(t, term, read(plain), 6*time.Second); got == nil || len(got) != 0 {
			t.Errorf("forward under carrier loss = %X, want an empty forward", got)
		}
	})
	t.Run("terminal silent", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "silent"})
		defer del(FaultRequest{Target: termT, Fault: "silent"})
		if got := gc.forward(t, term, read(plain), time.Second); got != nil {
			t.Errorf("silent terminal answered: %X", got)
		}
		if gc.next(gw376.AFNLink, gw376.FnHeartbeat, time.Second) == nil {
			t.Error("silent terminal stopped its heartbeats too")
		}
	})
	t.Run("heartbeat stop", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "heartbeat_stop"})
		drain(gc)
		if hb := gc.next(gw376.AFNLink, gw376.FnHeartbeat, 700*time.Millisecond); hb != nil {
			t.Error("heartbeat sent under heartbeat_stop")
		}
		if got := gc.forward(t, term, read(plain), 500*time.Millisecond); got != nil {
			t.Error("terminal answered under heartbeat_stop")
		}
		del(FaultRequest{Target: termT, Fault: "heartbeat_stop"})
		if gc.next(gw376.AFNLink, gw376.FnHeartbeat, 2*time.Second) == nil {
			t.Error("heartbeats did not resume")
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "corrupt", Params: map[string]any{"rate": 1.0}})
		drain(gc)
		gc.mu.Lock()
		before := gc.rawBytes
		gc.mu.Unlock()
		if hb := gc.next(gw376.AFNLink, gw376.FnHeartbeat, 700*time.Millisecond); hb != nil {
			t.Error("a valid heartbeat came through corrupt rate 1.0")
		}
		gc.mu.Lock()
		after := gc.rawBytes
		gc.mu.Unlock()
		if after == before {
			t.Error("no bytes at all under corrupt; want corrupted frames")
		}
		del(FaultRequest{Target: termT, Fault: "corrupt"})
	})
	t.Run("half open", func(t *testing.T) {
		// The corrupt heartbeats went unconfirmed, so the terminal may have reconnected.
		gc = currentConn(t, g, gc)
		put(FaultRequest{Target: termT, Fault: "half_open"})
		drain(gc)
		if f := gc.next(0xFF, 0, 700*time.Millisecond); f != nil {
			t.Errorf("frame under half_open: AFN %02X", f.AFN)
		}
		gc.mu.Lock()
		closed := gc.closed
		gc.mu.Unlock()
		if closed {
			t.Error("half-open socket was closed")
		}
		del(FaultRequest{Target: termT, Fault: "half_open"})
	})
	t.Run("duplicate login", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "duplicate_login"})
		defer del(FaultRequest{Target: termT, Fault: "duplicate_login"})
		nc := g.wait(t, 3*time.Second)
		if nc == nil || nc.next(gw376.AFNLink, gw376.FnLogin, 2*time.Second) == nil {
			t.Fatal("no second login")
		}
		gc.mu.Lock()
		closed := gc.closed
		gc.mu.Unlock()
		if closed {
			t.Error("the first connection was closed by the terminal; want it left open")
		}
		gc = nc
	})
	t.Run("flapping", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "flapping"})
		logins := 0
		deadline := time.Now().Add(9 * time.Second)
		for logins < 2 && time.Now().Before(deadline) {
			if nc := g.wait(t, time.Until(deadline)); nc != nil && nc.next(gw376.AFNLink, gw376.FnLogin, 2*time.Second) != nil {
				logins++
			}
		}
		if logins < 2 {
			t.Errorf("logins while flapping = %d, want at least 2", logins)
		}
		del(FaultRequest{Target: termT, Fault: "flapping"})
	})
	t.Run("offline", func(t *testing.T) {
		put(FaultRequest{Target: termT, Fault: "offline"})
		waitFor(t, func() bool { return !f.terminals[0].State().Connected })
		if nc := g.wait(t, 1500*time.Millisecond); nc != nil {
			t.Error("offline terminal reconnected")
		}
		del(FaultRequest{Target: termT, Fault: "offline"})
		if nc := g.wait(t, 5*time.Second); nc == nil {
			t.Error("terminal did not come back after offline cleared")
		}
	})
	t.Run("unknown fault", func(t *testing.T) {
		if code := call(t, "PUT", base+"/faults", FaultRequest{Target: termT, Fault: "melted"}, nil); code != 400 {
			t.Errorf("status %d, want 400", code)
		}
		if code := call(t, "PUT", base+"/faults", FaultRequest{Target: meterT("999999999998"), Fault: "silent"}, nil); code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	})
}

func drain(gc *gwConn) {
	for {
		select {
		case _, ok := <-gc.frames:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// currentConn returns the newest connection, waiting briefly for a reconnect.
func currentConn(t *testing.T, g *testGateway, gc *gwConn) *gwConn {
	if nc := g.wait(t, 1500*time.Millisecond); nc != nil {
		return currentConn(t, g, nc)
	}
	return gc
}
