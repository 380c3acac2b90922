package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/api"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Keep-alive client connections of the benchmark close asynchronously.
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"))
}

const token = "test-token-1"

const archiveJSON = `{
 "terminals": [{"address": "44010001", "kind": "concentrator", "heartbeat_period_s": 60,
   "control_turns": 2}],
 "meters": [
  {"address": "000000000001", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "654321"},
   "route": {"terminal": "44010001", "point": 1, "port": 31}},
  {"address": "000000000002", "protocol": "dlt645-2007", "kind": "plain",
   "password": {"level": 2, "value": "654321"},
   "route": {"terminal": "44010001", "point": 2, "port": 31}},
  {"address": "000000000004", "protocol": "dlt645-1997", "kind": "plain",
   "route": {"terminal": "44010001", "point": 4, "port": 2}}
 ]}`

type env struct {
	srv    *httptest.Server
	engine *gateway.Engine
	fake   *gatewaytest.Driver
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := gateway.OpenStore(filepath.Join(t.TempDir(), "api.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	fake := gatewaytest.New()
	cfg := gateway.DefaultConfig()
	cfg.VerifyInterval = 5 * time.Millisecond
	cfg.VerifyWindow = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store, Registry: reg,
		Drivers: map[string]gateway.Driver{gateway.RouteTerminal: fake}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Engine: e, Tokens: []string{token},
		Gatherer: reg}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		// A short drain: some tests leave a command hanging on purpose.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		e.Close(ctx)
		store.Close()
	})
	ev := &env{srv: srv, engine: e, fake: fake}
	if code, body := ev.do(t, "PUT", "/v1/archive", archiveJSON, nil); code != 200 {
		t.Fatalf("archive import: %d %s", code, body)
	}
	return ev
}

// do sends one authenticated request and returns the status and body.
func (e *env) do(t *testing.T, method, path, body string, hdr map[string]string) (int,
	string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

type errResp struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (e *env) waitFinal(t *testing.T, id string) gateway.Command {
	t.Helper()
	for i := 0; i < 2000; i++ {
		code, body := e.do(t, "GET", "/v1/commands/"+id, "", nil)
		if code != 200 {
			t.Fatalf("get %s: %d %s", id, code, body)
		}
		c := decode[gateway.Command](t, body)
		if c.State.Final() {
			return c
		}
		time.Sleep(3 * time.Millisecond)
	}
	t.Fatalf("command %s did not finish", id)
	return gateway.Command{}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "Bearer wrong", "Basic " + token, "Bearer " + token + "x",
		"Bearer " + token[:len(token)-1], "Bearer ", "Bearer  " + token} {
		code, body := e.do(t, "GET", "/v1/commands", "", map[string]string{"Authorization": h})
		if code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", h, code)
		}
		if got := decode[errResp](t, body).Error.Code; got != "unauthorized" {
			t.Errorf("Authorization %q: code %q", h, got)
		}
	}
	// The authentication scheme name is case-insensitive (RFC 7235, section 2.1).
	for _, h := range []string{"bearer " + token, "BEARER " + token} {
		code, _ := e.do(t, "GET", "/v1/commands", "", map[string]string{"Authorization": h})
		if code != http.StatusOK {
			t.Errorf("Authorization %q: %d, want 200", h, code)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		resp, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s without token: %d, want 200", p, resp.StatusCode)
		}
	}
}

func TestSubmitAndIdempotency(t *testing.T) {
	e := newEnv(t)
	body := `{"target": {"meter": "000000000001"}, "action": "trip", "idempotency_key": "a"}`
	code, resp := e.do(t, "POST", "/v1/commands", body, nil)
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", code, resp)
	}
	first := decode[gateway.Command](t, resp)
	code, resp = e.do(t, "POST", "/v1/commands", body, nil)
	if code != http.StatusOK || decode[gateway.Command](t, resp).ID != first.ID {
		t.Fatalf("repeat: %d %s, want 200 with %s", code, resp, first.ID)
	}
	other := `{"target": {"meter": "000000000002"}, "action": "trip", "idempotency_key": "a"}`
	code, resp = e.do(t, "POST", "/v1/commands", other, nil)
	if code != http.StatusConflict {
		t.Fatalf("different body: %d %s, want 409", code, resp)
	}
	c := e.waitFinal(t, first.ID)
	if c.State != gateway.StateSucceeded || c.Result.Outcome != "tripped" {
		t.Fatalf("trip: %s %+v", c.State, c.Result)
	}
}

