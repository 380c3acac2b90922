package node_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
)

// meterAt returns the address of the meter at point (1-based) of terminal number ti.
func (e *e2e) meterAt(t *testing.T, ti, point int) archive.Meter {
	t.Helper()
	term := fmt.Sprintf("4401%04X", ti)
	for _, m := range e.arch.Meters {
		if m.Route.Terminal == term && m.Route.Point == point {
			return m
		}
	}
	t.Fatalf("no meter at point %d of %s", point, term)
	return archive.Meter{}
}

func (e *e2e) fault(t *testing.T, target simulator.FaultTarget, fault string,
	params map[string]any) {
	t.Helper()
	if err := e.fleet.SetFault(simulator.FaultRequest{Target: target, Fault: fault,
		Params: params}, true); err != nil {
		t.Fatalf("set fault %s: %v", fault, err)
	}
}

func (e *e2e) terminalInfo(t *testing.T, addr string) gateway.TerminalInfo {
	t.Helper()
	_, body := e.do(t, "GET", "/v1/terminals/"+addr, "")
	var info gateway.TerminalInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("terminal %s: %s", addr, body)
	}
	return info
}

// eventually polls cond every 50 ms until it holds or the timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// TestFaultTable runs one case per row of the simulator's fault table. Terminal faults
// each get their own terminal; meter faults sit on terminals 4 and 10. Points 1, 2, 3, 5
// and 6 are cost-control meters, 4 and 7 plain 2007 meters, 8 a 1997 meter.
func TestFaultTable(t *testing.T) {
	e := start(t, 10, 8, 0, 0)
	type row struct {
		name   string
		setup  func(t *testing.T)
		target archive.Meter
		action string
		state  gateway.State
		reason string
		check  func(t *testing.T, c gateway.Command)
	}
	term := func(ti int) simulator.FaultTarget {
		return simulator.FaultTarget{Terminal: fmt.Sprintf("4401%04X", ti)}
	}
	onMeter := func(m archive.Meter) simulator.FaultTarget {
		return simulator.FaultTarget{Meter: m.Address}
	}
	rows := []row{
		{name: "terminal offline", target: e.meterAt(t, 1, 1), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonTerminalOffline,
			setup: func(t *testing.T) {
				e.fault(t, term(1), "offline", nil)
				if !eventually(5*time.Second, func() bool {
					return !e.terminalInfo(t, "44010001").Online
				}) {
					t.Fatal("terminal 44010001 still online")
				}
			}},
		{name: "terminal silent", target: e.meterAt(t, 2, 1), action: "read",
			state: gateway.StateFailed, reason: gateway.ReasonTerminalTimeout,
			setup: func(t *testing.T) { e.fault(t, term(2), "silent", nil) }},
		{name: "carrier loss", target: e.meterAt(t, 3, 1), action: "read",
			state: gateway.StateFailed, reason: gateway.ReasonMeterTimeout,
			setup: func(t *testing.T) { e.fault(t, term(3), "carrier_loss", nil) }},
		{name: "half open", target: e.meterAt(t, 5, 1), action: "read",
			state: gateway.StateFailed, reason: gateway.ReasonTerminalTimeout,
			setup: func(t *testing.T) { e.fault(t, term(5), "half_open", nil) },
			check: func(t *testing.T, c gateway.Command) {
				if !eventually(10*time.Second, func() bool {
					return !e.terminalInfo(t, "44010005").Online
				}) {
					t.Error("half-open terminal still online after the heartbeat window")
				}
			}},
		// Whether the ping beats the heartbeat window depends on timing, so only the
		// disconnect reason is checked.
		{name: "heartbeat stop", target: e.meterAt(t, 6, 1), action: "ping",
			setup: func(t *testing.T) { e.fault(t, term(6), "heartbeat_stop", nil) },
			check: func(t *testing.T, c gateway.Command) {
				if !eventually(10*time.Second, func() bool {
					info := e.terminalInfo(t, "44010006")
					return !info.Online && info.LastDisconnect != nil &&
						info.LastDisconnect.Reason == "heartbeat_timeout"
				}) {
					t.Errorf("terminal without heartbeats: %+v, want offline with "+
						"heartbeat_timeout", e.terminalInfo(t, "44010006"))
				}
			}},
		{name: "duplicate login", target: e.meterAt(t, 7, 1), action: "trip",
			state: gateway.StateSucceeded,
			setup: func(t *testing.T) { e.fault(t, term(7), "duplicate_login", nil) },
			check: func(t *testing.T, c gateway.Command) {
				if !e.terminalInfo(t, "44010007").Online {
					t.Error("terminal with a duplicate login went offline")
				}
			}},
		{name: "corrupt frames", target: e.meterAt(t, 9, 1), action: "read",
			state: gateway.StateFailed, reason: gateway.ReasonTerminalTimeout,
			setup: func(t *testing.T) {
				e.fault(t, term(9), "corrupt", map[string]any{"rate": 1.0})
			}},
		{name: "meter silent", target: e.meterAt(t, 4, 1), action: "read",
			state: gateway.StateFailed, reason: gateway.ReasonMeterTimeout,
			setup: func(t *testing.T) { e.fault(t, onMeter(e.meterAt(t, 4, 1)), "silent", nil) }},
		{name: "meter slow", target: e.meterAt(t, 4, 2), action: "trip",
			state: gateway.StateSucceeded,
			setup: func(t *testing.T) {
				e.fault(t, onMeter(e.meterAt(t, 4, 2)), "slow", map[string]any{"delay": "200ms"})
			}},
		{name: "relay stuck", target: e.meterAt(t, 4, 3), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonVerifyMismatch,
			setup: func(t *testing.T) { e.fault(t, onMeter(e.meterAt(t, 4, 3)), "relay_stuck", nil) }},
		{name: "bypass", target: e.meterAt(t, 4, 5), action: "trip",
			state: gateway.StateSucceeded,
			setup: func(t *testing.T) { e.fault(t, onMeter(e.meterAt(t, 4, 5)), "bypass", nil) },
			check: func(t *testing.T, c gateway.Command) {
				if c.Result == nil || !c.Result.SuspectedBypass {
					t.Errorf("result %+v, want suspected_bypass", c.Result)
				}
			}},
		{name: "wrong password", target: e.meterAt(t, 4, 4), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonMeterPasswordRejected,
			setup: func(t *testing.T) {
				e.fault(t, onMeter(e.meterAt(t, 4, 4)), "wrong_password", nil)
			},
			check: func(t *testing.T, c gateway.Command) {
				if c.Attempts != 1 {
					t.Errorf("attempts %d, want 1: a rejected password is never retried",
						c.Attempts)
				}
			}},
		{name: "security failure", target: e.meterAt(t, 4, 6), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonSecurityFailed,
			setup: func(t *testing.T) {
				e.fault(t, onMeter(e.meterAt(t, 4, 6)), "security_failure", nil)
			}},
		{name: "guarantee on", target: e.meterAt(t, 10, 1), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonMeterGuaranteeActive,
			setup: func(t *testing.T) {
				e.fault(t, onMeter(e.meterAt(t, 10, 1)), "guarantee_on", nil)
			}},
		{name: "clock skew", target: e.meterAt(t, 10, 2), action: "trip",
			state: gateway.StateFailed, reason: gateway.ReasonMeterRejected,
			setup: func(t *testing.T) {
				e.fault(t, onMeter(e.meterAt(t, 10, 2)), "clock_skew",
					map[string]any{"offset": "48h"})
			}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			r.setup(t)
			c := e.run(t, cmdBody(meterTarget(r.target.Address), r.action))
			if r.state != "" && c.State != r.state {
				t.Fatalf("state %s reason %+v, want %s %s", c.State, c.Reason, r.state,
					r.reason)
			}
			if c.Reason != nil && c.Reason.Evidence != nil {
				t.Logf("evidence: %+v", *c.Reason.Evidence)
			}
			if r.reason != "" && (c.Reason == nil || c.Reason.Code != r.reason) {
				t.Fatalf("reason %+v (evidence %+v), want %s", c.Reason, c.Reason.Evidence, r.reason)
			}
			if c.Reason != nil && c.Reason.Evidence == nil {
				t.Errorf("reason %s carries no evidence", c.Reason.Code)
			}
			if r.check != nil {
				r.check(t, c)
			}
		})
	}
}

func TestFlappingTerminalIsFlagged(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for several reconnects")
	}
	e := start(t, 1, 1, 0, 0)
	e.fault(t, simulator.FaultTarget{Terminal: "44010001"}, "flapping", nil)
	if !eventually(20*time.Second, func() bool { return e.terminalInfo(t, "44010001").Flapping }) {
		t.Errorf("terminal %+v, want flapping", e.terminalInfo(t, "44010001"))
	}
}
