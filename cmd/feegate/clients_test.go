package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const fakeToken = "field-test-token"

// fakeAPI serves the CONTRACTS shapes of the feegate API from fixed data, and records the
// requests the clients send.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []string // "METHOD path?query"
	bodies   map[string][]byte
	ctypes   map[string]string
	// commandStates is the sequence of states GET /v1/commands/cmd-1 walks through, one
	// per request; the last repeats.
	commandStates []string
	commandGets   int
	// events are written on /v1/events after the stream opens.
	events []string
	// batchPolls counts GET /v1/batches/b-1.
	batchPolls int
	// lastPageGets counts reads of the last page of the batch's commands.
	lastPageGets int
}

var fakeTerminals = []string{
	`{"address":"24495845","online":true,"online_since":"2026-03-01T08:00:00Z",` +
		`"last_frame_at":"2026-03-01T08:05:00Z","remote_addr":"10.0.0.7:4116",` +
		`"heartbeat_period_s":60,"logins_24h":3,"disconnects_24h":{"heartbeat_timeout":2},` +
		`"last_disconnect":{"at":"2026-03-01T07:59:00Z","reason":"heartbeat_timeout"},` +
		`"last_error":"","flapping":false}`,
	`{"address":"44010001","online":false,"online_since":null,"last_frame_at":null,` +
		`"remote_addr":"","heartbeat_period_s":60,"logins_24h":9,` +
		`"disconnects_24h":{"peer_closed":5,"heartbeat_timeout":4},"last_disconnect":null,` +
		`"last_error":"checksum error","flapping":true}`,
	`{"address":"44010002","online":true,"online_since":null,"last_frame_at":null,` +
		`"remote_addr":"10.0.0.9:5000","heartbeat_period_s":300,"logins_24h":1,` +
		`"disconnects_24h":{},"last_disconnect":null,"last_error":"","flapping":false}`,
}

