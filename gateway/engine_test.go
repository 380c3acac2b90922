package gateway_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testArchive has one terminal with three 2007 meters (one protected), a 1997 meter, a bus
// meter, a link meter and a Modbus meter.
const testArchive = `{
 "terminals": [{"address": "44010001", "kind": "concentrator", "heartbeat_period_s": 60,
   "control_turns": 2}],
 "buses": [{"name": "bus1", "device": "/dev/null", "baud": 2400, "parity": "even"}],
 "links": [{"name": "link1", "address": "127.0.0.1:1"}],
 "modbus_models": [],
 "meters": [
  {"address": "000000000001", "protocol": "dlt645-2007", "kind": "cost_control",
   "password": {"level": 98, "value": ""},
   "route": {"terminal": "44010001", "point": 1, "port": 31}},
  {"address": "000000000002", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "123456"},
   "route": {"terminal": "44010001", "point": 2, "port": 31}},
  {"address": "000000000003", "protocol": "dlt645-2007", "kind": "plain", "protected": true,
   "password": {"level": 2, "value": "123456"},
   "route": {"terminal": "44010001", "point": 3, "port": 31}},
  {"address": "000000000004", "protocol": "dlt645-1997", "kind": "plain",
   "route": {"terminal": "44010001", "point": 4, "port": 2}},
  {"address": "000000000005", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "000000"}, "route": {"bus": "bus1"}},
  {"address": "000000000006", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "000000"}, "route": {"link": "link1"}},
  {"address": "000000000007", "protocol": "modbus", "kind": "plain",
   "route": {"modbus": {"endpoint": "127.0.0.1:502", "unit": 1, "model": "default"}}}
 ]}`

type fixture struct {
	engine *gateway.Engine
	store  *gateway.Store
	fake   *gatewaytest.Driver
	path   string
}

func fastConfig() gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.VerifyInterval = 5 * time.Millisecond
	cfg.VerifyWindow = 100 * time.Millisecond
	cfg.DefaultDeadline = 5 * time.Second
	cfg.StartupGrace = -1
	return cfg
}

func openEngine(t *testing.T, path string, cfg gateway.Config, fake *gatewaytest.Driver) *fixture {
	t.Helper()
	store, err := gateway.OpenStore(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	drivers := map[string]gateway.Driver{gateway.RouteTerminal: fake, gateway.RouteBus: fake,
		gateway.RouteLink: fake, gateway.RouteModbus: fake}
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store, Drivers: drivers})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	return &fixture{engine: e, store: store, fake: fake, path: path}
}

func (f *fixture) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.engine.Close(ctx); err != nil {
		t.Errorf("close engine: %v", err)
	}
	if err := f.store.Close(); err != nil {
		t.Errorf("close store: %v", err)
	}
}

