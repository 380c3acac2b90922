package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// sseKeepAlive is the period of comment lines that keep idle proxies from closing the
// stream.
const sseKeepAlive = 15 * time.Second

// events streams server-sent events. A client resumes with the Last-Event-ID header (or
// the last_event_id query parameter) and receives every event after that id, in order,
// while it is still in the engine's event buffer. Otherwise the stream starts with a
// comment naming the first id it can still send. An id above every id sent so far
// streams the events published from now on, after a comment saying so.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	var after, future uint64
	if last != "" {
		n, err := strconv.ParseUint(last, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "Last-Event-ID",
				"Last-Event-ID %q must be an event id (a whole number)", last)
			return
		}
		after = n
		if next := s.engine.Events().NextID(); after >= next && next > 0 {
			// No event ever had this id, so waiting for the ids after it would leave the
			// client without events for a long time. It gets the events from now on.
			future = after
			after = next - 1
		}
	} else {
		// A new subscriber starts with events published from now on.
		after = s.engine.Events().LastID()
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": feegate events\n\n"); err != nil {
		return
	}
	if future != 0 {
		fmt.Fprintf(w, ": event id %d was never sent; streaming events after %d\n\n", future,
			after)
	}
	_ = rc.Flush()
	hub := s.engine.Events()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), sseKeepAlive)
		evs, lost, err := hub.After(ctx, after, 512)
		cancel()
		if r.Context().Err() != nil {
			return
		}
		if err != nil {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
			continue
		}
		if lost && len(evs) > 0 {
			fmt.Fprintf(w, ": events %d to %d are no longer buffered\n\n", after+1,
				evs[0].ID-1)
		}
		for _, ev := range evs {
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type,
				ev.Data); err != nil {
				return
			}
			after = ev.ID
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