func commandJSON(id, meter, state string) string {
	reason, result := "null", "null"
	switch state {
	case "succeeded":
		result = `{"outcome":"close_allowed","relay":{"state":"open","command_state":"closed",` +
			`"guarantee":false,"alarm":false},"readings":{},"suspected_bypass":false}`
	case "failed":
		reason = `{"code":"meter_timeout","message":"no reply from the meter",` +
			`"evidence":{"attempts":3}}`
	}
	return fmt.Sprintf(`{"id":%q,"action":"allow_close","target":{"meter":%q},"state":%q,`+
		`"reason":%s,"attempts":1,"created_at":"2026-03-01T08:00:00Z",`+
		`"updated_at":"2026-03-01T08:00:01Z","batch":"","result":%s,`+
		`"history":[{"at":"2026-03-01T08:00:00Z","state":"queued"}]}`, id, meter, state,
		reason, result)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, bodies: map[string][]byte{}, ctypes: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeAPI) apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"field":""}}`, code, msg)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.requests = append(f.requests, key+"?"+r.URL.RawQuery)
	f.bodies[key] = body
	f.ctypes[key] = r.Header.Get("Content-Type")
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		f.apiError(w, http.StatusUnauthorized, "unauthorized", "missing or unknown token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case key == "GET /v1/terminals":
		items := fakeTerminals
		if r.URL.Query().Get("online") == "true" {
			items = []string{fakeTerminals[0], fakeTerminals[2]}
		}
		// Two items a page, so the client must follow the cursor.
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			fmt.Sscanf(c, "%d", &start)
		}
		end := min(start+2, len(items))
		next := ""
		if end < len(items) {
			next = fmt.Sprint(end)
		}
		fmt.Fprintf(w, `{"items":[%s],"next":%q}`, strings.Join(items[start:end], ","), next)
	case key == "GET /v1/terminals/24495845":
		fmt.Fprint(w, fakeTerminals[0])
	case strings.HasPrefix(key, "GET /v1/terminals/"):
		f.apiError(w, http.StatusNotFound, "not_found", "terminal not found")
	case key == "POST /v1/commands":
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, commandJSON("cmd-1", "000000000161", "queued"))
	case key == "GET /v1/commands/cmd-1":
		f.mu.Lock()
		state := f.commandStates[min(f.commandGets, len(f.commandStates)-1)]
		f.commandGets++
		f.mu.Unlock()
		fmt.Fprint(w, commandJSON("cmd-1", "000000000161", state))
	case key == "GET /v1/events":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": feegate events\n\n")
		w.(http.Flusher).Flush()
		for i, ev := range f.events {
			time.Sleep(10 * time.Millisecond)
			fmt.Fprintf(w, "id: %d\nevent: command\ndata: %s\n\n", i+1, ev)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	case key == "PUT /v1/archive":
		fmt.Fprint(w, `{"terminals":1,"buses":0,"links":0,"modbus_models":0,"meters":2}`)
	case key == "POST /v1/batches":
		var req batchRequest
		json.Unmarshal(body, &req)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"b-1","action":%q,"total":%d,"counts":{"queued":%d},`+
			`"created_at":"2026-03-01T08:00:00Z"}`, req.Action, len(req.Meters), len(req.Meters))
	case key == "GET /v1/batches/b-1":
		f.mu.Lock()
		f.batchPolls++
		polls := f.batchPolls
		f.mu.Unlock()
		if polls < 2 {
			fmt.Fprint(w, `{"id":"b-1","action":"trip","total":3,"counts":{"queued":1,`+
				`"sending":1,"succeeded":1},"created_at":"2026-03-01T08:00:00Z"}`)
			return
		}
		fmt.Fprint(w, `{"id":"b-1","action":"trip","total":3,"counts":{"succeeded":2,`+
			`"failed":1},"created_at":"2026-03-01T08:00:00Z"}`)
	case key == "GET /v1/commands" && r.URL.Query().Get("batch") == "b-1":
		if r.URL.Query().Get("cursor") == "" {
			fmt.Fprintf(w, `{"items":[%s,%s],"next":"2"}`,
				commandJSON("c-1", "000000000001", "succeeded"),
				commandJSON("c-2", "000000000002", "failed"))
			return
		}
		// The first listing still shows the last command in flight, as a gateway may
		// right after the batch counts reach the total.
		f.mu.Lock()
		f.lastPageGets++
		state := "succeeded"
		if f.lastPageGets == 1 {
			state = "verifying"
		}
		f.mu.Unlock()
		fmt.Fprintf(w, `{"items":[%s],"next":""}`, commandJSON("c-3", "000000000003", state))
	default:
		f.apiError(w, http.StatusNotFound, "not_found", "no route for "+key)
	}
}

func (f *fakeAPI) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// apiArgs returns the flags that point a client at the fake API.
func (f *fakeAPI) apiArgs() []string { return []string{"--api", f.srv.URL} }

func TestTerminalsFollowsCursor(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	t.Setenv("FEEGATE_TOKEN", fakeToken)
	out, err := runFeegate(t, append([]string{"terminals", "--json"}, api.apiArgs()...)...)
	if err != nil {
		t.Fatalf("terminals: %v", err)
	}
	lines := jsonLines(t, out)
	if len(lines) != 3 {
		t.Fatalf("got %d terminals, want 3 over two pages:\n%s", len(lines), out)
	}
	if lines[2]["address"] != "44010002" {
		t.Errorf("third terminal = %v, want 44010002", lines[2]["address"])
	}

	out, err = runFeegate(t, append([]string{"terminals", "--online"}, api.apiArgs()...)...)
	if err != nil {
		t.Fatalf("terminals --online: %v", err)
	}
	if strings.Contains(out, "44010001") {
		t.Errorf("offline terminal listed with --online:\n%s", out)
	}
	if !strings.Contains(out, "heartbeat_timeout=2") {
		t.Errorf("table lacks the disconnect counts:\n%s", out)
	}
	log := api.requestLog()
	if !strings.Contains(log[len(log)-1], "online=true") {
		t.Errorf("last request %q lacks online=true", log[len(log)-1])
	}
}

