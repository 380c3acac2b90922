package main

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/simulator"
	"github.com/feegate/feegate/simulator/terminal"
)

// startSimulatedBus runs a simulated fleet with one pty bus of four meters and returns it
// with the pty path and the bus meters of its archive.
func startSimulatedBus(t *testing.T) (*simulator.Fleet, string, []archive.Meter) {
	t.Helper()
	f, err := simulator.New(simulator.Options{Serial: 1, MetersPerBus: 4, Control: "-",
		Seed: 11, MeterDelay: terminal.Range{Min: 5 * time.Millisecond,
			Max: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	var meters []archive.Meter
	for _, m := range f.Archive().Meters {
		if m.Route.Bus != "" {
			meters = append(meters, m)
		}
	}
	if len(meters) == 0 {
		t.Fatal("simulated bus has no meters")
	}
	return f, f.Ready().Serial[0], meters
}

// pickMeter returns the first bus meter of protocol and kind, or skips the test.
func pickMeter(t *testing.T, meters []archive.Meter, protocol, kind string) archive.Meter {
	t.Helper()
	for _, m := range meters {
		if m.Protocol == protocol && m.Kind == kind && m.Password != nil {
			return m
		}
	}
	t.Skipf("the simulated bus has no %s %s meter with a password", kind, protocol)
	return archive.Meter{}
}

func TestMeterScanSimulatedBus(t *testing.T) {
	_, port, meters := startSimulatedBus(t)
	var want, all []string
	for _, m := range meters {
		all = append(all, m.Address)
		if m.Protocol == archive.ProtocolDLT645v2007 {
			want = append(want, m.Address)
		}
	}
	out, err := runFeegate(t, "meter", "scan", "--port", port, "--json", "--timeout",
		"300ms", "--addresses", strings.Join(append(all, "000099999999"), ","))
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var found []string
	if strings.TrimSpace(out) != "" {
		for _, m := range jsonLines(t, out) {
			found = append(found, m["address"].(string))
		}
	}
	sort.Strings(found)
	sort.Strings(want)
	if strings.Join(found, ",") != strings.Join(want, ",") {
		t.Errorf("scan found %v, want the 2007 meters %v", found, want)
	}
}

func TestMeterRelaySimulatedPlainMeter(t *testing.T) {
	f, port, meters := startSimulatedBus(t)
	m := pickMeter(t, meters, archive.ProtocolDLT645v2007, archive.KindPlain)
	args := []string{"--port", port, "--address", m.Address, "--password", m.Password.Value,
		"--password-level", "2", "--json"}
	if m.Password.Level != 2 {
		args[len(args)-2] = "4"
	}

	if _, err := runFeegate(t, append([]string{"meter", "trip"}, args...)...); err != nil {
		t.Fatalf("trip: %v", err)
	}
	sim, _ := f.Meter(m.Address)
	if st := sim.State(time.Now()); st.CommandState != "open" || st.Operations.Trip != 1 {
		t.Errorf("after trip: command state %s, trips %d; want open, 1", st.CommandState,
			st.Operations.Trip)
	}

	out, err := runFeegate(t, append([]string{"meter", "close"}, args...)...)
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if st := sim.State(time.Now()); st.CommandState != "closed" || st.Relay != "closed" {
		t.Errorf("after close: relay %s, command state %s; want closed", st.Relay,
			st.CommandState)
	}
	if sw, _ := decodeJSON(t, out)["status_word_3"].(map[string]any); sw["relay"] != "closed" {
		t.Errorf("status word 3 read back = %v, want relay closed", sw)
	}
}

func TestMeterPlainTripCostControlRejected(t *testing.T) {
	f, port, meters := startSimulatedBus(t)
	m := pickMeter(t, meters, archive.ProtocolDLT645v2007, archive.KindCostControl)
	level := "2"
	if m.Password.Level == 4 {
		level = "4"
	}
	_, err := runFeegate(t, "meter", "trip", "--port", port, "--address", m.Address,
		"--password", m.Password.Value, "--password-level", level)
	if !errors.Is(err, dlt645.ErrPasswordRejected) {
		t.Fatalf("err = %v, want the meter to reject a plain trip", err)
	}
	if !strings.Contains(err.Error(), "closing only") {
		t.Errorf("error %q does not explain the cost-control rule", err)
	}
	sim, _ := f.Meter(m.Address)
	if st := sim.State(time.Now()); st.Relay != "closed" {
		t.Errorf("relay %s after a rejected trip, want closed", st.Relay)
	}
}
