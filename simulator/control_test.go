package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestControlAPIRejectsBadFaults sends malformed and out-of-range fault requests to the
// control API: each must get a 4xx with an error object, and none may switch a fault on.
func TestControlAPIRejectsBadFaults(t *testing.T) {
	f, err := New(Options{Gateway: "127.0.0.1:1", Terminals: 1, MetersPerTerminal: 2,
		Seed: 3, Control: "-"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	meterAddr := f.order[0].m.State(time.Now()).Address
	termAddr := f.terminals[0].Address().String()
	m := `{"meter": "` + meterAddr + `"}`
	term := `{"terminal": "` + termAddr + `"}`

	cases := []struct {
		name string
		body string
		want int
	}{
		{"truncated JSON", `{"target": `, 400},
		{"not an object", `[1, 2]`, 400},
		{"null body", `null`, 400},
		{"empty target", `{"target": {}, "fault": "silent"}`, 400},
		{"both targets", `{"target": {"meter": "` + meterAddr + `", "terminal": "` +
			termAddr + `"}, "fault": "silent"}`, 400},
		{"unknown meter", `{"target": {"meter": "999999999999"}, "fault": "silent"}`, 404},
		{"unknown terminal", `{"target": {"terminal": "99999999"}, "fault": "silent"}`, 404},
		{"unknown meter fault", `{"target": ` + m + `, "fault": "melted"}`, 400},
		{"unknown terminal fault", `{"target": ` + term + `, "fault": "melted"}`, 400},
		{"terminal fault on a meter", `{"target": ` + m + `, "fault": "half_open"}`, 400},
		{"rate above 1", `{"target": ` + term + `, "fault": "corrupt", "params": {"rate": 5}}`,
			400},
		{"negative rate", `{"target": ` + term +
			`, "fault": "corrupt", "params": {"rate": -0.5}}`, 400},
		{"NaN rate", `{"target": ` + term + `, "fault": "corrupt", "params": {"rate": "NaN"}}`,
			400},
		{"rate as object", `{"target": ` + term +
			`, "fault": "corrupt", "params": {"rate": {}}}`, 400},
		{"negative delay", `{"target": ` + m + `, "fault": "slow", "params": {"delay": "-1s"}}`,
			400},
		{"huge delay", `{"target": ` + m + `, "fault": "slow", "params": {"delay": 1e300}}`,
			400},
		{"year-long delay", `{"target": ` + m +
			`, "fault": "slow", "params": {"delay": "8760h"}}`, 400},
		{"misspelt param", `{"target": ` + m + `, "fault": "slow", "params": {"dealy": "1s"}}`,
			400},
		{"param on a fault without params", `{"target": ` + term +
			`, "fault": "silent", "params": {"rate": 0.5}}`, 400},
		{"skew past the date range", `{"target": ` + m +
			`, "fault": "clock_skew", "params": {"offset": "1000000h"}}`, 400},
	}
	for _, tc := range cases {
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(method, srv.URL+"/faults", strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, tc.name, err)
			}
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: status %d, want %d (%s)", method, tc.name, resp.StatusCode,
					tc.want, body.Error.Message)
			}
			if derr != nil || body.Error.Message == "" {
				t.Errorf("%s %s: no error object in the response (%v)", method, tc.name, derr)
			}
		}
	}

	// Nothing above switched a fault on, and the state still encodes as JSON.
	for _, path := range []string{"/terminals", "/meters"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		var items []map[string]any
		if err := json.Unmarshal(buf.Bytes(), &items); err != nil {
			t.Fatalf("GET %s after bad faults: %v in %q", path, err, buf.String())
		}
		for _, it := range items {
			if faults, ok := it["faults"].(map[string]any); ok && len(faults) > 0 {
				t.Errorf("GET %s: a rejected request left faults %v", path, faults)
			}
			if faults, ok := it["faults"].([]any); ok && len(faults) > 0 {
				t.Errorf("GET %s: a rejected request left faults %v", path, faults)
			}
		}
	}

	// Valid parameters still work.
	valid := []string{
		`{"target": ` + term + `, "fault": "corrupt", "params": {"rate": 0.5}}`,
		`{"target": ` + m + `, "fault": "slow", "params": {"delay": "300ms"}}`,
		`{"target": ` + m + `, "fault": "clock_skew", "params": {"offset": "-48h"}}`,
		`{"target": ` + m + `, "fault": "clock_skew", "params": {"offset": 3600}}`,
	}
	for _, body := range valid {
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("PUT %s: status %d, want 200", body, resp.StatusCode)
		}
	}
}

// TestControlAPIBoundsBodies sends a body of several megabytes: the API must reject it
// with 400 after reading at most its bound, not buffer all of it.
func TestControlAPIBoundsBodies(t *testing.T) {
	f, err := New(Options{Gateway: "127.0.0.1:1", Terminals: 1, MetersPerTerminal: 1,
		Seed: 3, Control: "-"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	// Valid requests, padded with white space inside the object.
	term := f.terminals[0].Address().String()
	pad := strings.Repeat(" ", 8<<20)
	bodies := map[string]string{
		"/faults":                       `{"target": {"terminal": "` + term + `"}, "fault": "silent"` + pad + `}`,
		"/terminals/" + term + "/power": `{"on": true` + pad + `}`,
	}
	for path, body := range bodies {
		method := http.MethodPut
		if strings.HasSuffix(path, "/power") {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s with an 8 MiB body: status %d, want 400", method, path,
				resp.StatusCode)
		}
	}
}

// TestControlAPIConcurrentCalls switches power and faults and reads state from many
// goroutines at once against a running fleet, for the race detector.
func TestControlAPIConcurrentCalls(t *testing.T) {
	g := newTestGateway(t)
	f, base := startFleet(t, g, Options{Terminals: 2, MetersPerTerminal: 2})
	if g.wait(t, 5*time.Second) == nil {
		t.Fatal("no terminal connected")
	}
	term := f.terminals[0].Address().String()
	meterAddr := f.order[0].m.State(time.Now()).Address
	bodies := []struct{ method, path, body string }{
		{http.MethodPost, "/terminals/" + term + "/power", `{"on": false}`},
		{http.MethodPost, "/terminals/" + term + "/power", `{"on": true}`},
		{http.MethodPut, "/faults", `{"target": {"terminal": "` + term + `"}, "fault": "flapping"}`},
		{http.MethodDelete, "/faults", `{"target": {"terminal": "` + term +
			`"}, "fault": "flapping"}`},
		{http.MethodPut, "/faults", `{"target": {"meter": "` + meterAddr +
			`"}, "fault": "bypass"}`},
		{http.MethodPost, "/meters/" + meterAddr + "/button", ``},
		{http.MethodGet, "/terminals", ``},
		{http.MethodGet, "/meters", ``},
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := range 20 {
				b := bodies[(w+i)%len(bodies)]
				req, _ := http.NewRequest(b.method, base+b.path, strings.NewReader(b.body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", b.method, b.path, err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s %s: status %d", b.method, b.path, resp.StatusCode)
				}
			}
		}(w)
	}
	wg.Wait()
}
