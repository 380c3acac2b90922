package node_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
	"github.com/feegate/feegate/simulator/terminal"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProcess starts the feegate binary's serve subcommand and waits for /healthz.
func serveProcess(t *testing.T, bin, dir, apiAddr, termAddr string) *exec.Cmd {
	t.Helper()
	cfg := filepath.Join(dir, "feegate.yaml")
	os.WriteFile(cfg, []byte("engine:\n  verify_interval: 200ms\n  verify_window: 5s\n"+
		"  default_deadline: 2m\nforward_timeout: 3s\nforward_control_timeout: 3s\n"), 0o600)
	cmd := exec.Command(bin, "serve", "--config", cfg, "--api-listen", apiAddr,
		"--terminal-listen", termAddr, "--store", filepath.Join(dir, "feegate.db"))
	cmd.Env = append(os.Environ(), "FEEGATE_TOKEN="+token)
	logf, _ := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY,
		0o600)
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + apiAddr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("feegate serve did not come up")
	return nil
}

// TestCrashRecoveryNeverTripsTwice builds the binary and kills `feegate serve` with
// SIGKILL while a batch of trips is being sent. After a restart on the same store, the
// simulator's operation counts must show no meter that accepted a trip twice, and every
// command must reach a final state. -short skips it, since it builds the binary.
func TestCrashRecoveryNeverTripsTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and restarts it; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "feegate")
	build := exec.Command("go", "build", "-o", bin, "github.com/feegate/feegate/cmd/feegate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	apiAddr, termAddr := freeAddr(t), freeAddr(t)
	proc := serveProcess(t, bin, dir, apiAddr, termAddr)
	defer func() {
		if proc != nil {
			proc.Process.Signal(syscall.SIGTERM)
			proc.Wait()
		}
	}()
	fleet, err := simulator.New(simulator.Options{Gateway: termAddr, Terminals: 6,
		MetersPerTerminal: 8, Control: "-", Seed: 11, Heartbeat: 2 * time.Second,
		Latency: terminal.Range{Min: 150 * time.Millisecond, Max: 250 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	e := &e2e{fleet: fleet, api: "http://" + apiAddr, arch: fleet.Archive()}
	data, _ := json.Marshal(e.arch)
	if code, body := e.do(t, "PUT", "/v1/archive", string(data)); code != 200 {
		t.Fatalf("archive: %d %s", code, body)
	}
	e.waitOnline(t, 6)
	var meters []string
	for _, m := range e.arch.Meters {
		if m.Protocol == archive.ProtocolDLT645v2007 {
			meters = append(meters, m.Address)
		}
	}
	body, _ := json.Marshal(map[string]any{"action": "trip", "meters": meters})
	code, resp := e.do(t, "POST", "/v1/batches", string(body))
	if code != 202 {
		t.Fatalf("batch: %d %s", code, resp)
	}
	var b gateway.Batch
	json.Unmarshal([]byte(resp), &b)

	// Kill the gateway once some commands are sending (the counts are read from memory, so
	// the store may lag them by one transaction) and some have finished.
	for i := 0; ; i++ {
		_, resp = e.do(t, "GET", "/v1/batches/"+b.ID, "")
		json.Unmarshal([]byte(resp), &b)
		if b.Counts[gateway.StateSending] > 0 && b.Counts[gateway.StateSucceeded] > 0 {
			break
		}
		if i > 2000 {
			t.Fatalf("batch never had commands sending: %v", b.Counts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	t.Logf("killed with counts %v", b.Counts)

	proc = serveProcess(t, bin, dir, apiAddr, termAddr)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, resp = e.do(t, "GET", "/v1/batches/"+b.ID, "")
		json.Unmarshal([]byte(resp), &b)
		if b.Counts[gateway.StateQueued]+b.Counts[gateway.StateSending]+
			b.Counts[gateway.StateVerifying] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch did not finish after the restart: %v", b.Counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after restart: %v", b.Counts)
	for _, addr := range meters {
		m, _ := fleet.Meter(addr)
		st := m.State(time.Now())
		if st.Operations.Trip > 1 {
			t.Errorf("meter %s accepted %d trips", addr, st.Operations.Trip)
		}
	}
	if b.Counts[gateway.StateSucceeded] != len(meters) {
		t.Errorf("succeeded %d of %d: %v", b.Counts[gateway.StateSucceeded], len(meters),
			b.Counts)
	}
}
