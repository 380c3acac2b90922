package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeServeConfig writes body as a feegate serve YAML file and returns its path.
func writeServeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feegate.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeConfigClockTolerance(t *testing.T) {
	t.Setenv("FEEGATE_TOKEN", "")
	path := writeServeConfig(t, "api_listen: 127.0.0.1:8080\nclock_tolerance: 3s\n")
	cfg, _, err := loadServeConfig(serveFlags{config: path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClockTolerance != 3*time.Second {
		t.Errorf("clock tolerance %v, want 3s", cfg.ClockTolerance)
	}
}

func TestServeConfigClockToleranceUnset(t *testing.T) {
	t.Setenv("FEEGATE_TOKEN", "")
	path := writeServeConfig(t, "api_listen: 127.0.0.1:8080\n")
	cfg, _, err := loadServeConfig(serveFlags{config: path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClockTolerance != 0 {
		t.Errorf("clock tolerance %v, want 0 (the plan's 10 s default)", cfg.ClockTolerance)
	}
}

func TestServeConfigNegativeClockTolerance(t *testing.T) {
	t.Setenv("FEEGATE_TOKEN", "")
	path := writeServeConfig(t, "api_listen: 127.0.0.1:8080\nclock_tolerance: -1s\n")
	_, _, err := loadServeConfig(serveFlags{config: path})
	if err == nil {
		t.Fatal("a negative clock_tolerance was accepted")
	}
	if !strings.Contains(err.Error(), "clock_tolerance") {
		t.Errorf("error %q does not name clock_tolerance", err)
	}
}
