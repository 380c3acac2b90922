package gateway

import (
	"path/filepath"
	"testing"
	"time"
)

func TestHubReservesIdsAfterStoreFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.db")
	store, err := OpenStore(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHub(store, 8)
	if err != nil {
		t.Fatal(err)
	}
	for h.next < h.reserved {
		h.Publish(EventCommand, nil)
	}
	// The store fails while the reservation is used up, so these ids go out unreserved.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		h.Publish(EventCommand, nil)
	}
	store, err = OpenStore(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h.store = store
	h.Publish(EventCommand, nil)
	handedOut := h.LastID()
	// A restart now must resume above every id handed out, including the ids the hub
	// will hand out under its current reservation.
	restart, err := store.ReserveEvents(0)
	if err != nil {
		t.Fatal(err)
	}
	if restart <= handedOut {
		t.Fatalf("restart resumes at %d, at or below id %d already sent", restart, handedOut)
	}
	if restart < h.reserved {
		t.Errorf("store reserves ids below %d, but the hub hands them out up to %d", restart,
			h.reserved)
	}
}