func newFixture(t *testing.T, cfg gateway.Config) *fixture {
	t.Helper()
	f := openEngine(t, filepath.Join(t.TempDir(), "feegate.db"), cfg, gatewaytest.New())
	t.Cleanup(func() { f.close(t) })
	a, err := archive.DecodeJSON(strings.NewReader(testArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	return f
}

// wait polls a command until it is final.
func wait(t *testing.T, e *gateway.Engine, id string) *gateway.Command {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := e.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Final() {
			return c
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("command %s did not finish", id)
	return nil
}

func submit(t *testing.T, e *gateway.Engine, req gateway.Request) *gateway.Command {
	t.Helper()
	c, _, err := e.Submit(req)
	if err != nil {
		t.Fatalf("submit %+v: %v", req, err)
	}
	return c
}

func meter(addr string) gateway.Target { return gateway.Target{Meter: addr} }

func TestActionsSucceedOnEveryRoute(t *testing.T) {
	f := newFixture(t, fastConfig())
	cases := []struct {
		target  gateway.Target
		action  gateway.Action
		outcome string
	}{
		{meter("000000000001"), gateway.ActionTrip, "tripped"},
		{meter("000000000001"), gateway.ActionAllowClose, "close_allowed"},
		{meter("000000000002"), gateway.ActionTrip, "tripped"},
		{meter("000000000002"), gateway.ActionClose, "closed"},
		{meter("000000000002"), gateway.ActionAlarm, "alarm_on"},
		{meter("000000000002"), gateway.ActionAlarmRelease, "alarm_off"},
		{meter("000000000002"), gateway.ActionGuarantee, "guarantee_on"},
		{meter("000000000002"), gateway.ActionGuaranteeRelease, "guarantee_off"},
		{meter("000000000002"), gateway.ActionSyncTime, "time_synced"},
		{meter("000000000002"), gateway.ActionPing, "reachable"},
		{meter("000000000002"), gateway.ActionRead, "read"},
		{meter("000000000004"), gateway.ActionRead, "read"},
		{meter("000000000005"), gateway.ActionTrip, "tripped"},
		{meter("000000000006"), gateway.ActionTrip, "tripped"},
		{meter("000000000007"), gateway.ActionTrip, "tripped"},
		{meter("000000000007"), gateway.ActionClose, "closed"},
		{gateway.Target{Terminal: "44010001", Turn: 1}, gateway.ActionTrip, "tripped"},
		{gateway.Target{Terminal: "44010001", Turn: 1}, gateway.ActionAllowClose,
			"close_allowed"},
		{gateway.Target{Terminal: "44010001"}, gateway.ActionGuarantee, "guarantee_on"},
	}
	for _, tc := range cases {
		c := submit(t, f.engine, gateway.Request{Target: tc.target, Action: tc.action})
		c = wait(t, f.engine, c.ID)
		if c.State != gateway.StateSucceeded {
			t.Errorf("%+v %s: state %s reason %+v", tc.target, tc.action, c.State, c.Reason)
			continue
		}
		if c.Result == nil || c.Result.Outcome != tc.outcome {
			t.Errorf("%+v %s: result %+v, want outcome %s", tc.target, tc.action, c.Result,
				tc.outcome)
		}
	}
}

func TestTripResultCarriesRelayAndEvidence(t *testing.T) {
	f := newFixture(t, fastConfig())
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	if c.Result.Relay == nil || c.Result.Relay.State != "open" {
		t.Fatalf("relay %+v, want open", c.Result.Relay)
	}
	if got := c.Result.Readings["status_word_3"].Value; got != "0050" {
		t.Errorf("status word 3 %v, want 0050", got)
	}
	if c.Result.SuspectedBypass {
		t.Error("suspected_bypass set without power flowing")
	}
	want := []gateway.State{gateway.StateQueued, gateway.StateSending, gateway.StateVerifying,
		gateway.StateSucceeded}
	if len(c.History) != len(want) {
		t.Fatalf("history %+v", c.History)
	}
	for i, h := range c.History {
		if h.State != want[i] {
			t.Errorf("history[%d] = %s, want %s", i, h.State, want[i])
		}
	}
}

func TestRejectedRequestsStoreNothing(t *testing.T) {
	f := newFixture(t, fastConfig())
	cases := []struct {
		req  gateway.Request
		kind error
		code string
	}{
		{gateway.Request{Target: meter("000000000004"), Action: gateway.ActionTrip},
			gateway.ErrUnprocessable, gateway.ReasonUnsupportedAction},
		{gateway.Request{Target: meter("000000000099"), Action: gateway.ActionTrip},
			gateway.ErrUnprocessable, gateway.ReasonRouteUnknown},
		{gateway.Request{Target: meter("000000000007"), Action: gateway.ActionGuarantee},
			gateway.ErrUnprocessable, gateway.ReasonUnsupportedAction},
		{gateway.Request{Target: meter("12345"), Action: gateway.ActionTrip},
			gateway.ErrInvalid, "invalid_request"},
		{gateway.Request{Target: meter("000000000001"), Action: "explode"},
			gateway.ErrInvalid, "invalid_request"},
		{gateway.Request{Target: meter("000000000001"), Action: gateway.ActionTrip,
			Items: []string{"power"}}, gateway.ErrInvalid, "invalid_request"},
		{gateway.Request{Target: gateway.Target{Terminal: "44010009", Turn: 1},
			Action: gateway.ActionTrip}, gateway.ErrUnprocessable, gateway.ReasonRouteUnknown},
		{gateway.Request{Target: gateway.Target{Terminal: "44010001", Turn: 1},
			Action: gateway.ActionClose}, gateway.ErrUnprocessable,
			gateway.ReasonUnsupportedAction},
	}
	for _, tc := range cases {
		_, _, err := f.engine.Submit(tc.req)
		var re *gateway.RequestError
		if !errors.As(err, &re) {
			t.Errorf("%+v: error %v, want a RequestError", tc.req, err)
			continue
		}
		if !errors.Is(err, tc.kind) || re.Code != tc.code {
			t.Errorf("%+v: %v code %s, want %v %s", tc.req, err, re.Code, tc.kind, tc.code)
		}
	}
	list, _, err := f.engine.List(gateway.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("%d commands stored after rejected requests", len(list))
	}
}

func TestFaultsEndWithTheirReason(t *testing.T) {
	cases := []struct {
		fault  string
		action gateway.Action
		state  gateway.State
		code   string
	}{
		{gatewaytest.FaultSilent, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonMeterTimeout},
		{gatewaytest.FaultOffline, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonTerminalOffline},
		{gatewaytest.FaultRelayStuck, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonVerifyMismatch},
		{gatewaytest.FaultWrongPassword, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonMeterPasswordRejected},
		{gatewaytest.FaultSecurity, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonSecurityFailed},
		{gatewaytest.FaultGuarantee, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonMeterGuaranteeActive},
		{gatewaytest.FaultClockSkew, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonMeterRejected},
		{gatewaytest.FaultTerminalDeny, gateway.ActionTrip, gateway.StateFailed,
			gateway.ReasonTerminalDenied},
	}
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			f := newFixture(t, fastConfig())
			f.fake.SetFault("000000000002", tc.fault, true)
			c := wait(t, f.engine, submit(t, f.engine, gateway.Request{
				Target: meter("000000000002"), Action: tc.action}).ID)
			if c.State != tc.state || c.Reason == nil || c.Reason.Code != tc.code {
				t.Fatalf("state %s reason %+v, want %s %s", c.State, c.Reason, tc.state, tc.code)
			}
			if c.Reason.Evidence == nil || c.Reason.Evidence.Attempts == 0 {
				t.Errorf("reason without attempts in evidence: %+v", c.Reason.Evidence)
			}
		})
	}
}

