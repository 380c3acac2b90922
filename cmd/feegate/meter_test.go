package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
)

// fakeMeter is one 2007 meter of fakeBus: its relay, guarantee and password.
type fakeMeter struct {
	addr      protocol.MeterAddress
	password  dlt645.Password
	energy    string
	relayOpen bool
	guarantee bool
	// garbage makes the meter reply with bytes that form no frame, as a meter at another
	// baud rate or parity appears.
	garbage bool
	// relayDelay is how long the meter takes to reply to a relay command, as a meter busy
	// with ESAM operations does. relayMute makes it act on the command and never reply.
	relayDelay time.Duration
	relayMute  bool
	// relayStatus, when not 0, is the execution status word sent with relay replies.
	relayStatus uint16
}

// fakeBus plays DL/T 645-2007 meters on the far side of a pty or a TCP connection.
type fakeBus struct {
	t      *testing.T
	mu     sync.Mutex
	meters []*fakeMeter
	relays int // relay-control requests received
	wg     sync.WaitGroup
}

func (b *fakeBus) serve(rw io.ReadWriter) {
	defer b.wg.Done()
	fr := dlt645.NewFramer(1024, false)
	fr.Accept = dlt645.IsRequestFrame
	buf := make([]byte, 256)
	for {
		n, err := rw.Read(buf)
		fr.Write(buf[:n])
		for res := fr.Next(false); res.Frame != nil; res = fr.Next(false) {
			out, delay := b.handle(res.Frame)
			time.Sleep(delay)
			if out != nil {
				rw.Write(out)
			}
		}
		if err != nil {
			return
		}
	}
}