func TestBadInputOnEveryEndpoint(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/v1/commands", `{`, 400, ""},
		{"POST", "/v1/commands", ``, 400, ""},
		{"POST", "/v1/commands", `{"target": {"meter": "1"}, "action": "trip"}`, 400,
			"target.meter"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "boom"}`,
			400, "action"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "trip",
			"deadline": "tomorrow"}`, 400, "deadline"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "trip",
			"deadline": "2001-01-01T00:00:00Z"}`, 400, "deadline"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "trip",
			"colour": "red"}`, 400, "colour"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001", "colour": "red"},
			"action": "trip"}`, 400, "target.colour"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": ["000000000001"],
			"Colour": 1}`, 400, "Colour"},
		{"POST", "/v1/commands", `{"target": {"meter": 1}, "action": "trip"}`, 400,
			"target.meter"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "read",
			"items": ["weather"]}`, 400, "items[0]"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000001"}, "action": "trip",
			"operator": "12"}`, 400, "operator"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000004"}, "action": "trip"}`,
			422, "action"},
		{"POST", "/v1/commands", `{"target": {"meter": "000000000009"}, "action": "trip"}`,
			422, "target.meter"},
		{"POST", "/v1/commands", `{"target": {"terminal": "4401"}, "action": "trip"}`, 400,
			"target.terminal"},
		{"GET", "/v1/commands/c0000000000000999", "", 404, "id"},
		{"GET", "/v1/commands?state=lost", "", 400, "state"},
		{"GET", "/v1/commands?limit=0", "", 400, "limit"},
		{"GET", "/v1/commands?limit=x", "", 400, "limit"},
		{"GET", "/v1/commands?meter=12", "", 400, "meter"},
		{"GET", "/v1/commands?cursor=zz", "", 400, "cursor"},
		{"POST", "/v1/commands/c0000000000000999/cancel", "", 404, "id"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": []}`, 400, "meters"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": ["000000000001", "x"]}`, 400,
			"meters[1]"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": ["000000000001",
			"000000000001"]}`, 400, "meters[1]"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": ["000000000004"]}`, 422,
			"meters[0]"},
		{"POST", "/v1/batches", `{"action": "trip", "meters": ["000000000009"]}`, 422,
			"meters[0]"},
		{"GET", "/v1/batches/b0000000000000999", "", 404, "id"},
		{"POST", "/v1/batches/b0000000000000999/cancel", "", 404, "id"},
		{"GET", "/v1/terminals?online=maybe", "", 400, "online"},
		{"GET", "/v1/terminals?limit=5000", "", 400, "limit"},
		{"GET", "/v1/terminals/xyz", "", 400, "a1a2"},
		{"GET", "/v1/terminals/4401ZZZZ", "", 400, "a1a2"},
		{"GET", "/v1/terminals/44010000", "", 400, "a1a2"},
		{"GET", "/v1/terminals/44019999", "", 404, "address"},
		{"GET", "/v1/meters/abc", "", 400, "address"},
		{"GET", "/v1/meters/000000000009", "", 404, "address"},
		{"PUT", "/v1/archive?mode=sideways", `{}`, 400, "mode"},
		{"PUT", "/v1/archive", `{"meters": [{"address": "1"}]}`, 400, ""},
		{"GET", "/v1/archive?format=xml", "", 400, "format"},
		{"GET", "/v1/events", "", 400, "Last-Event-ID"},
	}
	for _, tc := range cases {
		hdr := map[string]string{}
		if tc.path == "/v1/events" {
			hdr["Last-Event-ID"] = "yesterday"
		}
		code, body := e.do(t, tc.method, tc.path, tc.body, hdr)
		if code != tc.status {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, code, body,
				tc.status)
			continue
		}
		got := decode[errResp](t, body)
		if got.Error.Code == "" || got.Error.Message == "" {
			t.Errorf("%s %s: error without code or message: %s", tc.method, tc.path, body)
		}
		if tc.field != "" && got.Error.Field != tc.field {
			t.Errorf("%s %s %s: field %q, want %q", tc.method, tc.path, tc.body,
				got.Error.Field, tc.field)
		}
	}
	code, body := e.do(t, "GET", "/v1/commands", "", nil)
	if code != 200 || !strings.Contains(body, `"items":[]`) {
		t.Errorf("after bad input the command list is %d %s, want empty", code, body)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"target": {"meter": "000000000001"}, "action": "trip", "operator": "` +
		strings.Repeat("1", 70<<10) + `"}`
	code, body := e.do(t, "POST", "/v1/commands", big, nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized command: %d %s, want 413", code, body)
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 5; i++ {
		code, body := e.do(t, "POST", "/v1/commands",
			`{"target": {"meter": "000000000001"}, "action": "ping"}`, nil)
		if code != 202 {
			t.Fatalf("submit: %d %s", code, body)
		}
		ids = append(ids, decode[gateway.Command](t, body).ID)
	}
	var seen []string
	cursor := ""
	for page := 0; page < 10; page++ {
		code, body := e.do(t, "GET", "/v1/commands?limit=2&cursor="+cursor, "", nil)
		if code != 200 {
			t.Fatalf("list: %d %s", code, body)
		}
		p := decode[struct {
			Items []gateway.Command `json:"items"`
			Next  *string           `json:"next"`
		}](t, body)
		for _, c := range p.Items {
			seen = append(seen, c.ID)
		}
		if p.Next == nil {
			break
		}
		cursor = *p.Next
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Errorf("pages gave %v, want %v", seen, ids)
	}
}

func TestArchivePasswordsNeverReturned(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/v1/archive", "/v1/archive?format=csv", "/v1/meters/000000000001"} {
		code, body := e.do(t, "GET", p, "", nil)
		if code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
		if strings.Contains(body, "654321") {
			t.Errorf("%s returns the password: %s", p, body)
		}
	}
	csv := "address,protocol,kind,terminal,point,port,baud,bus,link,modbus_endpoint," +
		"modbus_unit,modbus_model,password_level,password,meter_number,protected\n" +
		"000000000003,dlt645-2007,plain,44010001,3,31,,,,,,,2,111111,,false\n"
	code, body := e.do(t, "PUT", "/v1/archive?mode=merge", csv,
		map[string]string{"Content-Type": "text/csv"})
	if code != 200 || !strings.Contains(body, `"meters":4`) {
		t.Fatalf("merge CSV: %d %s, want 4 meters", code, body)
	}
	code, body = e.do(t, "PUT", "/v1/archive", csv,
		map[string]string{"Content-Type": "text/csv"})
	if code != 200 || !strings.Contains(body, `"meters":1`) {
		t.Fatalf("replace CSV: %d %s, want 1 meter", code, body)
	}
}

