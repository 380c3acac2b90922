package node_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/api/node"
)

func TestCloseEndsEventStreams(t *testing.T) {
	n, err := node.Start(node.Config{TerminalListen: "127.0.0.1:0",
		APIListen: "127.0.0.1:0", StorePath: filepath.Join(t.TempDir(), "feegate.db"),
		Tokens: []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+n.APIAddr()+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close with an open event stream: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("close took %s with an open event stream", took)
	}
}

func TestStartRefusesPublicAPIWithoutToken(t *testing.T) {
	_, err := node.Start(node.Config{TerminalListen: "127.0.0.1:0",
		APIListen: "0.0.0.0:0", StorePath: filepath.Join(t.TempDir(), "feegate.db")})
	if !errors.Is(err, node.ErrNoToken) {
		t.Fatalf("error %v, want ErrNoToken", err)
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true,
		":8080": false, "0.0.0.0:80": false, "10.0.0.1:80": false, "nonsense": false}
	for addr, want := range cases {
		if got := node.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
