package main

import (
	"context"
	"encoding/csv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/api"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
	"github.com/prometheus/client_golang/prometheus"
)

// realFleet is an archive of one concentrator with two cost-control meters behind it.
const realFleet = `{
 "terminals": [{"address": "44010001", "kind": "concentrator", "heartbeat_period_s": 60,
   "control_turns": 2}],
 "meters": [
  {"address": "000000000001", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "654321"},
   "route": {"terminal": "44010001", "point": 1, "port": 31}},
  {"address": "000000000002", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "654321"},
   "route": {"terminal": "44010001", "point": 2, "port": 31}}
 ]}`

// startRealAPI runs the api package over the gateway engine with its fake driver, on a
// loopback port.
func startRealAPI(t *testing.T) (*gatewaytest.Driver, string) {
	t.Helper()
	store, err := gateway.OpenStore(filepath.Join(t.TempDir(), "cli.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	fake := gatewaytest.New()
	cfg := gateway.DefaultConfig()
	cfg.VerifyInterval = 5 * time.Millisecond
	cfg.VerifyWindow = 200 * time.Millisecond
	reg := prometheus.NewRegistry()
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store, Registry: reg,
		Drivers: map[string]gateway.Driver{gateway.RouteTerminal: fake}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Engine: e, Tokens: []string{fakeToken},
		Gatherer: reg}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e.Close(ctx)
		store.Close()
	})
	return fake, srv.URL
}

func TestClientsAgainstRealAPI(t *testing.T) {
	checkLeaks(t)
	fake, url := startRealAPI(t)
	t.Setenv("FEEGATE_API", url)
	t.Setenv("FEEGATE_TOKEN", fakeToken)
	dir := t.TempDir()

	fleet := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(fleet, []byte(realFleet), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runFeegate(t, "archive", "import", fleet)
	if err != nil {
		t.Fatalf("archive import: %v", err)
	}
	if !strings.Contains(out, "2 meters") {
		t.Errorf("import summary = %q, want 2 meters", out)
	}

	out, err = runFeegate(t, "command", "submit", "--meter", "000000000001", "--action",
		"trip", "--watch", "--json")
	if err != nil {
		t.Fatalf("command submit --watch: %v\n%s", err, out)
	}
	lines := jsonLines(t, out)
	last := lines[len(lines)-1]
	if last["state"] != "succeeded" {
		t.Errorf("final state = %v, want succeeded:\n%s", last["state"], out)
	}
	if n := fake.Operations("000000000001", gateway.ActionTrip); n != 1 {
		t.Errorf("meter accepted %d trips, want 1", n)
	}

	id, _ := lines[0]["id"].(string)
	out, err = runFeegate(t, "command", "show", id)
	if err != nil {
		t.Fatalf("command show: %v", err)
	}
	if !strings.Contains(out, "tripped") {
		t.Errorf("command show lacks the outcome:\n%s", out)
	}

	meters := filepath.Join(dir, "meters.csv")
	os.WriteFile(meters, []byte("address\n000000000001\n000000000002\n"), 0o600)
	result := filepath.Join(dir, "result.csv")
	if _, err := runFeegate(t, "batch", "--action", "close", "--file", meters, "--output",
		result, "--poll-interval", "20ms"); err != nil {
		rows, _ := os.ReadFile(result)
		t.Fatalf("batch: %v\n%s", err, rows)
	}
	f, err := os.Open(result)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("result has %d rows, want header and 2: %v", len(rows), rows)
	}
	for _, row := range rows[1:] {
		if row[2] != "succeeded" {
			t.Errorf("meter %s: state %s (%s), want succeeded", row[0], row[2], row[3])
		}
	}

	if _, err := runFeegate(t, "terminals", "--json"); err != nil {
		t.Errorf("terminals: %v", err)
	}
	out, err = runFeegate(t, "terminal", "show", "44010001", "--json")
	if err != nil {
		t.Fatalf("terminal show: %v", err)
	}
	diagnosis := jsonLines(t, out)[0]
	if diagnosis["address"] != "44010001" || diagnosis["online"] != false {
		t.Errorf("diagnosis = %v, want terminal 44010001 offline", diagnosis)
	}
}
