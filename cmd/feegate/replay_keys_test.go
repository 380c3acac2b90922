package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// topLevelKeys returns the keys of one JSON object in order, repeats included, which
// json.Unmarshal into a map would hide.
func topLevelKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %q does not start a JSON object: %v", line, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("line %q: value of %q: %v", line, tok, err)
		}
	}
	return keys
}

func TestReplayJSONKeysDistinct(t *testing.T) {
	checkLeaks(t)
	sc := writeSessionCapture(t)
	srv := startConfirmServer(t)
	out, err := runFeegate(t, "replay", "--json", "--linger", "100ms", "--pcap", sc.path,
		"--gateway", srv.ln.Addr().String())
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		seen := map[string]bool{}
		for _, k := range topLevelKeys(t, line) {
			if seen[k] {
				t.Errorf("key %q repeats in %s", k, line)
			}
			seen[k] = true
		}
		if !seen["remote"] {
			t.Errorf("line lacks the terminal's address as remote: %s", line)
		}
	}
	m := jsonLines(t, out)[0]
	if remote, _ := m["remote"].(string); !strings.Contains(remote, ":") {
		t.Errorf("remote = %v, want the captured IP:port", m["remote"])
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
	if !strings.Contains(stdout.String(), "remote: "+m["remote"].(string)) {
		t.Errorf("text output does not label the address remote:\n%s", stdout.String())
	}
}
