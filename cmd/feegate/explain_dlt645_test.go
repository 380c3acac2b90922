package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// runExplain runs `feegate explain ARGS` in-process and returns its standard output.
func runExplain(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(append([]string{"explain"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

// decodeLine parses one JSON line keeping numbers as json.Number, so exact decimals are
// compared as written.
func decodeLine(t *testing.T, line string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("line %q is not JSON: %v", line, err)
	}
	return m
}

type dltVector struct {
	name, hex string
	expect    map[string]string
}

func loadDLTVectors(t *testing.T) []dltVector {
	t.Helper()
	f, err := os.Open("../../fixtures/dlt645/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dltVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, "|")
		v := dltVector{name: strings.TrimSpace(p[0]), hex: strings.TrimSpace(p[1]),
			expect: map[string]string{}}
		for _, kv := range strings.Split(p[3], ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			v.expect[k] = val
		}
		out = append(out, v)
	}
	if len(out) < 35 {
		t.Fatalf("%d vectors", len(out))
	}
	return out
}

// valuesOf maps value names to "value unit" as printed.
func valuesOf(m map[string]any) map[string]string {
	out := map[string]string{}
	vals, _ := m["values"].([]any)
	for _, v := range vals {
		o := v.(map[string]any)
		s := fmt.Sprint(o["value"])
		if u, _ := o["unit"].(string); u != "" {
			s += " " + u
		}
		out[o["name"].(string)] = s
	}
	return out
}

func TestExplainDLT645Vectors(t *testing.T) {
	for _, v := range loadDLTVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			out, err := runExplain(t, "", "--json", v.hex)
			m := decodeLine(t, strings.TrimSpace(out))
			if code, ok := v.expect["err"]; ok {
				var exit exitError
				if !errors.As(err, &exit) || exit.code != 1 {
					t.Fatalf("err = %v, want exit status 1", err)
				}
				e, _ := m["error"].(map[string]any)
				if e["code"] != code || e["message"] == "" || m["input"] == nil {
					t.Fatalf("error object %v", m)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, output %s", err, out)
			}
			if want := "dlt645-" + v.expect["ed"]; m["protocol"] != want {
				t.Errorf("protocol %v, want %s", m["protocol"], want)
			}
			vals := valuesOf(m)
			for k, want := range v.expect {
				var got any
				switch k {
				case "ed", "l":
					continue
				case "addr":
					got = m["address"]
				case "c":
					got = m["control_code"]
				case "di":
					got = m["di"]
				case "verr":
					ve, _ := m["value_error"].(map[string]any)
					got = ve["code"]
				case "reply_address":
					got = vals["address"]
				case "password_level":
					got = vals["password_level"]
				default:
					got = vals[k]
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%s = %v, want %s", k, got, want)
				}
			}
		})
	}
}

func TestExplainDLT645DoneCriterion(t *testing.T) {
	out, err := runExplain(t, "", "--json",
		"68 01 00 00 00 00 00 68 91 08 33 33 34 33 59 B3 55 44 DC 16")
	if err != nil {
		t.Fatal(err)
	}
	// The number is written with its exact digits, not through a float.
	if !strings.Contains(out, `"value":112280.26,"unit":"kWh"`) {
		t.Fatalf("output %s", out)
	}
	m := decodeLine(t, out)
	for k, want := range map[string]any{"direction": "reply", "function": "read",
		"abnormal": false, "followup": false, "address": "000000000001"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
}

func TestExplainDLT645Masking(t *testing.T) {
	// Relay control with password 123456 at level 02.
	frame := "68 94 35 21 90 88 55 68 1C 10 35 89 67 45 33 33 33 33 4D 33 8C 8C 56 3C 3A 54 " +
		"41 16"
	out, err := runExplain(t, "", "--json", frame)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(out, "123456") || strings.Contains(out, "563412") {
		t.Fatalf("password leaked: %s", out)
	}
	vals := valuesOf(decodeLine(t, out))
	if vals["password"] != "******" || vals["control"] != "trip" {
		t.Fatalf("values %v", vals)
	}
	text, err := runExplain(t, "", frame)
	if err != nil || strings.Contains(text, "123456") || strings.Contains(text, "89 67 45") {
		t.Fatalf("text output leaked the password or failed (%v): %s", err, text)
	}
	shown, err := runExplain(t, "", "--json", "--show-secrets", frame)
	if err != nil {
		t.Fatal(err)
	}
	if valuesOf(decodeLine(t, shown))["password"] != "123456" {
		t.Fatalf("--show-secrets output %s", shown)
	}
}

func TestExplainDLT645AbnormalReply(t *testing.T) {
	// DC 01 04: relay control rejected, wrong password.
	out, err := runExplain(t, "", "--json", "68 94 35 21 90 88 55 68 DC 01 37 3B 16")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := decodeLine(t, out)
	e, _ := m["error"].(map[string]any)
	bits, _ := e["bits"].([]any)
	if m["abnormal"] != true || e["code"] != "meter_error" || len(bits) != 1 ||
		bits[0] != "password_rejected" {
		t.Fatalf("object %v", m)
	}
}

func TestExplainDLT645StatusWord3(t *testing.T) {
	// Read reply of 04000503 = 0x1050: relay open, command open, guarantee on.
	out, err := runExplain(t, "", "--json",
		"68 61 01 00 00 00 00 68 91 06 36 38 33 37 83 43 67 16")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := decodeLine(t, out)
	vals, _ := m["values"].([]any)
	if len(vals) != 2 {
		t.Fatalf("values %v", vals)
	}
	sw := vals[0].(map[string]any)
	obj := sw["value"].(map[string]any)
	if sw["name"] != "status_word_3" || obj["raw"] != "1050" || obj["relay"] != "open" ||
		obj["relay_command"] != "open" || obj["guarantee"] != true || obj["pre_trip_alarm"] != false {
		t.Fatalf("status word %v", sw)
	}
	if rs := vals[1].(map[string]any); rs["name"] != "relay_state" || rs["value"] != "open" {
		t.Fatalf("relay_state %v", rs)
	}
}

func TestExplainDLT645EditionOverride(t *testing.T) {
	// 0x03 with no data is a 1997 re-read; --edition 2007 reports it as security.
	frame := "68 01 00 00 00 00 00 68 03 00 D4 16"
	out, err := runExplain(t, "", "--json", frame)
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeLine(t, out); m["protocol"] != "dlt645-1997" || m["function"] != "reread" {
		t.Fatalf("detected %v %v", m["protocol"], m["function"])
	}
	out, err = runExplain(t, "", "--json", "--edition", "2007", frame)
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeLine(t, out); m["protocol"] != "dlt645-2007" || m["function"] != "security" {
		t.Fatalf("override %v %v", m["protocol"], m["function"])
	}
}

func TestExplainDLT645StdinGoesOn(t *testing.T) {
	in := "FE FE FE FE 68 66 55 44 33 22 11 68 91 08 33 33 34 33 B8 88 CB 37 FC 16\n" +
		"68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16\n"
	out, err := runExplain(t, in, "--json", "-")
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), out)
	}
	first := decodeLine(t, lines[0])
	if e := first["error"].(map[string]any); e["code"] != "bad_checksum" {
		t.Fatalf("first line %v", first)
	}
	if second := decodeLine(t, lines[1]); valuesOf(second)["energy_forward_total"] != "0.26 kWh" {
		t.Fatalf("second line %v", second)
	}
}