func TestBatchCreateAndCancel(t *testing.T) {
	e := newEnv(t)
	e.fake.SetFault("000000000001", gatewaytest.FaultHang, true)
	code, body := e.do(t, "POST", "/v1/batches", `{"action": "ping",
		"meters": ["000000000001", "000000000002", "000000000004"],
		"deadline": "`+time.Now().Add(time.Minute).Format(time.RFC3339)+`"}`, nil)
	if code != 202 {
		t.Fatalf("batch: %d %s", code, body)
	}
	b := decode[gateway.Batch](t, body)
	if b.Total != 3 {
		t.Fatalf("batch total %d, want 3", b.Total)
	}
	code, body = e.do(t, "POST", "/v1/batches/"+b.ID+"/cancel", "", nil)
	if code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	b = decode[gateway.Batch](t, body)
	sum := 0
	for _, n := range b.Counts {
		sum += n
	}
	if sum != 3 || b.Counts[gateway.StateCancelled] == 0 {
		t.Errorf("counts after cancel %v, want 3 in all with some cancelled", b.Counts)
	}
}

// readEvents reads n events from an SSE stream, resuming after lastID when it is not "".
func readEvents(t *testing.T, e *env, lastID string, n int) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
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
	return ids
}

func TestEventsResumeWithoutGapOrDuplicate(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		c := decodeSubmit(t, e, `{"target": {"meter": "000000000001"}, "action": "ping"}`)
		e.waitFinal(t, c)
	}
	first := readEvents(t, e, "0", 4)
	if len(first) != 4 {
		t.Fatalf("read %d events, want 4", len(first))
	}
	rest := readEvents(t, e, fmt.Sprint(first[3]), 5)
	all := append(first, rest...)
	for i := 1; i < len(all); i++ {
		if all[i] != all[i-1]+1 {
			t.Fatalf("event ids %v are not consecutive at %d", all, i)
		}
	}
}

func decodeSubmit(t *testing.T, e *env, body string) string {
	t.Helper()
	code, resp := e.do(t, "POST", "/v1/commands", body, nil)
	if code != 202 {
		t.Fatalf("submit: %d %s", code, resp)
	}
	return decode[gateway.Command](t, resp).ID
}

func TestOpenAPIMatchesServedRoutes(t *testing.T) {
	e := newEnv(t)
	code, body := e.do(t, "GET", "/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	doc := decode[struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}](t, body)
	want := []string{"POST /v1/commands", "GET /v1/commands", "GET /v1/commands/{id}",
		"POST /v1/commands/{id}/cancel", "POST /v1/batches", "GET /v1/batches/{id}",
		"POST /v1/batches/{id}/cancel", "GET /v1/terminals", "GET /v1/terminals/{a1a2}",
		"GET /v1/meters/{address}", "PUT /v1/archive", "GET /v1/archive", "GET /v1/events",
		"GET /openapi.json", "GET /metrics", "GET /healthz", "GET /readyz"}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	for _, w := range want {
		if !documented[w] {
			t.Errorf("%s is not in the OpenAPI document", w)
		}
	}
	if len(documented) != len(want) {
		t.Errorf("document lists %d operations, want %d", len(documented), len(want))
	}
	// Every documented operation is served: its status is neither the mux's 404 nor its
	// 405.
	for op := range documented {
		method, path, _ := strings.Cut(op, " ")
		if path == "/v1/events" {
			continue // a stream; TestEventsResumeWithoutGapOrDuplicate covers it
		}
		path = strings.NewReplacer("{id}", "c0000000000000001", "{a1a2}", "44010001",
			"{address}", "000000000001").Replace(path)
		code, body := e.do(t, method, path, "", nil)
		if code == http.StatusMethodNotAllowed {
			t.Errorf("%s: 405", op)
		}
		if code == http.StatusNotFound && strings.Contains(body, "no route") {
			t.Errorf("%s: not routed", op)
		}
	}
}
