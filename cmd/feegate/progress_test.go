package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestProgressLogLinesThrottled(t *testing.T) {
	var out strings.Builder
	clock := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	p := newProgress(&out)
	p.now = func() time.Time { return clock }
	if p.terminal {
		t.Fatal("a strings.Builder counts as a terminal")
	}
	p.update("0/3")
	clock = clock.Add(time.Second)
	p.update("1/3") // within the interval: held back
	clock = clock.Add(5 * time.Second)
	p.update("1/3") // the interval has passed: printed
	clock = clock.Add(10 * time.Second)
	p.update("1/3") // unchanged: not printed again
	p.finish("3/3")
	if want := "0/3\n1/3\n3/3\n"; out.String() != want {
		t.Errorf("log output = %q, want %q", out.String(), want)
	}
}

func TestProgressFinishPrintedOnce(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out)
	p.update("3/3")
	p.finish("3/3")
	if out.String() != "3/3\n" {
		t.Errorf("output = %q, want the final line once", out.String())
	}
}

func TestProgressRedrawsOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty available: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if !newProgress(tty).terminal {
		t.Error("a pty does not count as a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "feegate.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if newProgress(f).terminal {
		t.Error("a regular file counts as a terminal")
	}
}

func TestMeterScanProgressToLogFile(t *testing.T) {
	checkLeaks(t)
	_, port := startPtyBus(t, newFakeMeter(t, "000000000162"))
	logPath := filepath.Join(t.TempDir(), "scan.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	cmd := newRootCommand()
	var stdout strings.Builder
	cmd.SetOut(&stdout)
	cmd.SetErr(logFile)
	cmd.SetArgs([]string{"meter", "scan", "--port", port, "--timeout", "50ms",
		"--range", "000000000161-000000000164"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("scan: %v", err)
	}

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	if strings.Contains(log, "\r") {
		t.Errorf("log file has carriage returns: %q", log)
	}
	if !strings.Contains(log, "1 of 4 addresses replied") {
		t.Errorf("log file lacks the final count: %q", log)
	}
	if n := strings.Count(log, "\n"); n > 2 {
		t.Errorf("log file has %d lines for a 4-address scan, want at most 2: %q", n, log)
	}
}