func FuzzExplainDLT645(f *testing.F) {
	f.Add([]byte{0x68, 0x01, 0, 0, 0, 0, 0, 0x68, 0x91, 0x08, 0x33, 0x33, 0x34, 0x33, 0x59,
		0xB3, 0x55, 0x44, 0xDC, 0x16}, uint8(0))
	f.Add([]byte{0x68, 0x94, 0x35, 0x21, 0x90, 0x88, 0x55, 0x68, 0x1C, 0x10, 0x35, 0x89, 0x67,
		0x45, 0x33, 0x33, 0x33, 0x33, 0x4D, 0x33, 0x8C, 0x8C, 0x56, 0x3C, 0x3A, 0x54, 0x41,
		0x16}, uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		// Make most inputs valid frames so the data decoders run: fix the header, the
		// length, the checksum and the end byte around the fuzzed bytes.
		if len(body) < 10 || len(body) > 10+255 {
			return
		}
		frame := append([]byte(nil), body...)
		frame[0], frame[7] = 0x68, 0x68
		frame[9] = byte(len(frame) - 10)
		var sum byte
		for _, c := range frame {
			sum += c
		}
		frame = append(frame, sum, 0x16)
		opt := explainOptions{edition: []int{0, 1997, 2007}[int(mode)%3]}
		e, err := explainDLT645(frame, opt)
		if err != nil {
			return
		}
		line, err := json.Marshal(e.object)
		if err != nil {
			t.Fatalf("object does not encode: %v", err)
		}
		if bytes.Contains(line, []byte(`"password":"`)) &&
			!bytes.Contains(line, []byte(`"password":"******"`)) {
			t.Fatalf("password not masked: %s", line)
		}
		// A request of a password-carrying function of either edition never shows its
		// raw data field, whatever --edition says.
		c := frame[8]
		switch c & 0x1F {
		case 0x04, 0x0F, 0x10, 0x14, 0x18, 0x19, 0x1A, 0x1B, 0x1C:
			if c&0x80 == 0 && bytes.Contains(line, []byte(`"data":`)) {
				t.Fatalf("request with C=%02X shows its data field: %s", c, line)
			}
		}
	})
}

