package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// readCommandJSON is a succeeded read of status word 3 and the forward energy, with the
// readings in the API's {name: {value, unit}} shape.
const readCommandJSON = `{"id":"cmd-r","action":"read","target":{"meter":"000000000161"},` +
	`"state":"succeeded","reason":null,"attempts":1,"created_at":"2026-03-01T08:00:00Z",` +
	`"updated_at":"2026-03-01T08:00:02Z","batch":"","result":{"outcome":"read",` +
	`"relay":null,"readings":{"status_word_3":{"value":{"raw":"1050","relay":"open",` +
	`"relay_command":"open","pre_trip_alarm":false,"guarantee":true,` +
	`"meter_type":"money_prepaid"}},"energy_forward_total":{"value":1234.56,"unit":"kWh"}},` +
	`"suspected_bypass":false},"history":[{"at":"2026-03-01T08:00:00Z","state":"queued"},` +
	`{"at":"2026-03-01T08:00:02Z","state":"succeeded"}]}`

// commandSteps serves POST /v1/commands and then one command object per GET, the last
// repeating. It rejects /v1/events so that watch polls.
type commandSteps struct {
	mu    sync.Mutex
	steps []string
	gets  int
}

func (s *commandSteps) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/commands":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, s.steps[0])
		case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/commands/"):
			fmt.Fprint(w, s.steps[min(s.gets, len(s.steps)-1)])
			s.gets++
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"not found","field":""}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCommandShowStatusWordReadable(t *testing.T) {
	s := &commandSteps{steps: []string{readCommandJSON}}
	url := s.start(t)
	out, err := runFeegate(t, "command", "show", "cmd-r", "--api", url, "--token", fakeToken)
	if err != nil {
		t.Fatalf("command show: %v", err)
	}
	if strings.Contains(out, "map[") {
		t.Errorf("output prints a Go map:\n%s", out)
	}
	for _, want := range []string{"0x1050", "relay=open", "relay_command=open", "guarantee",
		"1234.56 kWh"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pre_trip_alarm") {
		t.Errorf("output names a bit that is not set:\n%s", out)
	}
}

func TestCommandSubmitWatchPrintsReadings(t *testing.T) {
	queued := strings.Replace(readCommandJSON, `"state":"succeeded"`, `"state":"queued"`, 1)
	s := &commandSteps{steps: []string{queued, readCommandJSON}}
	url := s.start(t)
	out, err := runFeegate(t, "command", "submit", "--meter", "000000000161", "--action",
		"read", "--item", "status_word_3", "--watch", "--poll", "--poll-interval", "10ms",
		"--api", url, "--token", fakeToken)
	if err != nil {
		t.Fatalf("command submit --watch: %v\n%s", err, out)
	}
	for _, want := range []string{"succeeded", "energy_forward_total", "1234.56 kWh",
		"0x1050"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch output lacks %q:\n%s", want, out)
		}
	}
}

func TestCommandWatchPrintsRetries(t *testing.T) {
	entry := func(at, state, detail string) string {
		return fmt.Sprintf(`{"at":"2026-03-01T08:%s:00Z","state":%q,"detail":%q}`, at, state,
			detail)
	}
	step := func(state string, history ...string) string {
		return fmt.Sprintf(`{"id":"cmd-1","action":"trip","target":{"meter":"000000000161"},`+
			`"state":%q,"reason":null,"attempts":1,"result":null,"history":[%s]}`, state,
			strings.Join(history, ","))
	}
	h1 := entry("00", "queued", "")
	h2 := entry("01", "sending", "attempt 1")
	h3 := entry("02", "sending", "attempt 2 after terminal timeout")
	h4 := entry("03", "sending", "attempt 3 after terminal timeout")

	s := &commandSteps{steps: []string{
		step("queued", h1),
		step("sending", h1, h2),
		step("sending", h1, h2, h3),
		step("sending", h1, h2, h3, h4),
		strings.Replace(step("failed", h1, h2, h3, h4), `"reason":null`,
			`"reason":{"code":"terminal_timeout","message":"no reply from the terminal"}`, 1),
	}}
	url := s.start(t)

	out, err := runFeegate(t, "command", "watch", "cmd-1", "--poll", "--poll-interval",
		"10ms", "--api", url, "--token", fakeToken)
	if err == nil {
		t.Fatalf("watch of a failed command: no error\n%s", out)
	}
	for _, want := range []string{"attempt 2 after terminal timeout",
		"attempt 3 after terminal timeout", "terminal_timeout"} {
		if !strings.Contains(out, want) {
			t.Errorf("watch output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "attempt 2 after"); n != 1 {
		t.Errorf("history entry printed %d times, want once:\n%s", n, out)
	}
}

func TestCommandWatchStillLine(t *testing.T) {
	step := func(state string) string {
		return fmt.Sprintf(`{"id":"cmd-1","action":"ping","target":{"meter":"000000000161"},`+
			`"state":%q,"reason":null,"attempts":0,"result":null,"history":[]}`, state)
	}
	steps := []string{step("queued")}
	for range 15 {
		steps = append(steps, step("sending"))
	}
	steps = append(steps, step("succeeded"))
	s := &commandSteps{steps: steps}
	url := s.start(t)
	out, err := runFeegate(t, "command", "watch", "cmd-1", "--poll", "--poll-interval",
		"10ms", "--still-interval", "50ms", "--api", url, "--token", fakeToken)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	if !strings.Contains(out, "still sending after") {
		t.Errorf("watch printed no line while the command stayed sending:\n%s", out)
	}
	if strings.Contains(out, "still succeeded") || strings.Contains(out, "still queued after 0") {
		t.Errorf("watch printed a misleading still line:\n%s", out)
	}

	s.mu.Lock()
	s.gets = 0
	s.mu.Unlock()
	out, err = runFeegate(t, "command", "watch", "cmd-1", "--poll", "--poll-interval",
		"10ms", "--still-interval", "0", "--api", url, "--token", fakeToken)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	if strings.Contains(out, "still") {
		t.Errorf("--still-interval 0 printed a still line:\n%s", out)
	}
}