// handle returns the wire reply to one request, or nil when no meter replies, and how long
// to wait before sending it.
func (b *fakeBus) handle(raw []byte) ([]byte, time.Duration) {
	req, err := dlt645.Decode(raw)
	if err != nil {
		b.t.Errorf("fake bus: undecodable request % X: %v", raw, err)
		return nil, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var replies [][]byte
	for _, m := range b.meters {
		if req.Address.Matches(m.addr) && !m.garbage {
			out, _ := b.encodeReply(m, req)
			replies = append(replies, out)
		}
	}
	if len(replies) > 1 {
		// Several meters reply to a wildcard at once, so on RS-485 their bytes mix.
		return interleave(replies), 0
	}
	for _, m := range b.meters {
		if !req.Address.Matches(m.addr) {
			continue
		}
		if m.garbage {
			return []byte{0x68, 0x11, 0x22, 0xE3, 0x00, 0x7F, 0x68}, 0
		}
		reply := b.reply(m, req)
		var delay time.Duration
		if req.Control.Function() == dlt645.FuncRelayControl {
			if m.relayMute {
				return nil, 0
			}
			delay = m.relayDelay
		}
		out, err := dlt645.Encode(reply)
		if err != nil {
			b.t.Errorf("fake bus: encode reply: %v", err)
			return nil, 0
		}
		return out, delay
	}
	return nil, 0
}

// encodeReply returns the wire reply of meter m to req without acting on a relay command.
func (b *fakeBus) encodeReply(m *fakeMeter, req *dlt645.Frame) ([]byte, error) {
	if req.Control.Function() == dlt645.FuncRelayControl {
		return nil, nil
	}
	return dlt645.Encode(b.reply(m, req))
}

// interleave mixes the bytes of several replies, one byte of each in turn.
func interleave(replies [][]byte) []byte {
	var out []byte
	for i := 0; ; i++ {
		more := false
		for _, r := range replies {
			if i < len(r) {
				out = append(out, r[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

func (b *fakeBus) reply(m *fakeMeter, req *dlt645.Frame) *dlt645.Frame {
	switch req.Control.Function() {
	case dlt645.FuncReadAddress:
		wire := append([]byte(nil), m.addr[:]...)
		return dlt645.NewReply(m.addr, dlt645.FuncReadAddress, false, wire)
	case dlt645.FuncRead:
		di := dlt645.DI(uint32(req.Data[0]) | uint32(req.Data[1])<<8 | uint32(req.Data[2])<<16 |
			uint32(req.Data[3])<<24)
		var v any
		switch di {
		case 0x00010000:
			v = m.energy
		case 0x04000503:
			var raw uint16
			if m.relayOpen {
				raw |= dlt645.Word3RelayOpen | dlt645.Word3RelayCommand
			}
			if m.guarantee {
				raw |= dlt645.Word3Guarantee
			}
			v = dlt645.StatusWord{Word: 3, Raw: raw}
		default:
			return dlt645.NewErrorReply(m.addr, dlt645.FuncRead, 0x02, false)
		}
		f, err := dlt645.NewReadReply(m.addr, di, v)
		if err != nil {
			b.t.Errorf("fake bus: read reply: %v", err)
		}
		return f
	case dlt645.FuncRelayControl:
		b.relays++
		c, err := dlt645.ParseRelayRequest(req, nil)
		if err != nil {
			b.t.Errorf("fake bus: relay request: %v", err)
			return dlt645.NewErrorReply(m.addr, dlt645.FuncRelayControl, 0x01, true)
		}
		if c.Password != m.password {
			return dlt645.NewErrorReply(m.addr, dlt645.FuncRelayControl, 0x04, true)
		}
		switch c.Action {
		case dlt645.ActionTrip:
			if m.guarantee {
				return dlt645.NewErrorReply(m.addr, dlt645.FuncRelayControl, 0x20, true)
			}
			m.relayOpen = true
		case dlt645.ActionClose:
			m.relayOpen = false
		case dlt645.ActionGuarantee:
			m.guarantee = true
		case dlt645.ActionGuaranteeRelease:
			m.guarantee = false
		}
		var status []byte
		if m.relayStatus != 0 {
			status = []byte{byte(m.relayStatus), byte(m.relayStatus >> 8)}
		}
		return dlt645.NewReply(m.addr, dlt645.FuncRelayControl, false, status)
	}
	return dlt645.NewErrorReply(m.addr, req.Control.Function(), 0x01, false)
}

func newFakeMeter(t *testing.T, addr string) *fakeMeter {
	t.Helper()
	a, err := protocol.ParseMeterAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := dlt645.ParsePassword("123456")
	if err != nil {
		t.Fatal(err)
	}
	return &fakeMeter{addr: a, password: p, energy: "1234.56"}
}

// startPtyBus serves meters on a pty and returns the slave path for --port.
func startPtyBus(t *testing.T, meters ...*fakeMeter) (*fakeBus, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	b := &fakeBus{t: t, meters: meters}
	b.wg.Add(1)
	go b.serve(ptmx)
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		b.wg.Wait()
	})
	return b, tty.Name()
}

// startTCPBus serves meters on a loopback TCP port, as a serial server does.
func startTCPBus(t *testing.T, meters ...*fakeMeter) (*fakeBus, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBus{t: t, meters: meters}
	var conns []net.Conn
	var mu sync.Mutex
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			b.wg.Add(1)
			go b.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		b.wg.Wait()
	})
	return b, ln.Addr().String()
}

func decodeJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", out, err)
	}
	return m
}

func TestMeterReadOverPty(t *testing.T) {
	checkLeaks(t)
	_, port := startPtyBus(t, newFakeMeter(t, "000000000161"))
	out, err := runFeegate(t, "meter", "read", "--port", port, "--address", "000000000161",
		"--json")
	if err != nil {
		t.Fatalf("meter read: %v", err)
	}
	m := decodeJSON(t, out)
	if m["address"] != "000000000161" {
		t.Errorf("address = %v", m["address"])
	}
	readings, _ := m["readings"].(map[string]any)
	energy, _ := readings["energy_forward_total"].(map[string]any)
	if energy["value"] != 1234.56 {
		t.Errorf("energy value = %v, want 1234.56", energy["value"])
	}
	if energy["unit"] != "kWh" {
		t.Errorf("energy unit = %v, want kWh", energy["unit"])
	}

	// Items by API name and by data identifier.
	out, err = runFeegate(t, "meter", "read", "--port", port, "--address", "000000000161",
		"--item", "relay_state", "--item", "00010000", "--json")
	if err != nil {
		t.Fatalf("meter read by identifier: %v", err)
	}
	readings, _ = decodeJSON(t, out)["readings"].(map[string]any)
	word, _ := readings["status_word_3"].(map[string]any)
	if value, _ := word["value"].(map[string]any); value["relay"] != "closed" {
		t.Errorf("status word 3 = %v, want relay closed", word)
	}
	if _, ok := readings["energy_forward_total"]; !ok {
		t.Errorf("readings %v lack energy_forward_total read as 00010000", readings)
	}
}

func TestMeterTripAndCloseOverPty(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	bus, port := startPtyBus(t, meter)
	args := []string{"--port", port, "--address", "000000000161", "--password", "123456", "--json"}

	out, err := runFeegate(t, append([]string{"meter", "trip"}, args...)...)
	if err != nil {
		t.Fatalf("meter trip: %v", err)
	}
	m := decodeJSON(t, out)
	if m["outcome"] != "tripped" {
		t.Errorf("outcome = %v, want tripped", m["outcome"])
	}
	sw, _ := m["status_word_3"].(map[string]any)
	if sw["relay"] != "open" {
		t.Errorf("status word 3 relay = %v, want open", sw["relay"])
	}
	if strings.Contains(out, "123456") {
		t.Error("output contains the password")
	}

	out, err = runFeegate(t, append([]string{"meter", "close"}, args...)...)
	if err != nil {
		t.Fatalf("meter close: %v", err)
	}
	sw, _ = decodeJSON(t, out)["status_word_3"].(map[string]any)
	if sw["relay"] != "closed" {
		t.Errorf("after close relay = %v, want closed", sw["relay"])
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if bus.relays != 2 {
		t.Errorf("meter received %d relay commands, want 2", bus.relays)
	}
}

func TestMeterWrongPasswordNotRetried(t *testing.T) {
	checkLeaks(t)
	bus, port := startPtyBus(t, newFakeMeter(t, "000000000161"))
	t.Setenv("FEEGATE_METER_PASSWORD", "654321")
	_, err := runFeegate(t, "meter", "trip", "--port", port, "--address", "000000000161")
	if !errors.Is(err, dlt645.ErrPasswordRejected) {
		t.Fatalf("err = %v, want ErrPasswordRejected", err)
	}
	if !strings.Contains(err.Error(), "check --password") {
		t.Errorf("error %q does not say what to check", err)
	}
	if strings.Contains(err.Error(), "654321") {
		t.Error("error contains the password")
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if bus.relays != 1 {
		t.Errorf("meter received %d relay commands, want exactly 1", bus.relays)
	}
}

func TestMeterGuaranteeBlocksTrip(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.guarantee = true
	_, port := startPtyBus(t, meter)
	_, err := runFeegate(t, "meter", "trip", "--port", port, "--address", "000000000161",
		"--password", "123456")
	if !errors.Is(err, dlt645.ErrGuaranteeActive) {
		t.Fatalf("err = %v, want ErrGuaranteeActive", err)
	}
	if !strings.Contains(err.Error(), "guarantee-release") {
		t.Errorf("error %q does not name guarantee-release", err)
	}
}

func TestMeterTimeoutHint(t *testing.T) {
	checkLeaks(t)
	_, port := startPtyBus(t, newFakeMeter(t, "000000000161"))
	_, err := runFeegate(t, "meter", "status", "--port", port, "--address", "000000000999",
		"--timeout", "100ms")
	if err == nil || !strings.Contains(err.Error(), "check the wiring") {
		t.Fatalf("err = %v, want a hint to check the wiring and address", err)
	}
	if strings.Contains(err.Error(), "formed no valid frame") {
		t.Errorf("error %q blames the line setting for silence", err)
	}
}

func TestMeterGarbageHintsLineSetting(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.garbage = true
	_, port := startPtyBus(t, meter)
	_, err := runFeegate(t, "meter", "read", "--port", port, "--address", "000000000161",
		"--timeout", "100ms", "--inter-byte-timeout", "50ms")
	if err == nil || !strings.Contains(err.Error(), "formed no valid frame") {
		t.Fatalf("err = %v, want a hint about the line setting", err)
	}
	if !strings.Contains(err.Error(), "2400 8E1") {
		t.Errorf("error %q does not name 2400 8E1", err)
	}
}

func TestMeterScanOverPty(t *testing.T) {
	checkLeaks(t)
	_, port := startPtyBus(t, newFakeMeter(t, "000000000162"))

	out, err := runFeegate(t, "meter", "scan", "--port", port, "--json")
	if err != nil {
		t.Fatalf("wildcard scan: %v", err)
	}
	if got := decodeJSON(t, out)["address"]; got != "000000000162" {
		t.Errorf("wildcard scan found %v, want 000000000162", got)
	}

	out, err = runFeegate(t, "meter", "scan", "--port", port, "--json", "--timeout", "100ms",
		"--range", "000000000161-000000000163")
	if err != nil {
		t.Fatalf("range scan: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("range scan found %d meters, want 1:\n%s", len(lines), out)
	}
	if got := decodeJSON(t, lines[0])["address"]; got != "000000000162" {
		t.Errorf("range scan found %v, want 000000000162", got)
	}
}

func TestMeterStatusOverTCP(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.relayOpen = true
	_, addr := startTCPBus(t, meter)
	out, err := runFeegate(t, "meter", "status", "--tcp", addr, "--address", "000000000161")
	if err != nil {
		t.Fatalf("meter status: %v", err)
	}
	if !strings.Contains(out, "relay") || !strings.Contains(out, "open") {
		t.Errorf("status table lacks the open relay:\n%s", out)
	}
}

func TestMeterRejectsBadFlags(t *testing.T) {
	tcp := []string{"--tcp", "127.0.0.1:1", "--address", "000000000161"}
	cases := map[string][]string{
		"no line":     {"meter", "read", "--address", "000000000161"},
		"both lines":  append([]string{"meter", "read", "--port", "/dev/null"}, tcp...),
		"no address":  {"meter", "read", "--tcp", "127.0.0.1:1"},
		"bad address": {"meter", "read", "--tcp", "127.0.0.1:1", "--address", "12AB"},
		"1997 relay":  append([]string{"meter", "trip", "--edition", "1997"}, tcp...),
		"bad level": append([]string{"meter", "trip", "--password-level", "3", "--password",
			"000000"}, tcp...),
		"unknown item": append([]string{"meter", "read", "--item", "no_such_item"}, tcp...),
	}
	for name, args := range cases {
		if _, err := runFeegate(t, args...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMeterSlowRelayReplyWithinDefault(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.relayDelay = 1500 * time.Millisecond
	_, port := startPtyBus(t, meter)
	out, err := runFeegate(t, "meter", "trip", "--port", port, "--address", "000000000161",
		"--password", "123456", "--verify=false", "--json")
	if err != nil {
		t.Fatalf("trip with a reply after 1.5 s failed under the default timeout: %v", err)
	}
	if got := decodeJSON(t, out)["outcome"]; got != "tripped" {
		t.Errorf("outcome = %v, want tripped", got)
	}
}

func TestMeterRelayTimeoutSaysCheckStatus(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.relayMute = true
	bus, port := startPtyBus(t, meter)
	_, err := runFeegate(t, "meter", "trip", "--port", port, "--address", "000000000161",
		"--password", "123456", "--timeout", "200ms")
	if err == nil {
		t.Fatal("trip without a reply: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "may have") {
		t.Errorf("error %q does not say the meter may have acted", msg)
	}
	if !strings.Contains(msg, "feegate meter status") {
		t.Errorf("error %q does not name feegate meter status", msg)
	}
	if strings.Contains(msg, "check the wiring") {
		t.Errorf("error %q blames the wiring although the meter acted", msg)
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if !meter.relayOpen {
		t.Error("fake meter did not act on the trip")
	}
	if bus.relays != 1 {
		t.Errorf("meter received %d relay commands, want exactly 1", bus.relays)
	}
}

func TestMeterScanWildcardCollision(t *testing.T) {
	checkLeaks(t)
	_, port := startPtyBus(t, newFakeMeter(t, "000000000161"), newFakeMeter(t, "000000000162"))
	_, err := runFeegate(t, "meter", "scan", "--port", port, "--timeout", "200ms",
		"--inter-byte-timeout", "50ms")
	if err == nil {
		t.Fatal("wildcard scan of two meters: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "several meters answered at once") {
		t.Errorf("error %q does not say that several meters answered", msg)
	}
	if !strings.Contains(msg, "--addresses") || !strings.Contains(msg, "--range") {
		t.Errorf("error %q does not suggest --addresses or --range", msg)
	}
}

func TestScanStaleReplyFound(t *testing.T) {
	a := newFakeMeter(t, "000000000161")
	b := newFakeMeter(t, "000000000162")
	late, err := dlt645.Encode(dlt645.NewReply(a.addr, dlt645.FuncRelayControl, false, nil))
	if err != nil {
		t.Fatal(err)
	}
	f := staleReply(&transport.BusError{Kind: transport.ErrNoReply, Partial: late})
	if f == nil {
		t.Fatal("a late relay reply among the stray bytes was not found")
	}
	if f.Address != a.addr {
		t.Errorf("stale reply from %s, want %s", f.Address, a.addr)
	}

	bus := &fakeBus{t: t}
	req := dlt645.NewRequest(protocol.WildcardMeterAddress, dlt645.FuncReadAddress, nil)
	ra, _ := bus.encodeReply(a, req)
	rb, _ := bus.encodeReply(b, req)
	mixed := interleave([][]byte{ra, rb})
	if f := staleReply(&transport.BusError{Kind: transport.ErrNoReply, Partial: mixed}); f != nil {
		t.Errorf("colliding replies taken for a stale reply of %s", f.Address)
	}
}

func TestMeterTripExecutionStatusText(t *testing.T) {
	checkLeaks(t)
	meter := newFakeMeter(t, "000000000161")
	meter.relayStatus = 1<<2 | 1<<10 // direct_trip and alarm
	_, port := startPtyBus(t, meter)
	out, err := runFeegate(t, "meter", "trip", "--port", port, "--address", "000000000161",
		"--password", "123456")
	if err != nil {
		t.Fatalf("meter trip: %v", err)
	}
	if !strings.Contains(out, "direct_trip, alarm") {
		t.Errorf("execution status not listed by name:\n%s", out)
	}
	if strings.Contains(out, "[") {
		t.Errorf("output prints a Go slice:\n%s", out)
	}
	if !strings.Contains(out, "0x0050") {
		t.Errorf("status word 3 not shown as 0x0050:\n%s", out)
	}
}
