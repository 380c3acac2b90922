package dlt645

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// vector is one golden frame of fixtures/dlt645/vectors.txt.
type vector struct {
	name   string
	raw    []byte
	expect map[string]string
	keys   []string
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open("../fixtures/dlt645/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("fixture line has %d fields: %q", len(parts), line)
		}
		raw, err := hex.DecodeString(strings.Join(strings.Fields(parts[1]), ""))
		if err != nil {
			t.Fatalf("%s: %v", parts[0], err)
		}
		v := vector{name: strings.TrimSpace(parts[0]), raw: raw, expect: map[string]string{}}
		for _, kv := range strings.Split(parts[3], ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				t.Fatalf("%s: expectation %q is not key=value", v.name, kv)
			}
			v.expect[k] = val
			v.keys = append(v.keys, k)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 35 {
		t.Fatalf("loaded %d vectors, want 35", len(out))
	}
	return out
}

func vectorByName(t testing.TB, name string) vector {
	t.Helper()
	for _, v := range loadVectors(t) {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("vector %s missing", name)
	return vector{}
}
