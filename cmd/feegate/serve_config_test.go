package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feegate/feegate/api/node"
)

func TestServeNoTokenNamesFix(t *testing.T) {
	t.Setenv("FEEGATE_TOKEN", "")
	t.Setenv("FEEGATE_API_LISTEN", "")
	// 192.0.2.1 (TEST-NET-1) stands for any address beyond loopback. The check rejects it
	// before anything listens.
	_, _, err := loadServeConfig(serveFlags{apiListen: "192.0.2.1:8080"})
	if !errors.Is(err, node.ErrNoToken) {
		t.Fatalf("err = %v, want node.ErrNoToken", err)
	}
	for _, want := range []string{"--token", "FEEGATE_TOKEN", "192.0.2.1:8080"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, _, err := loadServeConfig(serveFlags{apiListen: "192.0.2.1:8080",
		tokens: []string{"t"}}); err != nil {
		t.Errorf("with a token: %v", err)
	}
	if _, _, err := loadServeConfig(serveFlags{apiListen: "127.0.0.1:8080"}); err != nil {
		t.Errorf("loopback without a token: %v", err)
	}
}

func TestServeConfigUnknownKeyNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.yaml")
	err := os.WriteFile(path, []byte("api_listen: 127.0.0.1:8080\nterminal:\n"+
		"  heartbeat: 1m\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = loadServeConfig(serveFlags{config: path})
	if err == nil {
		t.Fatal("a misspelt key was accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "main.") {
		t.Errorf("error %q names a Go type", msg)
	}
	for _, want := range []string{path, "line 3", `"heartbeat"`, "under terminal",
		"heartbeat_period"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	var keyErr *configKeyError
	if !errors.As(err, &keyErr) || keyErr.Key != "heartbeat" {
		t.Errorf("err = %#v, want a configKeyError for heartbeat", err)
	}
}

func TestServeConfigBadDurationNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.yaml")
	if err := os.WriteFile(path, []byte("shutdown_timeout: 10x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadServeConfig(serveFlags{config: path})
	if err == nil {
		t.Fatal("an invalid duration was accepted")
	}
	if strings.Contains(err.Error(), "time.Duration") || !strings.Contains(err.Error(), "10x") {
		t.Errorf("error %q does not name the value as a duration", err)
	}
}
