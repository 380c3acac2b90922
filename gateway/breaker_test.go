package gateway_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
	"github.com/prometheus/client_golang/prometheus"
)

// noTurnsArchive has a terminal whose archive entry lists no control turns.
const noTurnsArchive = `{
 "terminals": [{"address": "44020001", "kind": "concentrator", "heartbeat_period_s": 60,
   "control_turns": 0}],
 "meters": []}`

func TestTurnOnTerminalWithoutTurns(t *testing.T) {
	f := newFixture(t, fastConfig())
	a, err := archive.DecodeJSON(strings.NewReader(noTurnsArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, true); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.engine.Submit(gateway.Request{
		Target: gateway.Target{Terminal: "44020001", Turn: 1}, Action: gateway.ActionTrip})
	var re *gateway.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("submit err %v, want a RequestError", err)
	}
	if !errors.Is(err, gateway.ErrUnprocessable) {
		t.Errorf("kind %v, want ErrUnprocessable", re.Kind)
	}
	if re.Code != gateway.ReasonUnsupportedAction {
		t.Errorf("code %q, want %q", re.Code, gateway.ReasonUnsupportedAction)
	}
	if re.Field != "target.turn" {
		t.Errorf("field %q, want target.turn", re.Field)
	}
	list, _, err := f.engine.List(gateway.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("%d commands stored, want none", len(list))
	}
}

func TestBatchRejectionNamesMeter(t *testing.T) {
	f := newFixture(t, fastConfig())
	// 000000000004 is a DL/T 645-1997 meter, which has no relay control.
	_, _, err := f.engine.SubmitBatch(gateway.BatchRequest{Action: gateway.ActionTrip,
		Meters: []string{"000000000002", "000000000004"}})
	var re *gateway.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("batch err %v, want a RequestError", err)
	}
	if re.Code != gateway.ReasonUnsupportedAction {
		t.Errorf("code %q, want %q", re.Code, gateway.ReasonUnsupportedAction)
	}
	if re.Field != "meters[1]" {
		t.Errorf("field %q, want meters[1]", re.Field)
	}
	if re.Value != "000000000004" {
		t.Errorf("value %q, want the meter address", re.Value)
	}
}

func TestIdempotencyConflictNamesKey(t *testing.T) {
	f := newFixture(t, fastConfig())
	req := gateway.Request{Target: meter("000000000002"), Action: gateway.ActionPing,
		IdempotencyKey: "order-77"}
	submit(t, f.engine, req)
	req.Action = gateway.ActionRead
	_, _, err := f.engine.Submit(req)
	if !errors.Is(err, gateway.ErrConflict) {
		t.Fatalf("err %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), `"order-77"`) {
		t.Errorf("message %q does not name the key", err.Error())
	}
	_, _, err = f.engine.SubmitBatch(gateway.BatchRequest{Action: gateway.ActionPing,
		Meters: []string{"000000000002"}, IdempotencyKey: "order-77"})
	if !errors.Is(err, gateway.ErrConflict) || !strings.Contains(err.Error(), "order-77") {
		t.Errorf("batch with a command's key: err %v, want a conflict naming the key", err)
	}
}

func TestInterlockSeriesExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	store, err := gateway.OpenStore(filepath.Join(t.TempDir(), "feegate.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, err := gateway.Open(gateway.Options{Config: fastConfig(), Store: store, Registry: reg,
		Drivers: map[string]gateway.Driver{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, mf := range families {
		if mf.GetName() != "feegate_interlock_blocks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "rule" && m.GetCounter().GetValue() == 0 {
					rules[l.GetValue()] = true
				}
			}
		}
	}
	for _, want := range []string{"protected_meter", "protected_window", "rate_guard",
		"blast_radius"} {
		if !rules[want] {
			t.Errorf("feegate_interlock_blocks_total{rule=%q} is not exported at 0", want)
		}
	}
}

