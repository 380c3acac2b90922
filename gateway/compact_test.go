package gateway_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
)

func TestCompactDropsExpiredHistory(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	store, err := gateway.OpenStore(filepath.Join(t.TempDir(), "feegate.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := fastConfig()
	cfg.Retention = time.Hour
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store, Now: clock,
		Drivers: map[string]gateway.Driver{gateway.RouteTerminal: gatewaytest.New()}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e.Close(ctx)
	}()
	a, _ := archive.DecodeJSON(strings.NewReader(testArchive))
	if _, err := e.ImportArchive(a, false); err != nil {
		t.Fatal(err)
	}
	req := gateway.Request{Target: meter("000000000001"), Action: gateway.ActionPing,
		IdempotencyKey: "old"}
	old := wait(t, e, submit(t, e, req).ID)

	if n, err := e.Compact(context.Background()); err != nil || n != 0 {
		t.Fatalf("compaction within the retention deleted %d (%v), want 0", n, err)
	}
	offset.Store(int64(2 * time.Hour))
	n, err := e.Compact(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("compaction after the retention deleted %d (%v), want 1", n, err)
	}
	if _, err := e.Get(old.ID); !errors.Is(err, gateway.ErrNotFound) {
		t.Errorf("compacted command still readable: %v", err)
	}
	again, existing, err := e.Submit(req)
	if err != nil || existing || again.ID == old.ID {
		t.Errorf("key after compaction: id %v existing %v err %v, want a new command",
			again, existing, err)
	}
}

func TestBlastRadiusGuard(t *testing.T) {
	cfg := fastConfig()
	cfg.BlastRadius = 0.5
	f := newFixture(t, cfg)
	req := gateway.BatchRequest{Action: gateway.ActionTrip,
		Meters: []string{"000000000001", "000000000002", "000000000005"}}
	// Two of the terminal's four meters is exactly the limit: allowed.
	b, _, err := f.engine.SubmitBatch(req)
	if err != nil {
		t.Fatal(err)
	}
	if b.Counts[gateway.StateFailed] != 0 {
		t.Errorf("batch at the limit: counts %v, want nothing blocked", b.Counts)
	}
	req.Meters = []string{"000000000001", "000000000002", "000000000003"}
	b, _, err = f.engine.SubmitBatch(req)
	if err != nil {
		t.Fatal(err)
	}
	if b.Counts[gateway.StateFailed] != 3 {
		t.Errorf("batch over the limit: counts %v, want 3 failed", b.Counts)
	}
	list, _, _ := f.engine.List(gateway.Filter{Batch: b.ID})
	for _, c := range list {
		if c.Reason == nil || c.Reason.Code != gateway.ReasonInterlockBlocked {
			t.Errorf("command %s reason %+v, want interlock_blocked", c.ID, c.Reason)
		}
	}
	req.Force = true
	b, _, err = f.engine.SubmitBatch(req)
	if err != nil {
		t.Fatal(err)
	}
	if b.Counts[gateway.StateFailed] != 0 {
		t.Errorf("forced batch: counts %v, want nothing blocked", b.Counts)
	}
}
