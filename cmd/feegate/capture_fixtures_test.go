package main

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol/capture/capturetest"
)

// sessionFrames reads fixtures/capture-session.txt: name | hex | meaning per line.
func sessionFrames(t testing.TB) map[string][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "capture-session.txt"))
	if err != nil {
		t.Fatal(err)
	}
	frames := map[string][]byte{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) < 2 {
			t.Fatalf("fixture line without hex: %q", line)
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(parts[1]), ""))
		if err != nil {
			t.Fatalf("fixture %s: %v", parts[0], err)
		}
		frames[strings.TrimSpace(parts[0])] = b
	}
	return frames
}

var (
	capTerminal = netip.MustParseAddrPort("192.0.2.10:4116")
	capMaster   = netip.MustParseAddrPort("192.0.2.1:10000")
	capStart    = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
)

// sessionCapture is a capture written by writeSessionCapture and what it should yield.
type sessionCapture struct {
	path string
	// uplink and downlink are the frames of each direction in order.
	uplink, downlink [][]byte
	// noise is the stray bytes sent on the uplink before the heartbeat.
	noise []byte
	// heartbeatDone is the time of the segment that completed the split heartbeat.
	heartbeatDone time.Time
}

// writeSessionCapture writes a pcapng of one terminal session: login and confirm, then a
// heartbeat split across two segments with the first one retransmitted, noise on the
// uplink, and the confirm of the heartbeat.
func writeSessionCapture(t testing.TB) sessionCapture {
	t.Helper()
	fr := sessionFrames(t)
	login, heartbeat, confirm := fr["login"], fr["heartbeat"], fr["confirm"]
	var buf bytes.Buffer
	w, err := capturetest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	c := capturetest.NewConn(w, capTerminal, capMaster, 4000, 9000)
	at := func(sec int) time.Time { return capStart.Add(time.Duration(sec) * time.Second) }
	steps := []func() error{
		func() error { return c.Handshake(at(0)) },
		func() error { _, err := c.Send(at(1), true, login); return err },
		func() error { _, err := c.Send(at(2), false, confirm); return err },
		func() error { _, err := c.Send(at(3), true, []byte{0x01, 0x02, 0x03}); return err },
	}
	var firstSeq uint32
	steps = append(steps,
		func() (err error) { firstSeq, err = c.Send(at(4), true, heartbeat[:10]); return err },
		func() error { return c.SendAt(at(5), true, firstSeq, heartbeat[:10]) },
		func() error { _, err := c.Send(at(6), true, heartbeat[10:]); return err },
		func() error { _, err := c.Send(at(7), false, confirm); return err },
		func() error { return c.Close(at(8)) },
		w.Flush,
	)
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "session.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return sessionCapture{path: path, uplink: [][]byte{login, heartbeat},
		downlink: [][]byte{confirm, confirm}, noise: []byte{1, 2, 3}, heartbeatDone: at(6)}
}
