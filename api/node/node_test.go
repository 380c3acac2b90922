package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/api/node"
	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
	"github.com/feegate/feegate/simulator/terminal"
	"github.com/feegate/feegate/transport"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// goburrow's Modbus TCP handler closes idle connections from a timer goroutine.
		goleak.IgnoreAnyFunction("github.com/goburrow/modbus.(*tcpTransporter).closeIdle"),
		// gnet starts a package-level worker pool at init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

const token = "e2e-token"

// e2e is a gateway node and a simulated fleet connected over loopback.
type e2e struct {
	node  *node.Node
	fleet *simulator.Fleet
	api   string
	arch  *archive.Archive
}

func start(t *testing.T, terminals, perTerminal, serial, modbus int) *e2e {
	t.Helper()
	return startLogged(t, nil, terminals, perTerminal, serial, modbus)
}

// startLogged starts a node that logs to log (nil for none) and a fleet connected to it.
func startLogged(t *testing.T, log *zap.Logger, terminals, perTerminal, serial,
	modbus int) *e2e {
	t.Helper()
	return startWith(t, func(cfg *node.Config) { cfg.Logger = log }, terminals, perTerminal,
		serial, modbus)
}

// startWith starts a node whose test configuration tune changes, and a fleet connected to
// it.
func startWith(t *testing.T, tune func(*node.Config), terminals, perTerminal, serial,
	modbus int) *e2e {
	t.Helper()
	cfg := node.Config{
		TerminalListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
		StorePath: filepath.Join(t.TempDir(), "feegate.db"), Tokens: []string{token},
		ForwardTimeout: 700 * time.Millisecond, ForwardControlTimeout: 700 * time.Millisecond,
		ShutdownTimeout: 2 * time.Second,
	}
	cfg.Engine = gateway.DefaultConfig()
	cfg.Engine.VerifyInterval = 50 * time.Millisecond
	cfg.Engine.VerifyWindow = 1500 * time.Millisecond
	// Simulated meter clocks run a little off, and a meter rejects a deadline its clock
	// has passed, so commands that queue behind slow faults need room.
	cfg.Engine.DefaultDeadline = 2 * time.Minute
	cfg.Engine.StartupGrace = -1 // the fault table expects terminal_offline at once
	cfg.Terminal = transport.ServerConfig{ForwardMargin: time.Second,
		RequestTimeout: time.Second, Attempts: 1, OfflineFactor: 3, EventLoops: 1,
		SweepInterval: 100 * time.Millisecond}
	tune(&cfg)
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fleet, err := simulator.New(simulator.Options{Gateway: n.TerminalAddr(),
		Terminals: terminals, MetersPerTerminal: perTerminal, Serial: serial, MetersPerBus: 2,
		Modbus: modbus, Latency: terminal.Range{Min: 5 * time.Millisecond,
			Max: 10 * time.Millisecond},
		MeterDelay: terminal.Range{Min: time.Millisecond, Max: 3 * time.Millisecond},
		Heartbeat:  time.Second, Control: "-", Seed: 7})
	if err != nil {
		n.Close(context.Background())
		t.Fatal(err)
	}
	if err := fleet.Start(context.Background()); err != nil {
		n.Close(context.Background())
		t.Fatal(err)
	}
	e := &e2e{node: n, fleet: fleet, api: "http://" + n.APIAddr(), arch: fleet.Archive()}
	t.Cleanup(func() {
		// The gateway goes first: it holds the slave side of the fleet's pty buses.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		n.Close(ctx)
		fleet.Close()
	})
	var buf bytes.Buffer
	if err := archive.EncodeJSON(&buf, e.arch); err != nil {
		t.Fatal(err)
	}
	if code, body := e.do(t, "PUT", "/v1/archive", buf.String()); code != 200 {
		t.Fatalf("archive import: %d %s", code, body)
	}
	e.waitOnline(t, terminals)
	return e
}

