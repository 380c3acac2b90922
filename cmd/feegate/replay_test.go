package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/protocol/capture/capturetest"
	"go.uber.org/goleak"
)

// confirmServer is a loopback stand-in for the gateway's terminal port: it confirms every
// AFN02 frame (login, logout, heartbeat) with AFN00 F1 and counts what it confirmed.
type confirmServer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu        sync.Mutex
	confirmed map[uint8]int // by AFN02 Fn
	bad       int
}

func startConfirmServer(t *testing.T) *confirmServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &confirmServer{ln: ln, confirmed: map[uint8]int{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *confirmServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serve(conn)
	}
}

func (s *confirmServer) serve(conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	fr := protocol.NewFramer(gw376.Spec, 1<<16)
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		fr.Write(buf[:n])
		for res := fr.Next(false); res.Frame != nil; res = fr.Next(false) {
			s.answer(conn, res.Frame)
		}
		if err != nil {
			return
		}
	}
}

func (s *confirmServer) answer(conn net.Conn, raw []byte) {
	f, err := gw376.Decode(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || f.AFN != gw376.AFNLink || len(f.Data) < 4 {
		s.bad++
		return
	}
	confirm := gw376.ConfirmAll(f)
	out, err := gw376.Encode(&confirm)
	if err != nil {
		s.bad++
		return
	}
	// DT1 bit k of group DT2 is Fn = DT2*8 + k + 1; AFN02 uses group 0.
	for k := uint8(0); k < 8; k++ {
		if f.Data[2]&(1<<k) != 0 {
			s.confirmed[k+1]++
		}
	}
	conn.Write(out)
}

func (s *confirmServer) counts() (map[uint8]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := map[uint8]int{}
	for k, v := range s.confirmed {
		c[k] = v
	}
	return c, s.bad
}

// replayReplies returns the gateway frames of replay --json output and whether any reply
// was reported missing.
func replayReplies(t *testing.T, out string) (replies []*gw376.Frame, missing int) {
	t.Helper()
	for i, m := range jsonLines(t, out) {
		role, _ := m["role"].(string)
		if role != "gateway_reply" && role != "gateway_frame" {
			continue
		}
		if errorCode(m) == "reply_missing" {
			missing++
			continue
		}
		// Until the Q/GDW 376.1 explain lands a reply shows as its input hex; once it
		// decodes, the object carries the AFN.
		if in, ok := m["input"].(string); ok {
			raw, err := hex.DecodeString(in)
			if err != nil {
				t.Fatalf("line %d: input %q: %v", i, in, err)
			}
			f, err := gw376.Decode(raw)
			if err != nil {
				t.Fatalf("line %d: gateway reply % X does not decode: %v", i, raw, err)
			}
			replies = append(replies, f)
			continue
		}
		if m["afn"] != "00" {
			t.Errorf("line %d: gateway reply afn %v, want 00", i, m["afn"])
		}
		replies = append(replies, &gw376.Frame{AFN: gw376.AFNConfirm})
	}
	return replies, missing
}

func TestReplaySessionConfirms(t *testing.T) {
	checkLeaks(t)
	sc := writeSessionCapture(t)
	srv := startConfirmServer(t)
	out, err := runFeegate(t, "replay", "--json", "--linger", "100ms", "--pcap", sc.path,
		"--gateway", srv.ln.Addr().String())
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	counts, bad := srv.counts()
	if counts[gw376.FnLogin] != 1 {
		t.Errorf("server confirmed %d logins, want 1", counts[gw376.FnLogin])
	}
	if counts[gw376.FnHeartbeat] != 1 {
		t.Errorf("server confirmed %d heartbeats, want 1", counts[gw376.FnHeartbeat])
	}
	if bad != 0 {
		t.Errorf("server received %d frames it could not confirm", bad)
	}
	replies, missing := replayReplies(t, out)
	if missing != 0 {
		t.Errorf("%d replies reported missing:\n%s", missing, out)
	}
	if len(replies) != 2 {
		t.Fatalf("got %d gateway replies, want one per login and heartbeat:\n%s", len(replies), out)
	}
	for i, f := range replies {
		if f.AFN != gw376.AFNConfirm {
			t.Errorf("reply %d: AFN %02X, want 00", i, uint8(f.AFN))
		}
	}
	cmd := newRootCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"replay", "--linger", "0s", "--pcap", sc.path, "--gateway",
		srv.ln.Addr().String()})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("replay without --json: %v", err)
	}
	if want := "2 of 2 frames sent, 2 of 2 replies"; !strings.Contains(stderr.String(), want) {
		t.Errorf("summary %q lacks %q", stderr.String(), want)
	}

	sent := 0
	for _, m := range jsonLines(t, out) {
		if m["role"] == "sent" {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("sent %d frames, want 2 (login and heartbeat)", sent)
	}
}

