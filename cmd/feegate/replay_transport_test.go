package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/transport"
)

// startTerminalServer runs the gateway's terminal server from transport on a loopback port.
func startTerminalServer(t *testing.T) *transport.Server {
	t.Helper()
	srv, err := transport.NewServer(transport.ServerConfig{Address: "127.0.0.1:0",
		EventLoops: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv
}

// linkFrames counts the AFN02 uplink frames (login, logout, heartbeat) replay will send.
func linkFrames(t *testing.T, path string) int {
	t.Helper()
	sessions, err := collectReplaySessions(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range sessions {
		for _, step := range s.steps {
			if f, err := gw376.Decode(step.frame); err == nil && f.AFN == gw376.AFNLink {
				n++
			}
		}
	}
	return n
}

// replayAgainst replays path against the server at addr and checks one confirmation per
// login, logout and heartbeat.
func replayAgainst(t *testing.T, path, addr string) {
	t.Helper()
	want := linkFrames(t, path)
	out, err := runFeegate(t, "replay", "--json", "--linger", "200ms", "--pcap", path,
		"--gateway", addr)
	var exit exitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("replay: %v", err)
	}
	replies, missing := replayReplies(t, out)
	if missing != 0 {
		t.Errorf("%d replies reported missing:\n%s", missing, out)
	}
	if len(replies) != want {
		t.Errorf("gateway sent %d frames, want one confirmation for each of %d link frames",
			len(replies), want)
	}
	for i, f := range replies {
		if f.AFN != gw376.AFNConfirm {
			t.Errorf("reply %d: AFN %02X, want 00", i, uint8(f.AFN))
		}
	}
}

func TestReplayAgainstTerminalServer(t *testing.T) {
	sc := writeSessionCapture(t)
	srv := startTerminalServer(t)
	events, stop := srv.Subscribe(16)
	defer stop()

	replayAgainst(t, sc.path, srv.Addr().String())

	select {
	case ev := <-events:
		if ev.Kind != transport.EventOnline || ev.Terminal.String() != "24495845" {
			t.Errorf("first event = %v %s, want online 24495845", ev.Kind, ev.Terminal)
		}
	case <-time.After(5 * time.Second):
		t.Error("no online event for the replayed login")
	}
}

func TestReplayCapturesFolderTerminalServer(t *testing.T) {
	dir := os.Getenv("FEEGATE_CAPTURES")
	if dir == "" {
		t.Skip("FEEGATE_CAPTURES is not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			srv := startTerminalServer(t)
			replayAgainst(t, path, srv.Addr().String())
		})
	}
}
