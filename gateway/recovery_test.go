package gateway_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
)

// crashWhileSending leaves a trip of meter 000000000002 in state sending in the store at
// path, as a crash between sending and the reply would, and returns its id.
func crashWhileSending(t *testing.T, path string) string {
	t.Helper()
	fake := gatewaytest.New()
	fake.SetFault("000000000002", gatewaytest.FaultHang, true)
	f := openEngine(t, path, fastConfig(), fake)
	a, err := archive.DecodeJSON(strings.NewReader(testArchive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	c := submit(t, f.engine, gateway.Request{Target: meter("000000000002"),
		Action: gateway.ActionTrip, Deadline: ptr(time.Now().Add(time.Minute))})
	for i := 0; ; i++ {
		got, err := f.engine.Get(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == gateway.StateSending {
			break
		}
		if i > 1000 {
			t.Fatalf("command stayed %s", got.State)
		}
		time.Sleep(2 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.engine.Close(ctx) // abandons the hanging request
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestRecoveryVerifiesWithoutResending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	id := crashWhileSending(t, path)
	fake := gatewaytest.New()
	m := fake.Device("000000000002")
	m.Open, m.CommandOpen = true, true // the meter executed the trip before the crash
	f := openEngine(t, path, fastConfig(), fake)
	defer f.close(t)
	c := wait(t, f.engine, id)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("recovered command %s %+v, want succeeded", c.State, c.Reason)
	}
	if n := fake.Operations("000000000002", gateway.ActionTrip); n != 0 {
		t.Errorf("trip sent %d times after restart, want 0", n)
	}
}

func TestRecoverySendsOnceWhenMeterLacksCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	id := crashWhileSending(t, path)
	fake := gatewaytest.New()
	f := openEngine(t, path, fastConfig(), fake)
	defer f.close(t)
	c := wait(t, f.engine, id)
	if c.State != gateway.StateSucceeded {
		t.Fatalf("recovered command %s %+v, want succeeded", c.State, c.Reason)
	}
	if n := fake.Operations("000000000002", gateway.ActionTrip); n != 1 {
		t.Errorf("trip sent %d times after restart, want 1", n)
	}
}

func TestQueuedCommandsResumeAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	crashWhileSending(t, path)
	// The crash left one trip sending; queue more behind a hang, then stop again.
	fake := gatewaytest.New()
	fake.SetFault("000000000002", gatewaytest.FaultHang, true)
	f := openEngine(t, path, fastConfig(), fake)
	queued := submit(t, f.engine, gateway.Request{Target: meter("000000000001"),
		Action: gateway.ActionPing, Deadline: ptr(time.Now().Add(time.Minute))})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	f.engine.Close(ctx)
	cancel()
	f.store.Close()

	f = openEngine(t, path, fastConfig(), gatewaytest.New())
	defer f.close(t)
	if c := wait(t, f.engine, queued.ID); c.State != gateway.StateSucceeded {
		t.Fatalf("queued command after restart: %s %+v", c.State, c.Reason)
	}
}

func TestBatchOfHundredThousandCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	cfg := fastConfig()
	f := newFixture(t, cfg)
	// Build an archive of 100,000 meters behind 1,000 terminals; 10,000 behind 100 under
	// the race detector, which makes the full size take minutes.
	total := 100_000
	if raceEnabled {
		total = 10_000
	}
	var sb strings.Builder
	sb.WriteString(`{"terminals": [`)
	for i := 0; i < total/100; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"address": "4401` + hex4(i+1) + `", "kind": "concentrator", ` +
			`"heartbeat_period_s": 60, "control_turns": 0}`)
	}
	sb.WriteString(`], "meters": [`)
	meters := make([]string, 0, total)
	for i := 0; i < total; i++ {
		addr := pad12(i + 1)
		meters = append(meters, addr)
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"address": "` + addr + `", "protocol": "dlt645-2007", "kind": ` +
			`"plain", "password": {"level": 2, "value": "000000"}, "route": {"terminal": "4401` +
			hex4(i/100+1) + `", "point": ` + itoa(i%100+1) + `, "port": 31}}`)
	}
	sb.WriteString(`]}`)
	start := time.Now()
	a, err := archive.DecodeJSON(strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("archive of %d meters imported in %s", total, time.Since(start))
	f.fake.Delay = 50 * time.Millisecond
	start = time.Now()
	b, _, err := f.engine.SubmitBatch(gateway.BatchRequest{Action: gateway.ActionPing,
		Meters: meters, Deadline: ptr(time.Now().Add(10 * time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != total {
		t.Fatalf("total %d", b.Total)
	}
	t.Logf("batch created in %s", time.Since(start))
	start = time.Now()
	b, err = f.engine.CancelBatch(b.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch cancelled in %s", time.Since(start))
	// Commands already sent finish on their own; wait until none is in flight.
	for i := 0; i < 1000; i++ {
		b, _ = f.engine.Batch(b.ID)
		if b.Counts[gateway.StateSending]+b.Counts[gateway.StateVerifying]+
			b.Counts[gateway.StateQueued] == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	sum := 0
	for _, n := range b.Counts {
		sum += n
	}
	if sum != total {
		t.Errorf("counts %v sum to %d, want %d", b.Counts, sum, total)
	}
	if b.Counts[gateway.StateCancelled] < total*9/10 {
		t.Errorf("only %d cancelled: %v", b.Counts[gateway.StateCancelled], b.Counts)
	}
	list, _, err := f.engine.List(gateway.Filter{Batch: b.ID, State: gateway.StateCancelled,
		Limit: 10})
	if err != nil || len(list) != 10 {
		t.Errorf("listing cancelled batch commands: %d, %v", len(list), err)
	}
}

func hex4(n int) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[n>>12&15], digits[n>>8&15], digits[n>>4&15], digits[n&15]})
}

func pad12(n int) string {
	s := itoa(n)
	return strings.Repeat("0", 12-len(s)) + s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