func TestReplayMissingReply(t *testing.T) {
	checkLeaks(t)
	sc := writeSessionCapture(t)
	// A listener that accepts and never replies.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err == nil {
			buf := make([]byte, 1024)
			for {
				if _, err := conn.Read(buf); err != nil {
					break
				}
			}
			conn.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	out, err := runFeegate(t, "replay", "--json", "--reply-timeout", "50ms", "--linger", "0s",
		"--pcap", sc.path, "--gateway", ln.Addr().String())
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1", err)
	}
	if _, missing := replayReplies(t, out); missing != 2 {
		t.Errorf("%d replies reported missing, want 2:\n%s", missing, out)
	}
}

// TestReplayCapturesFolder replays every capture in the folder named by FEEGATE_CAPTURES
// against the confirm server: every login and heartbeat must get exactly one confirmation.
func TestReplayCapturesFolder(t *testing.T) {
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
			srv := startConfirmServer(t)
			out, err := runFeegate(t, "replay", "--json", "--linger", "200ms", "--pcap", path,
				"--gateway", srv.ln.Addr().String())
			var exit exitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("replay: %v", err)
			}
			counts, bad := srv.counts()
			links := counts[gw376.FnLogin] + counts[gw376.FnHeartbeat] + counts[gw376.FnLogout]
			if links == 0 {
				t.Fatal("server confirmed no login, logout or heartbeat")
			}
			replies, missing := replayReplies(t, out)
			if missing != 0 {
				t.Errorf("%d replies reported missing", missing)
			}
			if len(replies) != links {
				t.Errorf("replay printed %d gateway frames, server sent %d confirmations",
					len(replies), links)
			}
			t.Logf("%d logins, %d heartbeats, %d other frames", counts[gw376.FnLogin],
				counts[gw376.FnHeartbeat], bad)
		})
	}
}

// checkLeaks fails t when goroutines started during the test outlive it. Goroutines that
// were running before, such as the worker pool a dependency starts at init, are ignored.
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestReplayGatewayCloses(t *testing.T) {
	checkLeaks(t)
	sc := writeSessionCapture(t)
	// A listener that closes each connection after its first read.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Read(make([]byte, 1024))
			conn.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	out, err := runFeegate(t, "replay", "--json", "--pcap", sc.path, "--gateway",
		ln.Addr().String())
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1", err)
	}
	codes := map[string]int{}
	for _, m := range jsonLines(t, out) {
		codes[errorCode(m)]++
	}
	if codes["reply_missing"] != 1 {
		t.Errorf("%d reply_missing lines, want 1 for the login:\n%s", codes["reply_missing"], out)
	}
	if codes["connection_closed"] != 1 {
		t.Errorf("%d connection_closed lines, want 1 before the heartbeat:\n%s",
			codes["connection_closed"], out)
	}
}

func TestReplayTimingKeepsCapturedPause(t *testing.T) {
	checkLeaks(t)
	fr := sessionFrames(t)
	var buf bytes.Buffer
	w, err := capturetest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	c := capturetest.NewConn(w, capTerminal, capMaster, 10, 20)
	const pause = 300 * time.Millisecond
	steps := []func() error{
		func() error { return c.Handshake(capStart) },
		func() error { _, err := c.Send(capStart, true, fr["login"]); return err },
		func() error { _, err := c.Send(capStart, false, fr["confirm"]); return err },
		func() error { _, err := c.Send(capStart.Add(pause), true, fr["heartbeat"]); return err },
		func() error { _, err := c.Send(capStart.Add(pause), false, fr["confirm"]); return err },
		w.Flush,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "timing.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startConfirmServer(t)

	start := time.Now()
	out, err := runFeegate(t, "replay", "--timing", "--json", "--linger", "0s", "--pcap", path,
		"--gateway", srv.ln.Addr().String())
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	// A lower bound only: --timing must wait at least the captured pause.
	if elapsed < pause {
		t.Errorf("replay with --timing took %v, want at least the captured %v", elapsed, pause)
	}
	if counts, _ := srv.counts(); counts[gw376.FnHeartbeat] != 1 {
		t.Errorf("server confirmed %d heartbeats, want 1", counts[gw376.FnHeartbeat])
	}
}
