package node_test

import (
	"testing"
	"time"

	"github.com/feegate/feegate/api/node"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
)

// TestClockToleranceReachesPlan skews a simulated meter clock by 10 minutes. The meter
// ignores a broadcast time more than 5 minutes from its clock (DL/T 645-2007), so the
// skew stays. sync_time then fails under the default 10 s tolerance and succeeds under a
// 15-minute one set through node.Config.
func TestClockToleranceReachesPlan(t *testing.T) {
	for _, c := range []struct {
		tolerance time.Duration
		want      gateway.State
	}{{0, gateway.StateFailed}, {15 * time.Minute, gateway.StateSucceeded}} {
		t.Run(c.tolerance.String(), func(t *testing.T) {
			e := startWith(t, func(cfg *node.Config) { cfg.ClockTolerance = c.tolerance },
				1, 2, 0, 0)
			m := e.pickMeter(t, 0, behindTerminal("dlt645-2007", ""))
			e.fault(t, simulator.FaultTarget{Meter: m.Address}, "clock_skew",
				map[string]any{"offset": "10m"})
			got := e.run(t, cmdBody(meterTarget(m.Address), "sync_time"))
			if got.State != c.want {
				t.Fatalf("sync_time state %s reason %+v, want %s", got.State, got.Reason,
					c.want)
			}
			if c.want == gateway.StateFailed && got.Reason.Code != gateway.ReasonVerifyMismatch {
				t.Errorf("reason %s, want %s", got.Reason.Code, gateway.ReasonVerifyMismatch)
			}
		})
	}
}