func TestExplainDLT645InvalidTimeIsNull(t *testing.T) {
	// Read reply of 1D000101 (last trip time) with day 0x3A, not a BCD digit pair.
	body := []byte{0x68, 0x61, 0x01, 0, 0, 0, 0, 0x68, 0x91, 0x0A,
		0x34, 0x34, 0x33, 0x50, 0x33, 0x33, 0x33, 0x6D, 0x34, 0x54}
	var sum byte
	for _, c := range body {
		sum += c
	}
	frame := fmt.Sprintf("% X %02X 16", body, sum)
	out, err := runExplain(t, "", "--json", frame)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := decodeLine(t, out)
	vals, _ := m["values"].([]any)
	if len(vals) != 2 {
		t.Fatalf("values %v", vals)
	}
	v0, v1 := vals[0].(map[string]any), vals[1].(map[string]any)
	if v0["name"] != "last_trip" || v0["value"] != nil {
		t.Fatalf("first value %v", v0)
	}
	if v1["name"] != "last_trip_raw" || v1["value"] != "0000003A0121" {
		t.Fatalf("raw value %v", v1)
	}
}

// TestExplainDLT645MaskAllPaths explains every frame that carries a password,
// under each --edition, in full and cut short, and looks for the password in the JSON
// (values and the raw data field) and in the text breakdown.
func TestExplainDLT645MaskAllPaths(t *testing.T) {
	// The password C35AA5 is sent A5 5A C3, scrambled D8 8D F6.
	pw := []byte{0xA5, 0x5A, 0xC3}
	creds := func(level byte, operator bool) []byte {
		b := append([]byte{level}, pw...)
		if operator {
			b = append(b, 0x78, 0x56, 0x34, 0x12)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	deadline := []byte{0x59, 0x59, 0x23, 0x31, 0x12, 0x26}
	cases := []struct {
		name string
		c    dlt645.Control
		data []byte
	}{
		{"relay_control", 0x1C, cat(creds(0x02, true), []byte{0x1A, 0x00}, deadline)},
		{"write", 0x14, cat([]byte{0x02, 0x01, 0x00, 0x04}, creds(0x04, true),
			[]byte{0x01, 0x02})},
		{"change_password", 0x18, cat([]byte{0x03, 0x0C, 0x00, 0x04}, creds(0x04, false),
			creds(0x04, false))},
		{"change_password_reply", 0x98, creds(0x04, false)},
		{"clear_demand", 0x19, creds(0x02, true)},
		{"clear_meter", 0x1A, creds(0x02, true)},
		{"clear_events", 0x1B, cat(creds(0x02, true), []byte{0xFF, 0xFF, 0xFF, 0xFF})},
		{"write_1997", 0x04, cat([]byte{0x10, 0xC0}, creds(0x02, false), []byte{0x01})},
		{"change_password_1997", 0x0F, cat(creds(0x02, false), creds(0x02, false))},
		{"change_password_reply_1997", 0x8F, creds(0x02, false)},
		{"clear_demand_1997", 0x10, creds(0x02, false)},
	}
	leaks := []string{"A55AC3", "C35AA5", "A5 5A C3", "D88DF6", "D8 8D F6", "F68DD8"}
	for _, tc := range cases {
		// Cut the data at every length that keeps at least one password byte.
		start := bytes.Index(tc.data, pw)
		for cut := len(tc.data); cut > start; cut-- {
			f := &dlt645.Frame{Address: protocol.MeterAddress{0x01}, Control: tc.c,
				Data: tc.data[:cut]}
			raw, err := dlt645.Append(nil, f, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, ed := range []int{0, 1997, 2007} {
				e, err := explainDLT645(raw, explainOptions{edition: ed})
				if err != nil {
					t.Fatalf("%s cut %d edition %d: %v", tc.name, cut, ed, err)
				}
				js, err := json.Marshal(e.object)
				if err != nil {
					t.Fatal(err)
				}
				for _, out := range []string{string(js), e.text} {
					for _, l := range leaks {
						if strings.Contains(strings.ToUpper(out), l) {
							t.Errorf("%s cut to %d bytes, edition %d: password %q in %s",
								tc.name, cut, ed, l, out)
						}
					}
				}
			}
		}
	}
}