func TestSupersededTripNeverSent(t *testing.T) {
	f := newFixture(t, fastConfig())
	gateway.RunSupersededAtOnce(f.engine)
	f.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	// The hanging ping occupies the terminal channel, so the trip stays queued.
	submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(300 * time.Millisecond))})
	trip := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	// The customer pays: the close supersedes the queued trip.
	closeCmd := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionClose})
	got := wait(t, f.engine, trip.ID)
	if got.State != gateway.StateCancelled {
		t.Errorf("superseded trip ended %s, want cancelled", got.State)
	}
	if got.Reason == nil || got.Reason.Code != gateway.ReasonSuperseded {
		t.Errorf("superseded trip reason %+v, want superseded", got.Reason)
	}
	if n := f.fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("meter received %d trips, want none", n)
	}
	if c := wait(t, f.engine, closeCmd.ID); c.State != gateway.StateSucceeded {
		t.Errorf("close ended %s %+v, want succeeded", c.State, c.Reason)
	}
}

func TestDeadlineBeyondMeterYears(t *testing.T) {
	f := newFixture(t, fastConfig())
	far := time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC)
	_, _, err := f.engine.Submit(gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip, Deadline: &far})
	var re *gateway.RequestError
	if !errors.As(err, &re) || !errors.Is(err, gateway.ErrInvalid) {
		t.Fatalf("deadline %v: err %v, want an invalid request", far, err)
	}
	if re.Field != "deadline" {
		t.Errorf("field %q, want deadline", re.Field)
	}
	_, _, err = f.engine.SubmitBatch(gateway.BatchRequest{Action: gateway.ActionTrip,
		Meters: []string{"000000000002"}, Deadline: &far})
	if !errors.Is(err, gateway.ErrInvalid) {
		t.Errorf("batch with deadline %v: err %v, want an invalid request", far, err)
	}
}

func TestRecoveryPastDeadlineDoesNotClaimUnsent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	id := crashWhileSending(t, path)
	store, err := gateway.OpenStore(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	fake := gatewaytest.New()
	drivers := map[string]gateway.Driver{gateway.RouteTerminal: fake}
	// The gateway comes back after the trip's one-minute deadline.
	later := func() time.Time { return time.Now().Add(2 * time.Minute) }
	e, err := gateway.Open(gateway.Options{Config: fastConfig(), Store: store,
		Drivers: drivers, Now: later})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	defer func() {
		e.Close(context.Background())
		store.Close()
	}()
	c := wait(t, e, id)
	if c.State != gateway.StateExpired {
		t.Fatalf("recovered trip ended %s, want expired", c.State)
	}
	if c.Reason == nil || strings.Contains(c.Reason.Message, "before the command was sent") {
		t.Errorf("reason %+v claims the trip was never sent, but it was in flight", c.Reason)
	}
	if n := fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("trip sent %d times after its deadline, want 0", n)
	}
}

// meterlessArchive is testArchive without meter 000000000002.
const meterlessArchive = `{
 "terminals": [{"address": "44010001", "kind": "concentrator", "heartbeat_period_s": 60,
   "control_turns": 2}],
 "meters": [
  {"address": "000000000001", "protocol": "dlt645-2007", "kind": "cost_control",
   "password": {"level": 98, "value": ""},
   "route": {"terminal": "44010001", "point": 1, "port": 31}}]}`

