package main

import (
	"strings"
	"testing"
)

// forwardReadHex is an AFN10 F1 request to terminal 02001234 for port 31 at 2400 8E1. Its
// frame timeout is 60 s (BC) and its byte timeout 10 steps of 10 ms (0A). The forwarded
// frame is a DL/T 645 read of the forward active energy of meter 151230011061, and the PW
// that follows is all zero.
const forwardReadHex = "68 CA 00 CA 00 68 4B 00 02 34 12 04 10 60 00 00 01 00" +
	" 1F 6B BC 0A 10 00" +
	" 68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16" +
	" 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 74 16"

func TestExplainForwardTimeoutsText(t *testing.T) {
	out, err := runExplain(t, "", forwardReadHex)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	if !strings.Contains(out, "100 ms (10 × 10 ms)") {
		t.Errorf("byte timeout not shown as 100 ms (10 × 10 ms):\n%s", out)
	}
	if strings.Contains(out, "10 10ms") {
		t.Errorf("byte timeout shown as a bare count and step:\n%s", out)
	}
	if !strings.Contains(out, "60 s") {
		t.Errorf("frame timeout not shown as 60 s:\n%s", out)
	}
}

func TestExplainForwardTimeoutsJSON(t *testing.T) {
	out, err := runExplain(t, "", "--json", forwardReadHex)
	if err != nil {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"byte_timeout":10`) {
		t.Errorf("JSON byte_timeout is not the raw count 10:\n%s", out)
	}
}

func TestWithUnitSteps(t *testing.T) {
	cases := []struct {
		value any
		unit  string
		want  string
	}{
		{10, "10ms", "100 ms (10 × 10 ms)"},
		{3, "0.5h", "1.5 h (3 × 0.5 h)"},
		{7, "20ms", "140 ms (7 × 20 ms)"},
		{15, "min", "15 min"},
		{"1.5", "kW", "1.5 kW"},
		{4, "", "4"},
	}
	for _, c := range cases {
		if got := withUnit(c.value, c.unit); got != c.want {
			t.Errorf("withUnit(%v, %q) = %q, want %q", c.value, c.unit, got, c.want)
		}
	}
}

func TestExplainHexInputErrors(t *testing.T) {
	cases := []struct {
		input string
		want  []string
	}{
		{"68 ZZ 01", []string{"'Z'", "position 4", "not a hex digit"}},
		{"68 0", []string{"3 hex digits", "odd"}},
		{"68 中 01", []string{"'中'", "position 4"}},
	}
	for _, c := range cases {
		out, _ := runExplain(t, "", c.input)
		if strings.Contains(out, "(value 0x") {
			t.Errorf("%q: message shows a meaningless value:\n%s", c.input, out)
		}
		if !strings.Contains(out, "invalid_value") {
			t.Errorf("%q: error code is not invalid_value:\n%s", c.input, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: message lacks %q:\n%s", c.input, w, out)
			}
		}
	}
}
