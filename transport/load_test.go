package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// The load benchmarks run the terminal side in a child process (this test binary started
// again with FEEGATE_LOADGEN set), because client and server sockets in one process would
// need two descriptors per terminal. They are skipped unless FEEGATE_LOAD=1, so that
// `make test` and `make bench` stay fast:
//
//	FEEGATE_LOAD=1 go test -run '^$' -bench Load -benchtime 1x ./transport/
const (
	envLoad        = "FEEGATE_LOAD"
	envLoadGen     = "FEEGATE_LOADGEN"      // mode of the child: idle, storm or heartbeat
	envLoadAddr    = "FEEGATE_LOADGEN_ADDR" // server address
	envLoadCount   = "FEEGATE_LOADGEN_N"    // connections
	envLoadSeconds = "FEEGATE_LOADGEN_SECONDS"
)

// loadTerminal returns the address of the i-th generated terminal.
func loadTerminal(i int) protocol.TerminalAddress {
	return protocol.TerminalAddress{A1: 4401 + uint16(i/60000), A2: uint16(i%60000 + 1)}
}

// sourceIP spreads client sockets over 127.0.0.2–127.0.0.201 so that no source address
// runs out of ephemeral ports.
func sourceIP(i int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%200))}
}

// runLoadGen is the child process: it logs in n terminals and then idles, storms or
// heartbeats as mode selects, printing "ready N" and "result ..." lines on stdout.
func runLoadGen(mode string) int {
	addr := os.Getenv(envLoadAddr)
	n, _ := strconv.Atoi(os.Getenv(envLoadCount))
	seconds, _ := strconv.ParseFloat(os.Getenv(envLoadSeconds), 64)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	conns := make([]net.Conn, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := loginOne(addr, i)
			if err != nil {
				if failed.Add(1) <= 3 {
					fmt.Fprintf(os.Stderr, "terminal %d: %v\n", i, err)
				}
				return
			}
			conns[i] = c
		}()
		if mode != "storm" && i%500 == 499 {
			time.Sleep(20 * time.Millisecond) // a gentle ramp outside the storm
		}
	}
	wg.Wait()
	fmt.Fprintf(out, "ready %d failed %d seconds %.3f\n", n-int(failed.Load()), failed.Load(),
		time.Since(start).Seconds())
	out.Flush()

	if mode == "heartbeat" {
		var total atomic.Int64
		stop := time.Now().Add(time.Duration(seconds * float64(time.Second)))
		hbStart := time.Now()
		for i, c := range conns {
			if c == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				total.Add(heartbeatLoop(c, loadTerminal(i), stop))
			}()
		}
		wg.Wait()
		fmt.Fprintf(out, "result heartbeats %d seconds %.3f\n", total.Load(),
			time.Since(hbStart).Seconds())
		out.Flush()
	}
	// Hold the connections until the parent closes stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	return 0
}

