package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/protocol/capture/capturetest"
)

// runFeegate runs the root command in-process and returns its standard output.
func runFeegate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// jsonLines parses the output of explain --json, one object a line.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestExplainPcapSession(t *testing.T) {
	sc := writeSessionCapture(t)
	out, err := runFeegate(t, "explain", "--json", "--pcap", sc.path)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1 for the noise bytes", err)
	}
	lines := jsonLines(t, out)
	up, down := capTerminal.String(), capMaster.String()
	type want struct {
		src, dst string
		frame    []byte // nil for the noise line
	}
	wants := []want{
		{up, down, sc.uplink[0]},
		{down, up, sc.downlink[0]},
		{up, down, nil},
		{up, down, sc.uplink[1]},
		{down, up, sc.downlink[1]},
	}
	if len(lines) != len(wants) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(wants), out)
	}
	for i, w := range wants {
		m := lines[i]
		if m["src"] != w.src || m["dst"] != w.dst {
			t.Errorf("line %d: src %v dst %v, want %s > %s", i, m["src"], m["dst"], w.src, w.dst)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("line %d: time %v is not RFC 3339: %v", i, m["time"], err)
		}
		code := errorCode(m)
		if w.frame == nil {
			if code != "not_a_frame" {
				t.Errorf("line %d: code %q, want not_a_frame", i, code)
			}
			if m["input"] != strings.ToUpper(hex.EncodeToString(sc.noise)) {
				t.Errorf("line %d: input %v, want the noise bytes", i, m["input"])
			}
			continue
		}
		if code == "not_a_frame" || code == "capture_gap" {
			t.Errorf("line %d: frame reported as %s", i, code)
		}
		if code != "" {
			t.Errorf("line %d: frame % X failed: %v", i, w.frame, m["error"])
		}
		if m["protocol"] != "gw376" {
			t.Errorf("line %d: protocol %v, want gw376", i, m["protocol"])
		}
		if m["terminal"] != "24495845" {
			t.Errorf("line %d: terminal %v, want 24495845", i, m["terminal"])
		}
	}
	if got := lines[3]["time"]; got != sc.heartbeatDone.Format(time.RFC3339Nano) {
		t.Errorf("heartbeat time %v, want %v (the segment that completed it)", got,
			sc.heartbeatDone.Format(time.RFC3339Nano))
	}
}

func TestExplainPcapText(t *testing.T) {
	sc := writeSessionCapture(t)
	out, _ := runFeegate(t, "explain", "--pcap", sc.path)
	if !strings.Contains(out, "src: "+capTerminal.String()) {
		t.Errorf("text output lacks the source address:\n%s", out)
	}
	if !strings.Contains(out, "error (not_a_frame)") {
		t.Errorf("text output lacks the noise line:\n%s", out)
	}
}

func TestExplainPcapRejectsGarbageFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage.pcap")
	if err := os.WriteFile(path, []byte("this is not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runFeegate(t, "explain", "--pcap", path)
	if err == nil || !strings.Contains(err.Error(), "neither pcap nor pcapng") {
		t.Errorf("err = %v, want a format error", err)
	}
}

// TestExplainPcapCapturesFolder explains every capture in the folder named by
// FEEGATE_CAPTURES: every frame must be found, with no bytes left over as noise.
func TestExplainPcapCapturesFolder(t *testing.T) {
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
			out, err := runFeegate(t, "explain", "--json", "--pcap", path)
			var exit exitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			lines := jsonLines(t, out)
			if len(lines) == 0 {
				t.Fatal("no frames found")
			}
			for i, m := range lines {
				switch code := errorCode(m); code {
				case "not_a_frame", "capture_gap", "corrupt_capture", "malformed_packet":
					t.Errorf("line %d: %s: %v", i, code, m["error"])
				}
				if m["src"] == nil || m["time"] == nil {
					t.Errorf("line %d lacks time or src: %v", i, m)
				}
			}
			t.Logf("%d frames", len(lines))
		})
	}
}

