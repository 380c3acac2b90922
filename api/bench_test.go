package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feegate/feegate/api"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkSubmitHTTP measures durable submissions through HTTP: 32 concurrent clients
// post commands, and each 202 means the command was written to bbolt with fsync. The
// meters' driver holds every request, so the measurement is the submission path alone.
func BenchmarkSubmitHTTP(b *testing.B) {
	store, err := gateway.OpenStore(filepath.Join(b.TempDir(), "bench.db"), time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	fake := gatewaytest.New()
	reg := prometheus.NewRegistry()
	e, err := gateway.Open(gateway.Options{Config: gateway.DefaultConfig(), Store: store,
		Registry: reg, Drivers: map[string]gateway.Driver{gateway.RouteTerminal: fake}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Options{Engine: e, Tokens: []string{token}}))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer func() {
		client.CloseIdleConnections()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		e.Close(ctx)
		store.Close()
	}()
	var sb strings.Builder
	sb.WriteString(`{"terminals": [{"address": "44010001", "kind": "concentrator",
		"heartbeat_period_s": 60, "control_turns": 0}], "meters": [`)
	const meters = 1000
	for i := 1; i <= meters; i++ {
		if i > 1 {
			sb.WriteByte(',')
		}
		addr := fmt.Sprintf("%012d", i)
		fake.SetFault(addr, gatewaytest.FaultHang, true)
		fmt.Fprintf(&sb, `{"address": "%s", "protocol": "dlt645-2007", "kind": "plain",
			"password": {"level": 2, "value": "000000"},
			"route": {"terminal": "44010001", "point": %d, "port": 31}}`, addr, i)
	}
	sb.WriteString(`]}`)
	put, _ := http.NewRequest("PUT", srv.URL+"/v1/archive", strings.NewReader(sb.String()))
	put.Header.Set("Authorization", "Bearer "+token)
	if resp, err := client.Do(put); err != nil || resp.StatusCode != 200 {
		b.Fatalf("archive import: %v %v", resp, err)
	}
	var seq atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Sprintf(`{"target": {"meter": "%012d"}, "action": "read"}`,
				n%meters+1)
			req, _ := http.NewRequest("POST", srv.URL+"/v1/commands", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "submissions/s")
}
