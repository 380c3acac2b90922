package gw376

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// fixture is one line of fixtures/gw376/frames.txt.
type fixture struct {
	name string
	raw  []byte
	note string
}

// loadFixtures reads the captured frames that every table test starts from.
func loadFixtures(t testing.TB) map[string]fixture {
	t.Helper()
	fh, err := os.Open("../fixtures/gw376/frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	out := map[string]fixture{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("fixture line %q: want name | hex | note", line)
		}
		raw, err := hex.DecodeString(strings.Join(strings.Fields(parts[1]), ""))
		if err != nil {
			t.Fatalf("fixture %s: %v", parts[0], err)
		}
		name := strings.TrimSpace(parts[0])
		out[name] = fixture{name: name, raw: raw, note: strings.TrimSpace(parts[2])}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustFixture(t testing.TB, fx map[string]fixture, name string) []byte {
	t.Helper()
	f, ok := fx[name]
	if !ok {
		t.Fatalf("fixture %s missing", name)
	}
	return f.raw
}
