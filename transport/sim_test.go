package transport

import (
	"context"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
	simterminal "github.com/feegate/feegate/simulator/terminal"
)

// runSimTerminal runs one simulated terminal with a 2007 meter on port 31 against srv and
// stops it when the test ends.
func runSimTerminal(t *testing.T, srv *Server, addr string) (*simterminal.Terminal, *meter.Meter) {
	t.Helper()
	maddr, _ := protocol.ParseMeterAddress("000000000161")
	pw, _ := dlt645.ParsePassword("123456")
	m := meter.New(meter.Config{Address: maddr, Edition: dlt645.Edition2007, Password: pw,
		LoadKW: 1, InitialKWh: 50, Start: time.Now()})
	term := simterminal.New(simterminal.Config{
		Address: mustAddr(t, addr), Gateway: srv.Addr().String(), Heartbeat: 200 * time.Millisecond,
		Latency:    simterminal.Range{Min: 5 * time.Millisecond, Max: 10 * time.Millisecond},
		MeterDelay: simterminal.Range{Min: 20 * time.Millisecond, Max: 20 * time.Millisecond},
		Backoff:    50 * time.Millisecond,
	}, []simterminal.Attached{{Point: 1, Port: 31, Meter: m}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { term.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return term, m
}

func TestSimTerminalForwardRead(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: 200 * time.Millisecond})
	term, m := runSimTerminal(t, srv, "44019001")
	waitFor(t, "simulated terminal online", func() bool { return srv.Online() == 1 })

	read, err := dlt645.Encode(dlt645.NewReadRequest(m.Address(), 0x04000503))
	if err != nil {
		t.Fatal(err)
	}
	fwd := gw376.DLT645Settings(31, 2400, 2*time.Second)
	fwd.Frame = read
	id, _ := gw376.IDFor(0, 1)
	data, err := fwd.Append(id.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	req, err := gw376.NewRequest(term.Address(), 1, gw376.AFNForward, 0, data)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Timeout(&req); got != 2*time.Second+srv.cfg.ForwardMargin {
		t.Errorf("forward timeout %v, want the frame timeout plus the margin", got)
	}
	resp, err := srv.Request(context.Background(), term.Address(), &req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Frames) != 1 || resp.Frames[0].AFN != gw376.AFNForward {
		t.Fatalf("response %+v", resp.Frames)
	}
	reply, err := gw376.ParseForwardReply(resp.Frames[0].Data[gw376.IDLen:])
	if err != nil {
		t.Fatal(err)
	}
	f, err := dlt645.Decode(reply.Frame)
	if err != nil {
		t.Fatalf("forwarded reply % X: %v", reply.Frame, err)
	}
	if f.Address != m.Address() || !f.Control.IsReply() || f.Control.IsAbnormal() {
		t.Fatalf("meter reply %+v", f)
	}

	// Heartbeats keep the terminal online past several offline windows.
	time.Sleep(800 * time.Millisecond)
	d, _ := srv.Terminal(term.Address())
	if !d.Online || d.Logins24h != 1 || len(d.Disconnects24h) != 0 {
		t.Fatalf("diagnostics after heartbeats: %+v", d)
	}
	if d.HeartbeatPeriodS != 0 {
		t.Errorf("learned heartbeat period %d s, want under a second", d.HeartbeatPeriodS)
	}
}

func TestSimTerminalDuplicateLogin(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, ServerConfig{HeartbeatPeriod: 200 * time.Millisecond})
	events, cancel := srv.Subscribe(64)
	defer cancel()
	term, _ := runSimTerminal(t, srv, "44019002")
	waitFor(t, "simulated terminal online", func() bool { return srv.Online() == 1 })
	nextEvent(t, events, EventOnline)
	if err := term.SetFault("duplicate_login", true, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a superseded session", func() bool {
		d, _ := srv.Terminal(term.Address())
		return d.Disconnects24h[ReasonSuperseded] >= 1
	})
	d, _ := srv.Terminal(term.Address())
	if !d.Online || d.Logins24h < 2 {
		t.Fatalf("diagnostics after a duplicate login: %+v", d)
	}
	select {
	case e := <-events:
		if e.Kind == EventOffline {
			t.Fatalf("duplicate login marked the terminal offline: %+v", e)
		}
	default:
	}
}
