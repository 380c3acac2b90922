package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
)

func (e *e2e) submit(t *testing.T, body string) (int, gateway.Command) {
	t.Helper()
	code, resp := e.do(t, "POST", "/v1/commands", body)
	var c gateway.Command
	json.Unmarshal([]byte(resp), &c)
	return code, c
}

func TestRulesAgainstSimulator(t *testing.T) {
	e := start(t, 1, 8, 0, 0)
	slow, target, guarded := e.meterAt(t, 1, 1), e.meterAt(t, 1, 4), e.meterAt(t, 1, 7)

	t.Run("supersede", func(t *testing.T) {
		// A slow read holds the terminal's channel, so the trip behind it is still queued
		// when the close arrives.
		e.fault(t, simulator.FaultTarget{Meter: slow.Address}, "slow",
			map[string]any{"delay": "600ms"})
		_, blocker := e.submit(t, cmdBody(meterTarget(slow.Address), "read"))
		_, trip := e.submit(t, cmdBody(meterTarget(target.Address), "trip"))
		_, closeCmd := e.submit(t, cmdBody(meterTarget(target.Address), "close"))
		e.wait(t, blocker.ID)
		if c := e.wait(t, trip.ID); c.State != gateway.StateCancelled ||
			c.Reason.Code != gateway.ReasonSuperseded {
			t.Fatalf("older trip %s %+v, want cancelled/superseded", c.State, c.Reason)
		}
		if c := e.wait(t, closeCmd.ID); c.State != gateway.StateSucceeded {
			t.Fatalf("close %s %+v", c.State, c.Reason)
		}
		if n := e.physical(t, target.Address).Trips; n != 0 {
			t.Errorf("superseded trip reached the meter %d times", n)
		}
	})

	t.Run("idempotency", func(t *testing.T) {
		body := `{"target": {"meter": "` + target.Address + `"}, "action": "ping",
			"idempotency_key": "rules-1"}`
		code, first := e.submit(t, body)
		if code != http.StatusAccepted {
			t.Fatalf("first: %d", code)
		}
		code, again := e.submit(t, body)
		if code != http.StatusOK || again.ID != first.ID {
			t.Errorf("repeat: %d %s, want 200 %s", code, again.ID, first.ID)
		}
		code, _ = e.submit(t, `{"target": {"meter": "`+target.Address+`"}, "action": "read",
			"idempotency_key": "rules-1"}`)
		if code != http.StatusConflict {
			t.Errorf("different body: %d, want 409", code)
		}
	})

	t.Run("interlock and force", func(t *testing.T) {
		row := guarded
		row.Protected = true
		if row.Password != nil {
			p := *row.Password
			p.Value = "123456" // the simulator's plain password; exports leave it empty
			row.Password = &p
		}
		data, _ := json.Marshal(archive.Archive{Meters: []archive.Meter{row}})
		if code, body := e.do(t, "PUT", "/v1/archive?mode=merge", string(data)); code != 200 {
			t.Fatalf("merge: %d %s", code, body)
		}
		c := e.run(t, cmdBody(meterTarget(guarded.Address), "trip"))
		if c.State != gateway.StateFailed || c.Reason.Code != gateway.ReasonInterlockBlocked {
			t.Fatalf("trip of a protected meter: %s %+v", c.State, c.Reason)
		}
		if n := e.physical(t, guarded.Address).Trips; n != 0 {
			t.Fatalf("blocked trip reached the meter %d times", n)
		}
		c = e.run(t, `{"target": {"meter": "`+guarded.Address+`"}, "action": "trip",
			"force": true}`)
		if c.State != gateway.StateSucceeded {
			t.Fatalf("forced trip: %s %+v", c.State, c.Reason)
		}
		if got := e.physical(t, guarded.Address).Relay; got != "open" {
			t.Errorf("relay %s after the forced trip, want open", got)
		}
	})

	t.Run("events resume", func(t *testing.T) {
		first := e.readEvents(t, "0", 3)
		e.run(t, cmdBody(meterTarget(target.Address), "ping"))
		rest := e.readEvents(t, fmt.Sprint(first[len(first)-1]), 4)
		all := append(first, rest...)
		for i := 1; i < len(all); i++ {
			if all[i] != all[i-1]+1 {
				t.Fatalf("event ids %v skip or repeat at %d", all, i)
			}
		}
	})
}

// readEvents reads n event ids from the stream after lastID.
func (e *e2e) readEvents(t *testing.T, lastID string, n int) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ids []uint64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && len(ids) < n {
		var id uint64
		if _, err := fmt.Sscanf(sc.Text(), "id: %d", &id); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) < n {
		t.Fatalf("read %d events, want %d", len(ids), n)
	}
	return ids
}

// eventTypes reads the stream after lastID until an event of type want arrives or the
// timeout passes, and returns the event types read.
func (e *e2e) eventTypes(t *testing.T, lastID string, want string,
	timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var types []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var typ string
		if _, err := fmt.Sscanf(sc.Text(), "event: %s", &typ); err == nil {
			types = append(types, typ)
			if typ == want {
				break
			}
		}
	}
	return types
}

func TestTerminalEventsOnStream(t *testing.T) {
	e := start(t, 1, 1, 0, 0)
	if types := e.eventTypes(t, "0", "terminal.online", 5*time.Second); !contains(types,
		"terminal.online") {
		t.Fatalf("events %v, want terminal.online", types)
	}
	e.fault(t, simulator.FaultTarget{Terminal: "44010001"}, "offline", nil)
	if types := e.eventTypes(t, "0", "terminal.offline", 5*time.Second); !contains(types,
		"terminal.offline") {
		t.Fatalf("events %v, want terminal.offline", types)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