func TestTerminalShowDiagnosis(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	args := append([]string{"--token", fakeToken}, api.apiArgs()...)
	out, err := runFeegate(t, append([]string{"terminal", "show", "24495845"}, args...)...)
	if err != nil {
		t.Fatalf("terminal show: %v", err)
	}
	for _, want := range []string{"10.0.0.7:4116", "heartbeat_timeout=2", "logins in 24 h"} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, out)
		}
	}
	_, err = runFeegate(t, append([]string{"terminal", "show", "44019999"}, args...)...)
	var apiErr *apiError
	if !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "not_found" {
		t.Errorf("unknown terminal: err = %v, want a 404 not_found API error", err)
	}
	_, err = runFeegate(t, append([]string{"terminal", "show", "zz"}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "invalid terminal address") {
		t.Errorf("bad address: err = %v", err)
	}
}

func TestClientUnauthorizedNamesToken(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	t.Setenv("FEEGATE_TOKEN", "")
	_, err := runFeegate(t, append([]string{"terminals"}, api.apiArgs()...)...)
	if err == nil || !strings.Contains(err.Error(), "check --token") {
		t.Errorf("err = %v, want a hint to check --token", err)
	}
}

func TestCommandSubmitBody(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	t.Setenv("FEEGATE_API", api.srv.URL)
	t.Setenv("FEEGATE_TOKEN", fakeToken)
	out, err := runFeegate(t, "command", "submit", "--meter", "000000000161", "--action",
		"allow-close", "--valid-for", "5m", "--idempotency-key", "k-1", "--json")
	if err != nil {
		t.Fatalf("command submit: %v", err)
	}
	if got := jsonLines(t, out)[0]["state"]; got != "queued" {
		t.Errorf("state = %v, want queued", got)
	}
	var sent map[string]any
	if err := json.Unmarshal(api.bodies["POST /v1/commands"], &sent); err != nil {
		t.Fatal(err)
	}
	if sent["action"] != "allow_close" {
		t.Errorf("action sent = %v, want allow_close", sent["action"])
	}
	if target, _ := sent["target"].(map[string]any); target["meter"] != "000000000161" {
		t.Errorf("target sent = %v", sent["target"])
	}
	if sent["idempotency_key"] != "k-1" {
		t.Errorf("idempotency key sent = %v", sent["idempotency_key"])
	}
	deadline, _ := sent["deadline"].(string)
	if d, err := time.Parse(time.RFC3339, deadline); err != nil || time.Until(d) > 5*time.Minute {
		t.Errorf("deadline sent = %q, want RFC 3339 within 5 minutes", deadline)
	}
	if _, err := runFeegate(t, "command", "submit", "--meter", "000000000161", "--action",
		"explode"); err == nil {
		t.Error("unknown action accepted")
	}
}

func TestCommandWatchFollowsEvents(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	api.commandStates = []string{"queued"}
	api.events = []string{
		`{"id":"other","state":"sending","target":{"meter":"000000000999"}}`,
		`{"id":"cmd-1","state":"sending","target":{"meter":"000000000161"}}`,
		`{"id":"cmd-1","state":"verifying","target":{"meter":"000000000161"}}`,
		`{"id":"cmd-1","state":"succeeded","target":{"meter":"000000000161"},` +
			`"result":{"outcome":"close_allowed"}}`,
	}
	out, err := runFeegate(t, append([]string{"command", "watch", "cmd-1", "--token",
		fakeToken}, api.apiArgs()...)...)
	if err != nil {
		t.Fatalf("command watch: %v", err)
	}
	var states []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			t.Fatalf("short watch line %q", line)
		}
		states = append(states, fields[4])
	}
	want := []string{"queued", "sending", "verifying", "succeeded"}
	if strings.Join(states, " ") != strings.Join(want, " ") {
		t.Errorf("states = %v, want %v:\n%s", states, want, out)
	}
	if strings.Contains(out, "000000000999") {
		t.Errorf("watch printed another command's event:\n%s", out)
	}
}

func TestCommandWatchPollsToFailure(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	api.commandStates = []string{"queued", "sending", "failed"}
	out, err := runFeegate(t, append([]string{"command", "watch", "cmd-1", "--poll",
		"--poll-interval", "10ms", "--token", fakeToken}, api.apiArgs()...)...)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1 for a failed command", err)
	}
	if !strings.Contains(out, "meter_timeout") {
		t.Errorf("output lacks the failure reason:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("printed %d lines, want one per state (3):\n%s", n, out)
	}
}