func TestPasswordRejectionIsNeverRetried(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000002", gatewaytest.FaultWrongPassword, true)
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	if c.Attempts != 1 {
		t.Errorf("attempts %d, want 1", c.Attempts)
	}
	if n := f.fake.CallCount("control"); n != 1 {
		t.Errorf("%d control requests, want 1", n)
	}
}

func TestTimeoutIsRetriedOnce(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000002", gatewaytest.FaultTimeoutOnce, true)
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("state %s reason %+v", c.State, c.Reason)
	}
	if c.Attempts != 2 {
		t.Errorf("attempts %d, want 2", c.Attempts)
	}
}

func TestLostReplyIsNotSentTwice(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000002", gatewaytest.FaultLoseReply, true)
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("state %s reason %+v", c.State, c.Reason)
	}
	if n := f.fake.Operations("000000000002", gateway.ActionTrip); n != 1 {
		t.Errorf("meter accepted %d trips, want 1", n)
	}
}

func TestBypassIsSuspected(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000002", gatewaytest.FaultBypass, true)
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	if c.State != gateway.StateSucceeded || !c.Result.SuspectedBypass {
		t.Fatalf("state %s result %+v, want succeeded with suspected_bypass", c.State, c.Result)
	}
}

func TestAllowCloseWaitsForButton(t *testing.T) {
	f := newFixture(t, fastConfig())
	wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip}).ID)
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionAllowClose}).ID)
	if c.Result.Outcome != "close_allowed" || c.Result.Relay.State != "open" {
		t.Fatalf("result %+v relay %+v, want close_allowed with the relay open", c.Result,
			c.Result.Relay)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t, fastConfig())
	req := gateway.Request{Target: meter("000000000002"), Action: gateway.ActionPing,
		IdempotencyKey: "k1"}
	first, existing, err := f.engine.Submit(req)
	if err != nil || existing {
		t.Fatalf("first submit: existing %v err %v", existing, err)
	}
	again, existing, err := f.engine.Submit(req)
	if err != nil || !existing || again.ID != first.ID {
		t.Fatalf("repeat: id %v existing %v err %v, want %s", again, existing, err, first.ID)
	}
	req.Action = gateway.ActionRead
	if _, _, err := f.engine.Submit(req); !errors.Is(err, gateway.ErrConflict) {
		t.Fatalf("different body: err %v, want ErrConflict", err)
	}
}

