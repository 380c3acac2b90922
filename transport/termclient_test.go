package transport

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// termClient is a minimal simulated terminal over loopback, built on the gw376 codec.
type termClient struct {
	t      *testing.T
	conn   net.Conn
	addr   protocol.TerminalAddress
	pseq   uint8
	framer *protocol.Framer
	buf    []byte
}

func mustAddr(t *testing.T, s string) protocol.TerminalAddress {
	t.Helper()
	a, err := protocol.ParseTerminalAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func dialTerminal(t *testing.T, srv *Server, addr string) *termClient {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &termClient{t: t, conn: conn, addr: mustAddr(t, addr),
		framer: protocol.NewFramer(gw376.Spec, 1<<16), buf: make([]byte, 4096)}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *termClient) write(f gw376.Frame) []byte {
	c.t.Helper()
	b, err := gw376.Encode(&f)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("terminal write: %v", err)
	}
	return b
}

func (c *termClient) nextPSEQ() uint8 {
	p := c.pseq
	c.pseq = (c.pseq + 1) & 0x0F
	return p
}

// recv returns the next frame from the server, or nil and the read error (io.EOF when the
// server closed the connection, a timeout error when nothing came within d).
func (c *termClient) recv(d time.Duration) (*gw376.Frame, error) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if r := c.framer.Next(false); r.Frame != nil {
			f, err := gw376.Decode(r.Frame)
			if err != nil {
				c.t.Fatalf("server sent an undecodable frame % X: %v", r.Frame, err)
			}
			return f, nil
		}
		_ = c.conn.SetReadDeadline(deadline)
		n, err := c.conn.Read(c.buf)
		if n > 0 {
			c.framer.Write(c.buf[:n])
			continue
		}
		if err != nil {
			return nil, err
		}
	}
}

func (c *termClient) mustRecv() *gw376.Frame {
	c.t.Helper()
	f, err := c.recv(3 * time.Second)
	if err != nil {
		c.t.Fatalf("terminal %s: no frame from the server: %v", c.addr, err)
	}
	return f
}

// expectClosed waits up to three seconds until the server closes the connection.
func (c *termClient) expectClosed() {
	c.t.Helper()
	c.expectClosedWithin(3 * time.Second)
}

// expectClosedWithin waits up to d until the server closes the connection.
func (c *termClient) expectClosedWithin(d time.Duration) {
	c.t.Helper()
	for {
		_, err := c.recv(d)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.t.Fatalf("terminal %s: connection still open", c.addr)
		}
		return
	}
}

// login sends AFN02 F1 and checks the confirmation.
func (c *termClient) login() {
	c.t.Helper()
	req := gw376.Login(c.addr, c.nextPSEQ())
	c.write(req)
	checkConfirm(c.t, c.mustRecv(), &req)
}

func (c *termClient) heartbeat() {
	c.t.Helper()
	req := gw376.Heartbeat(c.addr, c.nextPSEQ(), nil)
	c.write(req)
	checkConfirm(c.t, c.mustRecv(), &req)
}

// checkConfirm checks that ans is the master's AFN00 confirmation of req: MSA 0, RSEQ equal
// to the request's PSEQ, single frame, downlink.
func checkConfirm(t *testing.T, ans, req *gw376.Frame) {
	t.Helper()
	if ans.AFN != gw376.AFNConfirm {
		t.Fatalf("confirmation AFN %02X, want 00", ans.AFN)
	}
	if ans.Control.Up {
		t.Errorf("confirmation has DIR=1")
	}
	if ans.A3.MSA != 0 {
		t.Errorf("confirmation MSA %d, want 0", ans.A3.MSA)
	}
	if ans.Seq.Num != req.Seq.Num {
		t.Errorf("confirmation RSEQ %d, want the request's PSEQ %d", ans.Seq.Num, req.Seq.Num)
	}
	if !ans.Seq.FIR || !ans.Seq.FIN || ans.Seq.CON {
		t.Errorf("confirmation SEQ %+v, want a single frame without CON", ans.Seq)
	}
	if ans.Address != req.Address {
		t.Errorf("confirmation address %s, want %s", ans.Address, req.Address)
	}
}

// startServer starts a server on a loopback port with cfg's settings and its own metric
// registry; it closes the server when the test ends.
func startServer(t *testing.T, cfg ServerConfig) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Address = "127.0.0.1:0"
	cfg.Metrics = m
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 2
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 20 * time.Millisecond
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("server close: %v", err)
		}
	})
	return srv, reg
}

// waitFor polls cond until it holds or two seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextEvent returns the next event of kind from ch, skipping others, within two seconds.
func nextEvent(t *testing.T, ch <-chan Event, kind EventKind) Event {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %v", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event", kind)
		}
	}
}

type protocolAddr = protocol.TerminalAddress

// metricValue returns the value of a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("metric %v is neither a counter nor a gauge", c.Desc())
	return 0
}

// gatherCount returns the number of series of the metric family name in reg.
func gatherCount(reg *prometheus.Registry, name string) (int, error) {
	families, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric()), nil
		}
	}
	return 0, nil
}