func (e *e2e) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.api+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (e *e2e) waitOnline(t *testing.T, n int) {
	t.Helper()
	for end := time.Now().Add(10*time.Second + time.Duration(n)*50*time.Millisecond); time.Now().Before(end); {
		online := 0
		cursor := ""
		for {
			_, body := e.do(t, "GET", "/v1/terminals?online=true&limit=1000&cursor="+cursor, "")
			var page struct {
				Items []gateway.TerminalInfo
				Next  *string
			}
			json.Unmarshal([]byte(body), &page)
			online += len(page.Items)
			if page.Next == nil {
				break
			}
			cursor = *page.Next
		}
		if online >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("terminals did not come online")
}

// submit posts a command and waits for its final state.
func (e *e2e) run(t *testing.T, body string) gateway.Command {
	t.Helper()
	code, resp := e.do(t, "POST", "/v1/commands", body)
	if code != http.StatusAccepted {
		t.Fatalf("submit %s: %d %s", body, code, resp)
	}
	var c gateway.Command
	json.Unmarshal([]byte(resp), &c)
	return e.wait(t, c.ID)
}

func (e *e2e) wait(t *testing.T, id string) gateway.Command {
	t.Helper()
	for i := 0; i < 1200; i++ {
		_, resp := e.do(t, "GET", "/v1/commands/"+id, "")
		var c gateway.Command
		if err := json.Unmarshal([]byte(resp), &c); err != nil {
			t.Fatalf("decode %s: %v", resp, err)
		}
		if c.State.Final() {
			return c
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("command %s did not finish", id)
	return gateway.Command{}
}

// pickMeter returns the first archive meter matching the predicate.
func (e *e2e) pickMeter(t *testing.T, skip int, match func(archive.Meter) bool) archive.Meter {
	t.Helper()
	for _, m := range e.arch.Meters {
		if match(m) {
			if skip == 0 {
				return m
			}
			skip--
		}
	}
	t.Fatalf("no meter in the fleet matches")
	return archive.Meter{}
}

func behindTerminal(protocol, kind string) func(archive.Meter) bool {
	return func(m archive.Meter) bool {
		return m.Route.Terminal != "" && m.Protocol == protocol && (kind == "" || m.Kind == kind)
	}
}

func cmdBody(target, action string) string {
	return `{"target": ` + target + `, "action": "` + action + `"}`
}

func meterTarget(addr string) string { return `{"meter": "` + addr + `"}` }

func (e *e2e) physical(t *testing.T, addr string) simulatorState {
	t.Helper()
	m, ok := e.fleet.Meter(addr)
	if !ok {
		t.Fatalf("meter %s not in the fleet", addr)
	}
	st := m.State(time.Now())
	return simulatorState{Relay: st.Relay, Trips: int(st.Operations.Trip)}
}

type simulatorState struct {
	Relay string
	Trips int
}

func TestEveryActionOnEveryRoute(t *testing.T) {
	e := start(t, 2, 8, 1, 1)
	cost := e.pickMeter(t, 0, behindTerminal(archive.ProtocolDLT645v2007,
		archive.KindCostControl))
	old := e.pickMeter(t, 0, behindTerminal(archive.ProtocolDLT645v1997, ""))
	bus := e.pickMeter(t, 0, func(m archive.Meter) bool {
		return m.Route.Bus != "" && m.Protocol == archive.ProtocolDLT645v2007
	})
	mb := e.pickMeter(t, 0, func(m archive.Meter) bool { return m.Route.Modbus != nil })
	cases := []struct {
		meter   archive.Meter
		action  string
		outcome string
		relay   string // physical relay afterwards, "" to skip
	}{
		{cost, "read", "read", ""},
		{cost, "ping", "reachable", ""},
		{cost, "sync_time", "time_synced", ""},
		{cost, "alarm", "alarm_on", ""},
		{cost, "alarm_release", "alarm_off", ""},
		{cost, "trip", "tripped", "open"},
		{cost, "allow_close", "close_allowed", "open"},
		{cost, "close", "closed", "closed"},
		{cost, "guarantee", "guarantee_on", ""},
		{cost, "guarantee_release", "guarantee_off", ""},
		{old, "read", "read", ""},
		{old, "ping", "reachable", ""},
		{bus, "trip", "tripped", "open"},
		{bus, "close", "closed", "closed"},
		{bus, "read", "read", ""},
		{mb, "trip", "tripped", "open"},
		{mb, "close", "closed", "closed"},
		{mb, "read", "read", ""},
		{mb, "ping", "reachable", ""},
	}
	for _, tc := range cases {
		c := e.run(t, cmdBody(meterTarget(tc.meter.Address), tc.action))
		name := fmt.Sprintf("%s %s (%s)", tc.action, tc.meter.Address, tc.meter.Route.Kind())
		if c.State != gateway.StateSucceeded {
			t.Errorf("%s: %s %+v", name, c.State, c.Reason)
			continue
		}
		if c.Result == nil || c.Result.Outcome != tc.outcome {
			t.Errorf("%s: result %+v, want %s", name, c.Result, tc.outcome)
		}
		if tc.relay != "" {
			if got := e.physical(t, tc.meter.Address).Relay; got != tc.relay {
				t.Errorf("%s: simulator relay %s, want %s", name, got, tc.relay)
			}
		}
		// A relay command on a DL/T 645 meter reports status word 3 in the same shape as a
		// read of the status_word_3 item: the raw word with its named bits.
		if tc.relay != "" && tc.meter.Protocol == archive.ProtocolDLT645v2007 {
			word, _ := c.Result.Readings["status_word_3"].Value.(map[string]any)
			if word["relay"] != tc.relay || word["raw"] == nil {
				t.Errorf("%s: status_word_3 reading %v, want an object with relay %s", name,
					c.Result.Readings["status_word_3"].Value, tc.relay)
			}
		}
	}
	all := `{"target": {"meter": "` + cost.Address + `"}, "action": "read", "items": [
		"energy_forward_total", "energy_forward_tariffs", "energy_reverse_total", "voltage",
		"current", "power", "frequency", "status_word_3", "relay_state", "balance", "clock",
		"trip_count", "last_trip", "last_close", "meter_number"]}`
	if c := e.run(t, all); c.State != gateway.StateSucceeded {
		t.Errorf("read of every item: %s %+v", c.State, c.Reason)
	} else if len(c.Result.Readings) != 15 {
		t.Errorf("read of every item gave %d readings: %v", len(c.Result.Readings),
			c.Result.Readings)
	}
	code, body := e.do(t, "POST", "/v1/commands", cmdBody(meterTarget(old.Address), "trip"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "unsupported_action") {
		t.Errorf("trip on a 1997 meter: %d %s, want 422 unsupported_action", code, body)
	}
}

func TestTerminalControlTurn(t *testing.T) {
	e := start(t, 4, 1, 0, 0)
	var term archive.Terminal
	for _, tt := range e.arch.Terminals {
		if tt.ControlTurns > 0 {
			term = tt
		}
	}
	if term.Address == "" {
		t.Skip("the fleet has no terminal with control turns")
	}
	target := `{"terminal": "` + term.Address + `", "turn": 1}`
	for _, step := range []struct{ action, outcome string }{
		{"trip", "tripped"}, {"allow_close", "close_allowed"}, {"guarantee", "guarantee_on"},
		{"guarantee_release", "guarantee_off"}, {"ping", "reachable"},
	} {
		c := e.run(t, cmdBody(target, step.action))
		if c.State != gateway.StateSucceeded || c.Result.Outcome != step.outcome {
			t.Errorf("%s on turn 1: %s %+v %+v", step.action, c.State, c.Reason, c.Result)
		}
	}
}