func TestSupersedeQueuedSwitching(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	// The hanging command occupies the terminal channel, so the next two stay queued.
	blocker := submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(300 * time.Millisecond))})
	trip := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	closeCmd := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionClose})
	old, err := f.engine.Get(trip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.State != gateway.StateCancelled || old.Reason.Code != gateway.ReasonSuperseded {
		t.Fatalf("older trip: %s %+v, want cancelled/superseded", old.State, old.Reason)
	}
	if c := wait(t, f.engine, blocker.ID); c.State != gateway.StateExpired {
		t.Errorf("blocker %s, want expired", c.State)
	}
	if c := wait(t, f.engine, closeCmd.ID); c.State != gateway.StateSucceeded {
		t.Errorf("close %s %+v, want succeeded", c.State, c.Reason)
	}
	if n := f.fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("superseded trip reached the meter %d times", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestInterlocks(t *testing.T) {
	cfg := fastConfig()
	cfg.ProtectedWindows = []gateway.Window{{Name: "always", Start: "00:00", End: "00:00"}}
	f := newFixture(t, cfg)
	// 00:00–00:00 is an empty window: only the protected meter blocks here.
	c := wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000003"),
		Action: gateway.ActionTrip}).ID)
	if c.State != gateway.StateFailed || c.Reason.Code != gateway.ReasonInterlockBlocked {
		t.Fatalf("protected meter: %s %+v, want interlock_blocked", c.State, c.Reason)
	}
	c = wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000003"),
		Action: gateway.ActionTrip, Force: true}).ID)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("forced trip: %s %+v", c.State, c.Reason)
	}
}

func TestProtectedWindowBlocksTrip(t *testing.T) {
	cfg := fastConfig()
	now := time.Now().In(mustZone(t, "Asia/Shanghai"))
	start := now.Add(-time.Hour).Format("15:04")
	end := now.Add(time.Hour).Format("15:04")
	cfg.ProtectedWindows = []gateway.Window{{Name: "test", Start: start, End: end}}
	f := newFixture(t, cfg)
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	if c.State != gateway.StateFailed || c.Reason.Code != gateway.ReasonInterlockBlocked {
		t.Fatalf("trip in window: %s %+v", c.State, c.Reason)
	}
	c = wait(t, f.engine, submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionClose}).ID)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("close in window: %s %+v, want succeeded", c.State, c.Reason)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestRateGuard(t *testing.T) {
	cfg := fastConfig()
	cfg.TripsPerTerminalPerMinute = 1
	f := newFixture(t, cfg)
	first := submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionTrip})
	second := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	if first.State == gateway.StateFailed {
		t.Fatalf("first trip blocked: %+v", first.Reason)
	}
	if second.State != gateway.StateFailed ||
		second.Reason.Code != gateway.ReasonInterlockBlocked {
		t.Fatalf("second trip: %s %+v, want interlock_blocked", second.State, second.Reason)
	}
}

func TestCancelQueuedCommand(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(200 * time.Millisecond))})
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	got, err := f.engine.Cancel(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != gateway.StateCancelled || got.Reason.Code != gateway.ReasonCancelled {
		t.Fatalf("cancelled command: %s %+v", got.State, got.Reason)
	}
	done := wait(t, f.engine, submit(t, f.engine, gateway.Request{
		Target: meter("000000000005"), Action: gateway.ActionPing}).ID)
	if _, err := f.engine.Cancel(done.ID); !errors.Is(err, gateway.ErrNotCancellable) {
		t.Errorf("cancel of a finished command: %v, want ErrNotCancellable", err)
	}
}

