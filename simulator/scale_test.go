//go:build scale

package simulator

// The scale measurement: one process simulates TERMINALS terminals with METERS meters each
// against a small test listener in a child process on loopback. It measures memory after
// building the devices (per meter) and again once every terminal has logged in, sent a
// heartbeat and had every meter read through AFN10 F1 (per terminal connection).
//
//	go test -tags scale -run '^TestScale$' -v -timeout 30m ./simulator/
//
// FEEGATE_SCALE_TERMINALS and FEEGATE_SCALE_METERS override the 10,000 × 20 default.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/terminal"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// rssBytes returns the resident set size of this process from /proc/self/status.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

type memPoint struct {
	rss, heap, stack int64
}

func measure(t *testing.T) memPoint {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memPoint{rss: rssBytes(t), heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse)}
}

func TestScale(t *testing.T) {
	terminals := envInt("FEEGATE_SCALE_TERMINALS", 10000)
	meters := envInt("FEEGATE_SCALE_METERS", 20)

	// The listener runs in a child process so that its memory is not counted.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^TestScaleListener$")
	child.Env = append(os.Environ(), "FEEGATE_SCALE_LISTENER=1",
		"FEEGATE_SCALE_METERS="+strconv.Itoa(meters))
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(strings.TrimPrefix(addr, "LISTEN "))

	before := measure(t)
	start := time.Now()
	fleet, err := New(Options{
		Gateway: addr, Terminals: terminals, MetersPerTerminal: meters, Control: "-",
		Heartbeat: 30 * time.Second, SourceIPs: 8, Seed: 1,
		Latency:    terminal.Range{Min: time.Millisecond, Max: 2 * time.Millisecond},
		MeterDelay: terminal.Range{Min: 20 * time.Millisecond, Max: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	built := measure(t)
	t.Logf("built %d terminals × %d meters in %v", terminals, meters, time.Since(start))

	if err := fleet.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()

	// Wait until every terminal is logged in, has had every meter read and has sent at
	// least one heartbeat (the listener counts heartbeats per terminal, so wait out one
	// heartbeat period with jitter after the last login).
	deadline := time.Now().Add(20 * time.Minute)
	for {
		logged, readAll := 0, 0
		for _, term := range fleet.Terminals() {
			st := term.State()
			if st.LoggedIn {
				logged++
			}
			if st.Forwarding.Forwards >= int64(meters) {
				readAll++
			}
		}
		if logged == terminals && readAll == terminals {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 min: %d logged in, %d fully read of %d", logged, readAll, terminals)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("all logged in and read after %v", time.Since(start))
	time.Sleep(40 * time.Second) // one heartbeat period (30 s, +20 % jitter) for every terminal
	after := measure(t)

	m := float64(terminals * meters)
	n := float64(terminals)
	t.Logf("RSS before %d, built %d, running %d bytes", before.rss, built.rss, after.rss)
	t.Logf("heap+stack before %d, built %d, running %d bytes",
		before.heap+before.stack, built.heap+built.stack, after.heap+after.stack)
	t.Logf("per meter (devices built, no connection): RSS %.0f B, heap+stack %.0f B",
		float64(built.rss-before.rss)/m, float64(built.heap+built.stack-before.heap-before.stack)/m)
	t.Logf("per terminal connection (running minus built): RSS %.0f B, heap+stack %.0f B",
		float64(after.rss-built.rss)/n, float64(after.heap+after.stack-built.heap-built.stack)/n)
	t.Logf("whole fleet: RSS %.0f B per meter, %.0f B per terminal (all memory / count)",
		float64(after.rss-before.rss)/m, float64(after.rss-before.rss)/n)
	tot := fleet.Totals()
	t.Logf("forwards %d, mean latency %.1f ms, meter %.1f ms, bytes %.1f ms, total %.1f ms",
		tot.Forwards, tot.MeanLatencyMs, tot.MeanMeterMs, tot.MeanBytesMs, tot.MeanTotalMs)
}

// TestScaleListener is the small test listener of TestScale, run in a child process: it
// confirms logins and heartbeats and reads every meter once through AFN10 F1.
func TestScaleListener(t *testing.T) {
	if os.Getenv("FEEGATE_SCALE_LISTENER") == "" {
		t.Skip("run by TestScale")
	}
	meters := envInt("FEEGATE_SCALE_METERS", 20)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	var beats, reads atomic.Int64
	go func() {
		for range time.Tick(10 * time.Second) {
			fmt.Fprintf(os.Stderr, "listener: heartbeats %d, reads %d\n", beats.Load(), reads.Load())
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serveScaleConn(c, meters, &beats, &reads)
	}
}

func serveScaleConn(c net.Conn, meters int, beats, reads *atomic.Int64) {
	defer c.Close()
	replies := make(chan struct{}, 1)
	framer := protocol.NewFramer(gw376.Spec, 1<<16)
	buf := make([]byte, 2048)
	var f gw376.Frame
	for {
		n, err := c.Read(buf)
		framer.Write(buf[:n])
		for {
			r := framer.Next(false)
			if r.Frame == nil {
				break
			}
			if gw376.DecodeInto(&f, r.Frame) != nil {
				continue
			}
			switch {
			case f.AFN == gw376.AFNLink:
				ack := gw376.ConfirmAll(&f)
				b, _ := gw376.Encode(&ack)
				_, _ = c.Write(b)
				var fns [8]uint8
				got, _ := gw376.IDFromWire(f.Data).DT.AppendFns(fns[:0])
				if len(got) == 1 && got[0] == gw376.FnHeartbeat {
					beats.Add(1)
				}
				if len(got) == 1 && got[0] == gw376.FnLogin {
					go readAll(c, f.Address, meters, replies, reads)
				}
			case f.AFN == gw376.AFNForward:
				select {
				case replies <- struct{}{}:
				default:
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// readAll reads energy from every meter of the terminal, one forward at a time.
func readAll(c net.Conn, term protocol.TerminalAddress, meters int, replies chan struct{}, reads *atomic.Int64) {
	for p := 1; p <= meters; p++ {
		addr := meterAddress(1, int(term.A2), p)
		req := dlt645.NewReadRequest(addr, 0x00010000)
		if mixOf(p-1) == mix1997 {
			req = dlt645.NewReadRequest97(addr, 0x9010)
		}
		wire, _ := dlt645.Encode(req)
		id, _ := gw376.IDFor(0, 1)
		port := byte(31)
		if mixOf(p-1) == mix1997 {
			port = 2
		}
		data := append(id.Append(nil), port, 0x6B, 0x82, 0x0A, byte(len(wire)), 0)
		data = append(data, wire...)
		f, _ := gw376.NewRequest(term, 1, gw376.AFNForward, uint8(p&0x0F), data)
		b, _ := gw376.Encode(&f)
		if _, err := c.Write(b); err != nil {
			return
		}
		select {
		case <-replies:
			reads.Add(1)
		case <-time.After(30 * time.Second):
			return
		}
	}
}