func TestExplainPcapReportsGap(t *testing.T) {
	fr := sessionFrames(t)
	heartbeat, login := fr["heartbeat"], fr["login"]
	var buf bytes.Buffer
	w, err := capturetest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	c := capturetest.NewConn(w, capTerminal, capMaster, 1, 1)
	steps := []func() error{
		func() error { return c.Handshake(capStart) },
		func() error { _, err := c.Send(capStart, true, heartbeat[:10]); return err },
		func() error { c.Skip(true, len(heartbeat)-10); return nil }, // lost by the capture
		func() error { _, err := c.Send(capStart.Add(time.Second), true, login); return err },
		w.Flush,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "gap.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runFeegate(t, "explain", "--json", "--pcap", path)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1", err)
	}
	lines := jsonLines(t, out)
	var codes []string
	for _, m := range lines {
		codes = append(codes, errorCode(m))
	}
	want := []string{"not_a_frame", "capture_gap"}
	if len(codes) != 3 || codes[0] != want[0] || codes[1] != want[1] {
		t.Fatalf("error codes = %q, want %q then the login:\n%s", codes, want, out)
	}
	if in := lines[0]["input"]; in != strings.ToUpper(hex.EncodeToString(heartbeat[:10])) {
		t.Errorf("not_a_frame input = %v, want the 10 bytes before the gap", in)
	}
	msg, _ := lines[1]["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, fmt.Sprint(len(heartbeat)-10)) {
		t.Errorf("gap message %q does not give the %d missing bytes", msg, len(heartbeat)-10)
	}
	if codes[2] == "not_a_frame" || codes[2] == "capture_gap" {
		t.Errorf("login after the gap reported as %s", codes[2])
	}
}

func TestExplainPcapDLT645OverTCP(t *testing.T) {
	addr, err := protocol.ParseMeterAddress("000000000161")
	if err != nil {
		t.Fatal(err)
	}
	request, err := dlt645.Append(nil, dlt645.NewReadRequest(addr, 0x00010000), true)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := dlt645.NewReadReply(addr, 0x00010000, "1234.56")
	if err != nil {
		t.Fatal(err)
	}
	replyBytes, err := dlt645.Append(nil, reply, true)
	if err != nil {
		t.Fatal(err)
	}

	// A serial server carries the bus transparently: preamble bytes included.
	var buf bytes.Buffer
	w, err := capturetest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("192.0.2.50:4001")
	c := capturetest.NewConn(w, capMaster, server, 1, 1)
	steps := []func() error{
		func() error { return c.Handshake(capStart) },
		func() error { _, err := c.Send(capStart, true, request); return err },
		func() error { _, err := c.Send(capStart, false, replyBytes[:7]); return err },
		func() error { _, err := c.Send(capStart, false, replyBytes[7:]); return err },
		w.Flush,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "bus.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := runFeegate(t, "explain", "--json", "--pcap", path)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	lines := jsonLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want request and reply:\n%s", len(lines), out)
	}
	for i, dir := range []string{"request", "reply"} {
		if lines[i]["protocol"] != "dlt645-2007" || lines[i]["direction"] != dir {
			t.Errorf("line %d: protocol %v direction %v, want dlt645-2007 %s", i,
				lines[i]["protocol"], lines[i]["direction"], dir)
		}
	}
}

func TestExplainPcapTruncatedFile(t *testing.T) {
	sc := writeSessionCapture(t)
	data, err := os.ReadFile(sc.path)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the file inside its last packet, as a capture stopped by a full disk ends.
	path := filepath.Join(t.TempDir(), "cut.pcapng")
	if err := os.WriteFile(path, data[:len(data)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runFeegate(t, "explain", "--json", "--pcap", path)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("err = %v, want exit status 1", err)
	}
	lines := jsonLines(t, out)
	if len(lines) < 2 {
		t.Fatalf("got %d lines, want the frames before the damage and an error:\n%s",
			len(lines), out)
	}
	if lines[0]["protocol"] != "gw376" {
		t.Errorf("first line %v, want the login frame", lines[0])
	}
	if code := errorCode(lines[len(lines)-1]); code != "corrupt_capture" {
		t.Errorf("last line code %q, want corrupt_capture", code)
	}
}