func TestQueuedCommandForRemovedMeter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	fake := gatewaytest.New()
	fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	f := openEngine(t, path, fastConfig(), fake)
	a, err := archive.DecodeJSON(strings.NewReader(testArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	// The hanging ping keeps the terminal channel busy, so the trip stays queued.
	submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing})
	trip := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	smaller, err := archive.DecodeJSON(strings.NewReader(meterlessArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(smaller, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.engine.Close(ctx)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}

	g := openEngine(t, path, fastConfig(), gatewaytest.New())
	defer g.close(t)
	c := wait(t, g.engine, trip.ID)
	if c.State != gateway.StateFailed {
		t.Fatalf("trip for a removed meter ended %s, want failed", c.State)
	}
	if c.Reason == nil || c.Reason.Code != gateway.ReasonRouteUnknown {
		t.Errorf("reason %+v, want route_unknown", c.Reason)
	}
}

func TestConcurrentIdempotencyKeyRace(t *testing.T) {
	f := newFixture(t, fastConfig())
	const n = 32
	type outcome struct {
		action   gateway.Action
		id       string
		existing bool
		err      error
	}
	results := make(chan outcome, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		action := gateway.ActionPing
		if i%2 == 1 {
			action = gateway.ActionRead
		}
		go func() {
			<-start
			c, existing, err := f.engine.Submit(gateway.Request{Target: meter("000000000002"),
				Action: action, IdempotencyKey: "same-key"})
			o := outcome{action: action, existing: existing, err: err}
			if c != nil {
				o.id = c.ID
			}
			results <- o
		}()
	}
	close(start)
	created := map[string]gateway.Action{}
	var outcomes []outcome
	for i := 0; i < n; i++ {
		o := <-results
		outcomes = append(outcomes, o)
		if o.err == nil && !o.existing {
			created[o.id] = o.action
		}
	}
	if len(created) != 1 {
		t.Fatalf("%d commands created under one key, want 1: %v", len(created), created)
	}
	var winnerID string
	var winner gateway.Action
	for id, a := range created {
		winnerID, winner = id, a
	}
	for _, o := range outcomes {
		switch {
		case o.action == winner && o.err != nil:
			t.Errorf("%s with the winning body: %v, want the existing command", o.action, o.err)
		case o.action == winner && o.id != winnerID:
			t.Errorf("%s with the winning body returned %s, want %s", o.action, o.id, winnerID)
		case o.action != winner && !errors.Is(o.err, gateway.ErrConflict):
			t.Errorf("%s with a different body: %v, want ErrConflict", o.action, o.err)
		}
	}
	list, _, err := f.engine.List(gateway.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("%d commands stored, want 1", len(list))
	}
}

// gaugeValue returns the value of the gauge or counter series name{label=value}, or -1
// when the series does not exist.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

func TestFailedStoreWriteLeavesNoTrace(t *testing.T) {
	reg := prometheus.NewRegistry()
	store, err := gateway.OpenStore(filepath.Join(t.TempDir(), "feegate.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.TripsPerTerminalPerMinute = 1
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store, Registry: reg,
		Drivers: map[string]gateway.Driver{gateway.RouteTerminal: gatewaytest.New()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	a, err := archive.DecodeJSON(strings.NewReader(testArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.Submit(gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	if err == nil {
		t.Fatal("submit succeeded on a closed store")
	}
	if v := gaugeValue(t, reg, "feegate_commands_active", "state", "queued"); v > 0 {
		t.Errorf("feegate_commands_active{state=queued} = %v after a failed submit, want 0", v)
	}
	// The trip was never stored, so it must not count towards the rate guard: a second
	// trip on the terminal is still allowed (and fails on the store, not the guard).
	_, _, err = e.Submit(gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionTrip})
	if err == nil {
		t.Errorf("second submit succeeded on a closed store")
	}
	v := gaugeValue(t, reg, "feegate_interlock_blocks_total", "rule", "rate_guard")
	if v != 0 {
		t.Errorf("rate guard blocked %v trips after the first trip was never stored, want 0",
			v)
	}
}

func TestTerminalTargetIgnoresHexCase(t *testing.T) {
	f := newFixture(t, fastConfig())
	a, err := archive.DecodeJSON(strings.NewReader(`{"terminals": [{"address": "4401ABCD",
		"kind": "concentrator", "heartbeat_period_s": 60, "control_turns": 1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, true); err != nil {
		t.Fatal(err)
	}
	c, _, err := f.engine.Submit(gateway.Request{
		Target: gateway.Target{Terminal: "4401abcd", Turn: 1}, Action: gateway.ActionTrip})
	if err != nil {
		t.Fatalf("trip of terminal 4401abcd: %v, want it accepted as 4401ABCD", err)
	}
	if c.Target.Terminal != "4401ABCD" {
		t.Errorf("stored target %q, want 4401ABCD", c.Target.Terminal)
	}
}

// protectedArchive is testArchive with meter 000000000002 marked protected.
var protectedArchive = strings.Replace(testArchive,
	`"address": "000000000002", "protocol": "dlt645-2007", "kind": "plain",`,
	`"address": "000000000002", "protocol": "dlt645-2007", "kind": "plain", "protected": true,`,
	1)

func TestQueuedTripBlockedWhenMeterBecomesProtected(t *testing.T) {
	if protectedArchive == testArchive {
		t.Fatal("protectedArchive did not mark the meter")
	}
	f := newFixture(t, fastConfig())
	f.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	// The hanging ping occupies the terminal channel, so the trip stays queued.
	submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(300 * time.Millisecond))})
	trip := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip})
	a, err := archive.DecodeJSON(strings.NewReader(protectedArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	c := wait(t, f.engine, trip.ID)
	if c.State != gateway.StateFailed {
		t.Fatalf("trip of a meter protected while queued ended %s, want failed", c.State)
	}
	if c.Reason == nil || c.Reason.Code != gateway.ReasonInterlockBlocked {
		t.Errorf("reason %+v, want interlock_blocked", c.Reason)
	}
	if n := f.fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("protected meter received %d trips, want none", n)
	}
}

func TestRecoveryFromVerifyingNeverResends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	fake := gatewaytest.New()
	fake.SetFault("000000000002", gatewaytest.FaultRelayStuck, true)
	cfg := fastConfig()
	cfg.VerifyWindow = time.Minute // stay in verifying until the crash
	f := openEngine(t, path, cfg, fake)
	a, err := archive.DecodeJSON(strings.NewReader(testArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	trip := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip, Deadline: ptr(time.Now().Add(time.Minute))})
	done := submit(t, f.engine, gateway.Request{Target: meter("000000000005"),
		Action: gateway.ActionPing})
	wait(t, f.engine, done.ID)
	for i := 0; ; i++ {
		c, err := f.engine.Get(trip.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == gateway.StateVerifying {
			break
		}
		if i > 2000 {
			t.Fatalf("trip stayed %s", c.State)
		}
		time.Sleep(2 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.engine.Close(ctx) // abandons the verification
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}

	// The relay has opened since: the meter has the trip.
	after := gatewaytest.New()
	m := after.Device("000000000002")
	m.Open, m.CommandOpen = true, true
	g := openEngine(t, path, fastConfig(), after)
	defer g.close(t)
	c := wait(t, g.engine, trip.ID)
	if c.State != gateway.StateSucceeded {
		t.Errorf("trip recovered from verifying ended %s %+v, want succeeded", c.State,
			c.Reason)
	}
	if n := after.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("trip sent %d times after the restart, want 0", n)
	}
	p, err := g.engine.Get(done.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != gateway.StateSucceeded || len(p.History) != len(done.History)+2 {
		t.Errorf("finished ping changed at restart: %s, history %+v", p.State, p.History)
	}
}

func TestRecoveredTripRespectsProtectedWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	id := crashWhileSending(t, path)
	cfg := fastConfig()
	// Two windows that together cover the whole day.
	cfg.ProtectedWindows = []gateway.Window{{Name: "am", Start: "00:00", End: "12:00"},
		{Name: "pm", Start: "12:00", End: "00:00"}}
	fake := gatewaytest.New() // the meter does not have the trip
	f := openEngine(t, path, cfg, fake)
	defer f.close(t)
	c := wait(t, f.engine, id)
	if c.State != gateway.StateFailed {
		t.Fatalf("recovered trip in a protected window ended %s, want failed", c.State)
	}
	if c.Reason == nil || c.Reason.Code != gateway.ReasonInterlockBlocked {
		t.Errorf("reason %+v, want interlock_blocked", c.Reason)
	}
	if n := fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("trip sent %d times inside the protected window, want 0", n)
	}
}