func TestArchiveImportContentTypes(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "fleet.json")
	csvFile := filepath.Join(dir, "meters.txt")
	os.WriteFile(jsonFile, []byte(`{"terminals":[],"meters":[]}`), 0o600)
	os.WriteFile(csvFile, []byte("address,protocol\n000000000001,dlt645-2007\n"), 0o600)
	args := append([]string{"--token", fakeToken}, api.apiArgs()...)

	out, err := runFeegate(t, append([]string{"archive", "import", jsonFile}, args...)...)
	if err != nil {
		t.Fatalf("archive import json: %v", err)
	}
	if !strings.Contains(out, "2 meters") || !strings.Contains(out, "replaced") {
		t.Errorf("summary = %q", out)
	}
	if got := api.ctypes["PUT /v1/archive"]; got != "application/json" {
		t.Errorf("JSON import sent Content-Type %q", got)
	}

	if _, err := runFeegate(t, append([]string{"archive", "import", "--merge", csvFile},
		args...)...); err != nil {
		t.Fatalf("archive import csv: %v", err)
	}
	if got := api.ctypes["PUT /v1/archive"]; got != "text/csv" {
		t.Errorf("CSV import sent Content-Type %q", got)
	}
	log := api.requestLog()
	if !strings.HasSuffix(log[len(log)-1], "mode=merge") {
		t.Errorf("merge import request %q lacks mode=merge", log[len(log)-1])
	}
	if string(api.bodies["PUT /v1/archive"]) != "address,protocol\n000000000001,dlt645-2007\n" {
		t.Errorf("CSV body = %q", api.bodies["PUT /v1/archive"])
	}
}

func TestBatchProgressAndResultCSV(t *testing.T) {
	checkLeaks(t)
	api := newFakeAPI(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "meters.csv")
	os.WriteFile(in, []byte("protocol,address\n# arrears list\ndlt645-2007,000000000001\n"+
		"dlt645-2007,000000000002\n\ndlt645-2007,000000000003\n"), 0o600)
	result := filepath.Join(dir, "result.csv")
	cmd := newRootCommand()
	var stdout, stderr strings.Builder
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append([]string{"batch", "--action", "trip", "--file", in, "--output", result,
		"--poll-interval", "10ms", "--token", fakeToken}, api.apiArgs()...))
	err := cmd.Execute()
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1 for the failed command", err)
	}
	var sent batchRequest
	if err := json.Unmarshal(api.bodies["POST /v1/batches"], &sent); err != nil {
		t.Fatal(err)
	}
	if strings.Join(sent.Meters, ",") != "000000000001,000000000002,000000000003" {
		t.Errorf("meters sent = %v", sent.Meters)
	}
	if !strings.Contains(stderr.String(), "3/3") {
		t.Errorf("progress lacks 3/3:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress redraws with \\r although standard error is no terminal: %q",
			stderr.String())
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
	if len(rows) != 4 {
		t.Fatalf("result has %d rows, want header and 3:\n%v", len(rows), rows)
	}
	if strings.Join(rows[0], ",") != strings.Join(resultColumns, ",") {
		t.Errorf("header = %v", rows[0])
	}
	if rows[2][0] != "000000000002" || rows[2][2] != "failed" || rows[2][3] != "meter_timeout" {
		t.Errorf("failed row = %v", rows[2])
	}
	if rows[1][5] != "close_allowed" || rows[1][6] != "open" {
		t.Errorf("succeeded row = %v", rows[1])
	}
	if rows[3][2] != "succeeded" {
		t.Errorf("last row = %v, want the final state read again after verifying", rows[3])
	}
}

func TestBatchRejectsBadMeterList(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"invalid": "000000000001\n0000000000XY\n",
		"repeat":  "000000000001\n000000000001\n",
		"empty":   "address\n",
	}
	for name, content := range cases {
		path := filepath.Join(dir, name+".csv")
		os.WriteFile(path, []byte(content), 0o600)
		_, err := readMeterList(path)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := readMeterList(filepath.Join(dir, "invalid.csv")); err == nil ||
		!strings.Contains(err.Error(), "line 2") {
		t.Errorf("invalid address error %v does not name line 2", err)
	}
}
