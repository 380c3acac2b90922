package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEventsResumeFromFutureID(t *testing.T) {
	e := newEnv(t)
	e.waitFinal(t, decodeSubmit(t, e, `{"target": {"meter": "000000000001"}, "action": "ping"}`))
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			// Errors are left to the reader below, which then sees no events.
			req, err := http.NewRequest("POST", e.srv.URL+"/v1/commands", strings.NewReader(
				`{"target": {"meter": "000000000001"}, "action": "ping"}`))
			if err != nil {
				return
			}
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	ids := readEvents(t, e, "999999999999999", 2)
	close(done)
	<-stopped
	if len(ids) != 2 {
		t.Fatalf("read %d events after a future id, want 2", len(ids))
	}
	if ids[1] != ids[0]+1 {
		t.Errorf("event ids %v are not consecutive", ids)
	}
}
