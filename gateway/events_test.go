package gateway_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/gateway"
)

func openHub(t *testing.T, path string, buffer int) (*gateway.Engine, *gateway.Store) {
	t.Helper()
	store, err := gateway.OpenStore(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.EventBuffer = buffer
	e, err := gateway.Open(gateway.Options{Config: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

func closeHub(e *gateway.Engine, s *gateway.Store) {
	e.Close(context.Background())
	s.Close()
}

func TestEventsRingReportsLoss(t *testing.T) {
	e, s := openHub(t, filepath.Join(t.TempDir(), "feegate.db"), 4)
	defer closeHub(e, s)
	hub := e.Events()
	for i := 0; i < 10; i++ {
		hub.Publish("test", i)
	}
	last := hub.LastID()
	evs, lost, err := hub.After(context.Background(), last-9, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !lost {
		t.Error("resuming before the oldest buffered event did not report the loss")
	}
	if len(evs) != 4 || evs[0].ID != last-3 || evs[3].ID != last {
		t.Errorf("got %d events from %d, want the 4 buffered ending at %d", len(evs),
			evs[0].ID, last)
	}
	evs, lost, _ = hub.After(context.Background(), last-2, 100)
	if lost || len(evs) != 2 || evs[0].ID != last-1 {
		t.Errorf("resume inside the buffer: %d events, lost %v", len(evs), lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := hub.After(ctx, last, 100); err == nil {
		t.Error("After returned without a new event")
	}
}

func TestEventIDsIncreaseAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	e, s := openHub(t, path, 16)
	e.Events().Publish("test", 1)
	before := e.Events().LastID()
	closeHub(e, s)

	e, s = openHub(t, path, 16)
	defer closeHub(e, s)
	e.Events().Publish("test", 2)
	if after := e.Events().LastID(); after <= before {
		t.Errorf("event id %d after a restart, want above %d", after, before)
	}
}
