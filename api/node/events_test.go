package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// streamEvent is one server-sent event of GET /v1/events.
type streamEvent struct {
	Type string
	Data map[string]any
}

// readEventOf reads the stream from the start until an event of type typ arrives or the
// timeout passes. It returns that event, or nil after the timeout.
func (e *e2e) readEventOf(t *testing.T, typ string, timeout time.Duration) *streamEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	current := ""
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			current = v
			continue
		}
		v, ok := strings.CutPrefix(line, "data: ")
		if !ok || current != typ {
			continue
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(v), &data); err != nil {
			t.Fatalf("event %s data %q: %v", typ, v, err)
		}
		return &streamEvent{Type: typ, Data: data}
	}
	return nil
}

// powerCycle switches terminal a1a2 off and on through the simulator's control API.
func powerCycle(t *testing.T, control, a1a2 string) {
	t.Helper()
	for _, on := range []string{"false", "true"} {
		resp, err := http.Post(control+"/terminals/"+a1a2+"/power", "application/json",
			strings.NewReader(`{"on": `+on+`}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("power on=%s: status %d", on, resp.StatusCode)
		}
		time.Sleep(300 * time.Millisecond) // let the session drop before power returns
	}
}

func TestPowerCyclePublishesERC14(t *testing.T) {
	e := start(t, 1, 1, 0, 0)
	control := httptest.NewServer(e.fleet.Handler())
	defer control.Close()

	powerCycle(t, control.URL, "44010001")
	event := e.readEventOf(t, "terminal.event", 10*time.Second)
	if event == nil {
		t.Fatal("no terminal.event on the stream after a power cycle")
	}
	data := event.Data
	if data["terminal"] != "44010001" {
		t.Errorf("terminal %v, want 44010001", data["terminal"])
	}
	raw, _ := json.Marshal(data)
	units, _ := data["units"].([]any)
	if len(units) != 1 {
		t.Fatalf("event carries %d units, want 1: %s", len(units), raw)
	}
	unit, _ := units[0].(map[string]any)
	if unit["afn"] != "0E" {
		t.Errorf("unit AFN %v, want 0E: %s", unit["afn"], raw)
	}
	if unit["fn"] != float64(1) {
		t.Errorf("unit Fn %v, want 1 (important events): %s", unit["fn"], raw)
	}
	body, _ := unit["data"].(map[string]any)
	records, _ := body["records"].([]any)
	if len(records) != 1 {
		t.Fatalf("unit carries %d records, want 1: %s", len(records), raw)
	}
	record, _ := records[0].(map[string]any)
	if record["erc"] != float64(14) {
		t.Errorf("record ERC %v, want 14: %s", record["erc"], raw)
	}
	content, _ := record["content"].(map[string]any)
	off, _ := content["power_off"].(string)
	on, _ := content["power_on"].(string)
	if off == "" {
		t.Errorf("record has no power_off time: %s", raw)
	}
	if on < off {
		t.Errorf("power_on %q before power_off %q", on, off)
	}
}