func loginOne(addr string, i int) (net.Conn, error) {
	d := net.Dialer{LocalAddr: sourceIP(i), Timeout: 60 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	login := gw376.Login(loadTerminal(i), 0)
	b, err := gw376.Encode(&login)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if err := readFrames(c, make([]byte, 64), 1); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("login confirmation: %w", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// readFrames reads until count whole 376.1 frames have arrived, using the L field only.
func readFrames(c net.Conn, buf []byte, count int) error {
	have := 0
	for count > 0 {
		n, err := c.Read(buf[have:])
		if err != nil {
			return err
		}
		have += n
		for have >= gw376.HeaderLen {
			total := int(uint16(buf[1])|uint16(buf[2])<<8)>>2 + gw376.Overhead
			if have < total {
				break
			}
			copy(buf, buf[total:have])
			have -= total
			count--
		}
	}
	return nil
}

// heartbeatLoop keeps one heartbeat in flight on c until stop and returns the number of
// confirmations received.
func heartbeatLoop(c net.Conn, addr protocol.TerminalAddress, stop time.Time) int64 {
	hb := gw376.Heartbeat(addr, 1, nil)
	b, err := gw376.Encode(&hb)
	if err != nil {
		return 0
	}
	buf := make([]byte, 64)
	var n int64
	for time.Now().Before(stop) {
		if _, err := c.Write(b); err != nil {
			return n
		}
		if err := readFrames(c, buf, 1); err != nil {
			return n
		}
		n++
	}
	return n
}

// loadChild starts the generator in a child process and returns its stdout lines and a
// function that ends it.
func loadChild(b *testing.B, mode string, addr net.Addr, n int, seconds float64) (
	*bufio.Scanner, func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envLoadGen+"="+mode, envLoadAddr+"="+addr.String(),
		envLoadCount+"="+strconv.Itoa(n), envLoadSeconds+"="+strconv.FormatFloat(seconds, 'f',
			-1, 64))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return bufio.NewScanner(stdout), func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
}

// loadServer starts a server for the load benchmarks: the default settings with long
// heartbeat windows and the confirmation style of most masters.
func loadServer(b *testing.B) *Server {
	b.Helper()
	if os.Getenv(envLoad) != "1" {
		b.Skip("set FEEGATE_LOAD=1 to run the load benchmarks")
	}
	srv, err := NewServer(ServerConfig{Address: "127.0.0.1:0", HeartbeatPeriod: time.Hour,
		LoginTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv
}

// rssBytes returns the resident set size of this process from /proc/self/status.
func rssBytes(b *testing.B) int64 {
	b.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Fatal("VmRSS missing from /proc/self/status")
	return 0
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

func waitOnline(b *testing.B, srv *Server, n int, limit time.Duration) time.Duration {
	b.Helper()
	start := time.Now()
	for srv.Online() < n {
		if time.Since(start) > limit {
			b.Fatalf("%d of %d terminals online after %v", srv.Online(), n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// BenchmarkLoadIdleMemory measures the server's memory per idle logged-in terminal:
// (RSS with n terminals − RSS before) / n.
func BenchmarkLoadIdleMemory(b *testing.B) {
	const n = 15000
	srv := loadServer(b)
	for range b.N {
		settle()
		before := rssBytes(b)
		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)

		lines, stop := loadChild(b, "idle", srv.Addr(), n, 0)
		if !lines.Scan() {
			b.Fatal("load generator ended before it was ready")
		}
		b.Log(lines.Text())
		waitOnline(b, srv, n, time.Minute)
		settle()
		after := rssBytes(b)
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		b.ReportMetric(float64(after-before)/n, "rss-B/terminal")
		b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/n, "heap-B/terminal")
		b.ReportMetric(float64(after)/(1<<20), "rss-MiB")
		stop()
		waitOnline0(b, srv)
	}
}

func waitOnline0(b *testing.B, srv *Server) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for srv.Online() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkLoadLoginStorm connects n terminals at once and reports the time until all are
// online and the number rejected.
func BenchmarkLoadLoginStorm(b *testing.B) {
	const n = 15000
	srv := loadServer(b)
	for range b.N {
		start := time.Now()
		lines, stop := loadChild(b, "storm", srv.Addr(), n, 0)
		if !lines.Scan() {
			b.Fatal("load generator ended before it was ready")
		}
		b.Log(lines.Text())
		waitOnline(b, srv, n, 2*time.Minute)
		b.ReportMetric(time.Since(start).Seconds(), "s-all-online")
		rejected := 0
		for _, d := range srv.Terminals() {
			rejected += d.Disconnects24h[ReasonRejected]
		}
		b.ReportMetric(float64(rejected), "rejected")
		stop()
		waitOnline0(b, srv)
	}
}

// BenchmarkLoadHeartbeats keeps one heartbeat in flight on each of n connections for a
// fixed time and reports confirmed heartbeats per second, generator included.
func BenchmarkLoadHeartbeats(b *testing.B) {
	const n = 10000
	const seconds = 10.0
	srv := loadServer(b)
	for range b.N {
		lines, stop := loadChild(b, "heartbeat", srv.Addr(), n, seconds)
		if !lines.Scan() {
			b.Fatal("load generator ended before it was ready")
		}
		b.Log(lines.Text())
		if !lines.Scan() {
			b.Fatal("load generator ended without a result")
		}
		res := strings.Fields(lines.Text())
		b.Log(lines.Text())
		if len(res) < 5 {
			b.Fatalf("bad result line %q", lines.Text())
		}
		count, _ := strconv.ParseFloat(res[2], 64)
		secs, _ := strconv.ParseFloat(res[4], 64)
		b.ReportMetric(count/secs, "heartbeats/s")
		stop()
		waitOnline0(b, srv)
	}
}
