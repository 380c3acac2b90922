package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// gwFixture is one frame of fixtures/gw376/frames.txt.
type gwFixture struct {
	name string
	raw  []byte
}

func loadGWFixtures(t *testing.T) []gwFixture {
	t.Helper()
	fh, err := os.Open("../../fixtures/gw376/frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []gwFixture
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		raw, err := hex.DecodeString(strings.Join(strings.Fields(parts[1]), ""))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gwFixture{name: strings.TrimSpace(parts[0]), raw: raw})
	}
	return out
}

func loadGolden(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../fixtures/gw376/explain.golden")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, js, _ := strings.Cut(line, "|")
		out[name] = js
	}
	return out
}

func TestExplainGW376Fixtures(t *testing.T) {
	golden := loadGolden(t)
	for _, fx := range loadGWFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			var out bytes.Buffer
			failed, err := explainBytes(&out, fx.raw, explainOptions{}, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			variant := strings.Contains(fx.name, "quirk")
			if failed != variant {
				t.Fatalf("failed = %v, want %v: %s", failed, variant, out.String())
			}
			want, ok := golden[fx.name]
			if !ok {
				t.Fatalf("no golden line")
			}
			got := strings.TrimSuffix(out.String(), "\n")
			if got != want {
				t.Errorf("JSON\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestExplainGW376Contract(t *testing.T) {
	fx := loadGWFixtures(t)
	byName := map[string][]byte{}
	for _, f := range fx {
		byName[f.name] = f.raw
	}
	e, err := explainFrame(byName["V23-afn10-trip-req"], explainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(e.object)
	var obj map[string]any
	if err := json.Unmarshal(js, &obj); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"protocol", "terminal", "msa", "group", "direction", "prm",
		"function_code", "function", "afn", "seq", "units", "aux"} {
		if _, ok := obj[key]; !ok {
			t.Errorf("key %s missing", key)
		}
	}
	if obj["afn"] != "10" || obj["terminal"] != "02001234" || obj["direction"] != "down" {
		t.Errorf("afn %v terminal %v direction %v", obj["afn"], obj["terminal"], obj["direction"])
	}
	unit := obj["units"].([]any)[0].(map[string]any)
	frame := unit["data"].(map[string]any)["frame"].(map[string]any)
	if frame["protocol"] != "dlt645-2007" || frame["function"] != "relay_control" {
		t.Errorf("embedded frame %v", frame)
	}
	if strings.Contains(string(js), "020637") {
		t.Errorf("the meter password leaked into the output: %s", js)
	}
	if strings.Contains(e.text, "35 6A 39 35") {
		t.Errorf("scrambled password bytes shown outside the DL/T 645 breakdown:\n%s", e.text)
	}
	if !strings.Contains(e.text, "      | dlt645-2007 request from 151230011061") {
		t.Errorf("embedded 645 breakdown not indented under the unit:\n%s", e.text)
	}
	tp := obj["aux"].(map[string]any)["tp"].(map[string]any)
	if tp["sent"] != "22T00:05:34" || tp["delay_min"] != float64(5) {
		t.Errorf("tp = %v", tp)
	}
}

func TestExplainGW376TextShowsEveryField(t *testing.T) {
	raw, _ := hex.DecodeString("684A004A0068C94924455800027000000400174117036719" + "3B16")
	e, err := explainGW376(raw, explainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A1 行政区划码: A1 2449", "A2 终端地址: A2 5845",
		"18-23", "2019-07-03T17:41:17", "weekday 3", "checksum CS"} {
		if !strings.Contains(e.text, want) {
			t.Errorf("text lacks %q:\n%s", want, e.text)
		}
	}
}

func TestExplainGW376EventRecordFields(t *testing.T) {
	// AFN0E F1 reply built with gw376.AppendEvents: ERC14 in its 11-byte form, then ERC5.
	raw, _ := hex.DecodeString("68AE00AE0068A84924455802" + "0E6400000100020000020E0B01181504" +
		"0719531604071905" + "0A0015040719011" + "5A0008002" + "00A316")
	e, err := explainGW376(raw, explainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"25-29     18 15 04 07 19",
		"power-off time (停电发生时间): 2019-07-04T15:18:00 [A.15]",
		"43-44     15 A0",
		"power at the trip (跳闸时功率): 1.5 kW [A.2]",
		"EC 事件计数器: important 2, general 0",
	} {
		if !strings.Contains(e.text, want) {
			t.Errorf("text lacks %q:\n%s", want, e.text)
		}
	}
}

func TestExplainGW376UncertainFlagNoted(t *testing.T) {
	addr, _ := protocol.ParseTerminalAddress("02001234")
	req, err := gw376.NewUnitsRequest(addr, 2, gw376.AFNForward, 1, []gw376.UnitValue{{Fn: 10,
		Value: map[string]any{"port": 31, "relay_count": 0, "relays": []any{},
			"meter": "151230011061", "flag": 0x55, "password_length": 3, "password": "020637"}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := gw376.Encode(&req)
	if err != nil {
		t.Fatal(err)
	}
	e, err := explainGW376(raw, explainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.text, "2009 edition") || !strings.Contains(e.text,
		"note: flag meaning") {
		t.Errorf("2009 F10 not marked:\n%s", e.text)
	}
	js, _ := json.Marshal(e.object)
	if !strings.Contains(string(js), `"note":"flag meaning of 55H/AAH unverified"`) {
		t.Errorf("JSON lacks the note: %s", js)
	}
	if strings.Contains(string(js), "020637") || strings.Contains(e.text, "02 06 37") ||
		strings.Contains(e.text, "020637") {
		t.Errorf("password shown without --show-secrets:\n%s\n%s", js, e.text)
	}
	shown, err := explainGW376(raw, explainOptions{showSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown.text, "02 06 37") {
		t.Errorf("--show-secrets did not show the password:\n%s", shown.text)
	}
}

func FuzzExplainGW376(f *testing.F) {
	b, err := os.ReadFile("../../fixtures/gw376/frames.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) < 2 || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := hex.DecodeString(strings.Join(strings.Fields(parts[1]), ""))
		if err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(raw []byte) {
			e, err := explainGW376(raw, explainOptions{})
			if err != nil {
				return
			}
			if _, err := json.Marshal(e.object); err != nil {
				t.Fatalf("object does not marshal: %v", err)
			}
			if e.text == "" {
				t.Fatal("empty breakdown")
			}
		}
		check(raw)
		// Most random inputs fail the checksum, so also wrap them as the data-unit area of
		// a valid frame whose C, AFN and SEQ come from the first bytes.
		if len(raw) < 3 {
			return
		}
		fr := gw376.Frame{Control: gw376.ControlFromByte(raw[0]), AFN: gw376.AFN(raw[1]),
			Seq: gw376.SeqFromByte(raw[2]), Data: raw[3:],
			Address: protocol.TerminalAddress{A1: 4401, A2: 1}}
		wrapped, err := gw376.Encode(&fr)
		if err == nil {
			check(wrapped)
		}
	})
}

// gwTripBadEmbeddedCS is an AFN10 F1 trip whose embedded DL/T 645 checksum is wrong (2C
// changed to 2D, the 376.1 checksum recomputed). The forwarded frame cannot be decoded, so
// its password bytes (6A 39 35, scrambled) must not be printed without --show-secrets.
const gwTripBadEmbeddedCS = "681201120168" + "4B0002341204" + "10E5" + "00000100" +
	"1F6BBC0A1C00" + "68611001301215681C10356A3935343333334D3333333363 45CC2D16" +
	"00000000000000000000000000000000" + "053405002205" + "CD16"

func TestExplainGW376MasksUndecodableEmbeddedFrame(t *testing.T) {
	in := strings.ReplaceAll(gwTripBadEmbeddedCS, " ", "")
	for _, args := range [][]string{{"--json", in}, {in}} {
		out, err := runExplain(t, "", args...)
		if err != nil {
			t.Fatalf("explain %v: %v\n%s", args, err, out)
		}
		flat := strings.ReplaceAll(strings.ToUpper(out), " ", "")
		if strings.Contains(flat, "356A3935") {
			t.Errorf("explain %v printed the scrambled password:\n%s", args, out)
		}
		if !strings.Contains(out, "does not decode") && !strings.Contains(out, "frame_error") {
			t.Errorf("explain %v does not report the embedded frame error:\n%s", args, out)
		}
	}
	out, err := runExplain(t, "", "--json", "--show-secrets", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToUpper(out), "356A3935") {
		t.Errorf("--show-secrets hides the embedded frame:\n%s", out)
	}
}
