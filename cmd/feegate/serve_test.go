package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServeConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.yaml")
	err := os.WriteFile(path, []byte(`api_listen: "127.0.0.1:7000"
terminal_listen: "127.0.0.1:7001"
store: file.db
tokens: [file-a, file-b]
engine:
  verify_interval: 250ms
  default_deadline: 3m
  protected_windows:
    - {name: night, start: "22:00", end: "06:00"}
terminal:
  offline_factor: 2.5
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FEEGATE_TERMINAL_LISTEN", "127.0.0.1:8001")
	t.Setenv("FEEGATE_TOKEN", "")
	cfg, format, err := loadServeConfig(serveFlags{config: path, store: "flag.db"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StorePath != "flag.db" {
		t.Errorf("store %q, want the flag's", cfg.StorePath)
	}
	if cfg.TerminalListen != "127.0.0.1:8001" {
		t.Errorf("terminal listen %q, want the environment's", cfg.TerminalListen)
	}
	if cfg.APIListen != "127.0.0.1:7000" {
		t.Errorf("API listen %q, want the file's", cfg.APIListen)
	}
	if len(cfg.Tokens) != 2 || cfg.Tokens[1] != "file-b" {
		t.Errorf("tokens %v, want the file's two", cfg.Tokens)
	}
	if cfg.Engine.VerifyInterval != 250*time.Millisecond ||
		cfg.Engine.DefaultDeadline != 3*time.Minute {
		t.Errorf("engine durations %v %v", cfg.Engine.VerifyInterval,
			cfg.Engine.DefaultDeadline)
	}
	if len(cfg.Engine.ProtectedWindows) != 1 || cfg.Engine.ProtectedWindows[0].Start != "22:00" {
		t.Errorf("protected windows %+v", cfg.Engine.ProtectedWindows)
	}
	if cfg.Terminal.OfflineFactor != 2.5 {
		t.Errorf("offline factor %v", cfg.Terminal.OfflineFactor)
	}
	if format != "json" {
		t.Errorf("log format %q, want json", format)
	}
	t.Setenv("FEEGATE_TOKEN", "env-token")
	cfg, _, _ = loadServeConfig(serveFlags{config: path})
	if len(cfg.Tokens) != 1 || cfg.Tokens[0] != "env-token" {
		t.Errorf("tokens %v, want the environment's", cfg.Tokens)
	}
	cfg, _, _ = loadServeConfig(serveFlags{config: path, tokens: []string{"flag-token"}})
	if len(cfg.Tokens) != 1 || cfg.Tokens[0] != "flag-token" {
		t.Errorf("tokens %v, want the flag's", cfg.Tokens)
	}
	if cfg.StorePath != "file.db" {
		t.Errorf("store %q, want the file's", cfg.StorePath)
	}
}

func TestServeConfigRejectsUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feegate.yaml")
	os.WriteFile(path, []byte("api_lisen: x\n"), 0o600)
	if _, _, err := loadServeConfig(serveFlags{config: path}); err == nil {
		t.Error("a misspelt key was accepted")
	}
}
