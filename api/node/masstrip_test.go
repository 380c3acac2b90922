package node_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/api/node"
	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
	"github.com/feegate/feegate/transport"
)

// TestMassTripAgainstPhysicalLimit trips 20,000 meters behind 1,000 simulated terminals in
// one verified batch and compares the time with the physical limit: the busiest terminal's
// forwards (frames needed per meter × meters) times the simulator's mean time per forward.
// It runs only with FEEGATE_MASS_TRIP=1, because it takes minutes on a small machine.
func TestMassTripAgainstPhysicalLimit(t *testing.T) {
	if os.Getenv("FEEGATE_MASS_TRIP") == "" {
		t.Skip("set FEEGATE_MASS_TRIP=1 to run the mass-trip measurement")
	}
	const terminals, perTerminal, wanted = 1000, 23, 20
	cfg := node.Config{TerminalListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
		StorePath: filepath.Join(t.TempDir(), "feegate.db"), Tokens: []string{token},
		ShutdownTimeout: 5 * time.Second}
	cfg.Engine = gateway.DefaultConfig()
	cfg.Engine.VerifyInterval = 200 * time.Millisecond
	cfg.Engine.DefaultDeadline = 30 * time.Minute
	cfg.Terminal = transport.ServerConfig{MaxQueued: 256}
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := simulator.New(simulator.Options{Gateway: n.TerminalAddr(),
		Terminals: terminals, MetersPerTerminal: perTerminal, Control: "-", Seed: 3,
		Heartbeat: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &e2e{node: n, fleet: fleet, api: "http://" + n.APIAddr(), arch: fleet.Archive()}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
		fleet.Close()
	}()
	data, _ := json.Marshal(e.arch)
	if code, body := e.do(t, "PUT", "/v1/archive", string(data)); code != 200 {
		t.Fatalf("archive: %d %s", code, body)
	}
	e.waitOnline(t, terminals)

	// The first 20 relay meters of every terminal; 1997 meters have no relay.
	perTerm := map[string]int{}
	framesPerTerm := map[string]int{}
	var meters []string
	for _, m := range e.arch.Meters {
		if m.Protocol != archive.ProtocolDLT645v2007 || perTerm[m.Route.Terminal] >= wanted {
			continue
		}
		perTerm[m.Route.Terminal]++
		meters = append(meters, m.Address)
		// Frames a verified trip needs: the control, then status word 3, energy and power;
		// a cost-control meter first authenticates (PA=98).
		frames := 4
		if m.Kind == archive.KindCostControl {
			frames = 5
		}
		framesPerTerm[m.Route.Terminal] += frames
	}
	busiest := 0
	for _, f := range framesPerTerm {
		busiest = max(busiest, f)
	}
	body, _ := json.Marshal(map[string]any{"action": "trip", "meters": meters})
	start := time.Now()
	code, resp := e.do(t, "POST", "/v1/batches", string(body))
	if code != 202 {
		t.Fatalf("batch: %d %s", code, resp[:min(len(resp), 300)])
	}
	var b gateway.Batch
	json.Unmarshal([]byte(resp), &b)
	for {
		_, resp = e.do(t, "GET", "/v1/batches/"+b.ID, "")
		json.Unmarshal([]byte(resp), &b)
		if b.Counts[gateway.StateQueued]+b.Counts[gateway.StateSending]+
			b.Counts[gateway.StateVerifying] == 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	elapsed := time.Since(start)
	totals := fleet.Totals()
	limit := time.Duration(float64(busiest) * totals.MeanTotalMs * float64(time.Millisecond))
	t.Logf("meters %d, terminals %d, counts %v", len(meters), terminals, b.Counts)
	t.Logf("elapsed %s; busiest terminal needs %d forwards; mean forward %.1f ms "+
		"(latency %.1f, meter %.1f, bytes %.1f); physical limit %s; ratio %.2f",
		elapsed.Round(time.Millisecond), busiest, totals.MeanTotalMs, totals.MeanLatencyMs,
		totals.MeanMeterMs, totals.MeanBytesMs, limit.Round(time.Millisecond),
		elapsed.Seconds()/limit.Seconds())
	if b.Counts[gateway.StateSucceeded] != len(meters) {
		t.Errorf("succeeded %d of %d", b.Counts[gateway.StateSucceeded], len(meters))
	}
	tripped := 0
	for _, addr := range meters {
		if m, ok := fleet.Meter(addr); ok && m.State(time.Now()).Relay == "open" {
			tripped++
		}
	}
	if tripped != len(meters) {
		t.Errorf("simulator shows %d of %d relays open", tripped, len(meters))
	}
}