func TestQueuedCommandExpires(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(2 * time.Second))})
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip, Deadline: ptr(time.Now().Add(100 * time.Millisecond))})
	start := time.Now()
	got := wait(t, f.engine, c.ID)
	if got.State != gateway.StateExpired || got.Reason.Code != gateway.ReasonDeadlineExpired {
		t.Fatalf("state %s %+v, want expired", got.State, got.Reason)
	}
	if time.Since(start) > 1500*time.Millisecond {
		t.Errorf("expired after %s, long after its deadline", time.Since(start))
	}
}

func TestRetryIsVisibleWhileSending(t *testing.T) {
	f := newFixture(t, fastConfig())
	f.fake.Delay = 50 * time.Millisecond
	f.fake.SetFault("000000000002", gatewaytest.FaultSilent, true)
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionRead})
	// Poll until the second attempt shows while the command is still sending.
	seen := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !seen; {
		got, err := f.engine.Get(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State.Final() {
			break
		}
		seen = got.State == gateway.StateSending && got.Attempts == 2
		if seen {
			// Get shows a change only after the store holds it.
			stored, err := f.store.Command(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Attempts < 2 {
				t.Errorf("store holds attempts %d while Get shows 2", stored.Attempts)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !seen {
		t.Error("attempt 2 never showed while the command was sending")
	}
	done := wait(t, f.engine, c.ID)
	if done.Attempts != 3 {
		t.Errorf("attempts %d, want 3", done.Attempts)
	}
	if done.Reason == nil || done.Reason.Evidence == nil {
		t.Fatalf("reason without evidence: %+v", done.Reason)
	}
	if done.Reason.Evidence.Attempts != done.Attempts {
		t.Errorf("evidence attempts %d, command attempts %d", done.Reason.Evidence.Attempts,
			done.Attempts)
	}
	var retries []string
	for _, h := range done.History {
		if h.State == gateway.StateSending && strings.HasPrefix(h.Detail, "attempt ") {
			retries = append(retries, h.Detail)
		}
	}
	want := []string{"attempt 2 of 3 after meter_timeout", "attempt 3 of 3 after meter_timeout"}
	if !slices.Equal(retries, want) {
		t.Errorf("retry history %q, want %q", retries, want)
	}
}

func TestRetryWaitingForTerminalRecordedOnce(t *testing.T) {
	cfg := fastConfig()
	cfg.StartupGrace = time.Minute
	f := newFixture(t, cfg)
	f.fake.Delay = 100 * time.Millisecond
	f.fake.SetFault("000000000002", gatewaytest.FaultTimeoutOnce, true)
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionPing})
	// The first ping has read its faults once it is counted, so the offline fault hits
	// only the retry, which then waits for the terminal.
	for end := time.Now().Add(5 * time.Second); f.fake.CallCount("ping") == 0; {
		if time.Now().After(end) {
			t.Fatal("the first ping never started")
		}
		time.Sleep(time.Millisecond)
	}
	f.fake.SetFault("000000000002", gatewaytest.FaultOffline, true)
	for end := time.Now().Add(5 * time.Second); f.fake.CallCount("ping") < 4; {
		if time.Now().After(end) {
			t.Fatal("the retry never waited for the terminal")
		}
		time.Sleep(time.Millisecond)
	}
	f.fake.SetFault("000000000002", gatewaytest.FaultOffline, false)
	done := wait(t, f.engine, c.ID)
	if done.State != gateway.StateSucceeded {
		t.Fatalf("state %s reason %+v", done.State, done.Reason)
	}
	if done.Attempts != 2 {
		t.Errorf("attempts %d, want 2", done.Attempts)
	}
	var retries []string
	for _, h := range done.History {
		if strings.HasPrefix(h.Detail, "attempt ") {
			retries = append(retries, h.Detail)
		}
	}
	if want := []string{"attempt 2 of 3 after meter_timeout"}; !slices.Equal(retries, want) {
		t.Errorf("retry history %q, want %q", retries, want)
	}
}
