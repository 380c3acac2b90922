package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// smallDemo is a fleet small enough for the test suite: every phase of the demo still runs.
func smallDemo() demoOptions {
	return demoOptions{
		terminals:         3,
		metersPerTerminal: 8,
		serial:            1,
		metersPerBus:      2,
		modbus:            2,
		latency:           "5ms-15ms",
		meterDelay:        "20ms-25ms",
		seed:              7,
		regionTerminals:   1,
		verifyWindow:      4 * time.Second,
		loginTimeout:      30 * time.Second,
		timeout:           4 * time.Minute,
		asJSON:            true,
	}
}

func runSmallDemo(t *testing.T, o demoOptions) (bool, demoSummary, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	var out, progress bytes.Buffer
	ok, err := runDemo(ctx, o, &out, &progress)
	if err != nil {
		t.Fatalf("runDemo: %v\n%s", err, progress.String())
	}
	var s demoSummary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, out.String())
	}
	return ok, s, progress.String()
}

func TestDemoSmallFleetPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for about a minute")
	}
	t.Parallel()
	ok, s, progress := runSmallDemo(t, smallDemo())
	if !ok || !s.Passed {
		t.Fatalf("demo failed: %v\n%s", s.Failures, progress)
	}
	meters := 3*8 + 2 + 2
	if got := s.Outcomes["succeeded/read"]; got != meters {
		t.Errorf("succeeded reads = %d, want %d (every meter)", got, meters)
	}
	if s.Outcomes["succeeded/tripped"] == 0 {
		t.Error("no trip succeeded")
	}
	for _, reason := range []string{"meter_guarantee_active", "meter_timeout",
		"verify_mismatch", "meter_password_rejected", "security_failed", "meter_rejected",
		"terminal_offline"} {
		if s.Reasons[reason] != 1 {
			t.Errorf("reason %s seen %d times, want 1", reason, s.Reasons[reason])
		}
	}
	if s.Latency["trip"].Count == 0 || s.Latency["trip"].P95 < s.Latency["trip"].P50 {
		t.Errorf("trip latency %+v", s.Latency["trip"])
	}
}

func TestDemoFailsOnUnexpectedFault(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for about a minute")
	}
	t.Parallel()
	o := smallDemo()
	o.sabotage = "relay_stuck"
	ok, s, progress := runSmallDemo(t, o)
	if ok || s.Passed {
		t.Fatalf("demo passed with an unannounced relay_stuck fault\n%s", progress)
	}
	if len(s.Failures) != 1 || !strings.Contains(s.Failures[0], "verify_mismatch") {
		t.Fatalf("mismatches = %q, want one trip ending in verify_mismatch", s.Failures)
	}
}

// TestReadmeDemoFromClone clones the repository and runs the README's demo command in the
// clone, at a reduced size, as a newcomer would.
func TestReadmeDemoFromClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary in a fresh clone")
	}
	for _, tool := range []string{"git", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not inside a git checkout: %v", err)
	}
	readme, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "make demo") {
		t.Fatal("README does not give `make demo` as the demo command")
	}
	clone := filepath.Join(t.TempDir(), "feegate")
	if out, err := exec.Command("git", "clone", "-q", strings.TrimSpace(string(root)),
		clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "demo", "DEMO_FLAGS=--terminals 3 "+
		"--meters-per-terminal 8 --region-terminals 1 --serial 1 --meters-per-bus 2 "+
		"--modbus 2 --latency 5ms-15ms --verify-window 4s")
	cmd.Dir = clone
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make demo in a fresh clone: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "every outcome matches the simulator: PASS") {
		t.Fatalf("demo output has no PASS line:\n%s", out)
	}
}
