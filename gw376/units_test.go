package gw376

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/feegate/feegate/protocol"
)

// unitsOf decodes a fixture and walks its data units, failing the test on a frame error.
func unitsOf(t *testing.T, fx map[string]fixture, name string) (*Frame, Units) {
	t.Helper()
	f, err := Decode(mustFixture(t, fx, name))
	if err != nil {
		t.Fatal(err)
	}
	return f, f.Units()
}

// jsonOf renders a unit's fields as compact JSON for comparisons.
func jsonOf(t *testing.T, u Unit) string {
	t.Helper()
	b, err := json.Marshal(ObjectOf(u.Fields))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWalkFixtures(t *testing.T) {
	fx := loadFixtures(t)
	cases := []struct {
		name  string
		units []string // "pN FM" per unit
		json  []string // expected data per unit; "" skips the check
		rest  int
	}{
		{"V01-login-2009", []string{"p0 F1"}, []string{"{}"}, 0},
		{"V02-heartbeat-2009", []string{"p0 F3"}, []string{"{}"}, 0},
		{"V04-heartbeat-2013", []string{"p0 F3"}, []string{`{"clock":"2019-07-03T17:41:17"}`}, 0},
		{"V05-master-confirm-F1", []string{"p0 F1"}, nil, 0},
		{"V13-q-0C-F129", []string{"p1 F129"}, []string{"{}"}, 0},
		{"V14-r-0C-F129", []string{"p1 F129"}, []string{`{"read_time":"2018-08-28T16:18:00",` +
			`"rates":4,"forward_active_kwh":[{"value":0.0100},` +
			`{"value":null,"value_raw":"EEEEEEEEEE"},` +
			`{"value":null,"value_raw":"EEEEEEEEEE"},{"value":null,"value_raw":"EEEEEEEEEE"},` +
			`{"value":null,"value_raw":"EEEEEEEEEE"}]}`}, 0},
		{"V19-confirm-F3-nonstd", []string{"p0 F3"},
			[]string{`{"afn":2,"results":[{"id":"p0 F1","err":0}]}`}, 0},
		{"V20-confirm-F1-nonstd", []string{"p0 F1"}, nil, 6},
		{"V21-afn10-read-req", []string{"p0 F1"}, []string{`{"port":31,` +
			`"control":{"data_bits":8,"parity":"even","stop_bits":1,"baud":2400},` +
			`"frame_timeout":{"value":60,"unit":"s"},"byte_timeout":10,"length":16,` +
			`"frame":"68611001301215681104333334337B16"}`}, 0},
		{"V30-afn05-F49", []string{"p0 F49"}, []string{`{"port":1}`}, 0},
		{"V32-afn04-F10", []string{"p0 F10"}, []string{`{"count":1,"meters":[{"index":3,"pn":3,` +
			`"port":{"port":31,"baud":2400},"protocol":30,"address":"012345123124",` +
			`"password":"FFFFFFFFFFFF","tariffs":{"count":0},` +
			`"digits":{"decimals":2,"integers":6},` +
			`"collector":"000000000000","class":{"minor":0,"major":5}}]}`}, 0},
		{"V33-afn04-F10-deny", []string{"p0 F2"}, nil, 0},
		{"V35-afn05-F1-trip", []string{"p1 F1"},
			[]string{`{"timing":{"limit_half_hours":0,"alarm_delay_min":0}}`}, 0},
		{"V36-afn05-F2-allow", []string{"p1 F2"}, []string{"{}"}, 0},
		{"V37-afn05-F25", []string{"p0 F25"}, []string{`{"duration_half_hours":0}`}, 0},
		{"V38-afn05-F33", []string{"p0 F33"}, []string{"{}"}, 0},
		{"V40-reset-req", []string{"p0 F1"}, []string{"{}"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, us := unitsOf(t, fx, c.name)
			if us.Err != nil {
				t.Fatalf("walk: %v", us.Err)
			}
			if len(us.List) != len(c.units) {
				t.Fatalf("got %d units, want %d", len(us.List), len(c.units))
			}
			for i, u := range us.List {
				got := fmt.Sprintf("%s F%d", PnString(u.Pn), u.Fn)
				if got != c.units[i] {
					t.Errorf("unit %d = %s, want %s", i, got, c.units[i])
				}
				if i < len(c.json) && c.json[i] != "" {
					if js := jsonOf(t, u); js != c.json[i] {
						t.Errorf("unit %d data\n got %s\nwant %s", i, js, c.json[i])
					}
				}
			}
			if len(us.Rest) != c.rest {
				t.Errorf("rest = % X, want %d bytes", us.Rest, c.rest)
			}
		})
	}
}

func TestWalkConfirmDT0300Warns(t *testing.T) {
	fx := loadFixtures(t)
	_, us := unitsOf(t, fx, "V19-confirm-F3-nonstd")
	if len(us.List) != 1 || !strings.Contains(us.List[0].Warning, "03 00") {
		t.Fatalf("units = %+v", us.List)
	}
}

func TestWalkUnknownFnKeepsEarlierUnits(t *testing.T) {
	// p0 F2 (terminal clock) then p0 F200, which no table row defines.
	data := []byte{0x00, 0x00, 0x02, 0x00, 0x00, 0x39, 0x07, 0x17, 0x43, 0x15,
		0x00, 0x00, 0x80, 0x18, 0x01, 0x02}
	us := WalkUnits(AFNClass1, Up, data)
	if len(us.List) != 1 || us.List[0].Fn != 2 {
		t.Fatalf("units = %+v", us.List)
	}
	if !errors.Is(us.Err, protocol.ErrUnknownIdentifier) {
		t.Fatalf("err = %v", us.Err)
	}
	if !strings.Contains(us.Err.Error(), "AFN 0C F200") {
		t.Errorf("error %q does not name AFN 0C F200", us.Err)
	}
	if us.RestOffset != 10 || len(us.Rest) != 6 {
		t.Errorf("rest at %d = % X", us.RestOffset, us.Rest)
	}
}

func TestWalkSurplusAfterReply(t *testing.T) {
	// An F167 reply of 41 bytes followed by 5 bytes that cannot start an identifier.
	body := []byte{0x01, 0x01, 0x40, 0x14, 0x18, 0x16, 0x28, 0x08, 0x18, 0x12, 0x00}
	for i := 0; i < 5+5+4*6; i++ {
		body = append(body, 0x00)
	}
	body = append(body, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE)
	us := WalkUnits(AFNClass1, Up, body)
	if us.Err != nil {
		t.Fatalf("walk: %v", us.Err)
	}
	if len(us.List) != 1 || len(us.List[0].Data) != 41 {
		t.Fatalf("units = %+v", us.List)
	}
	if !bytes.Equal(us.Rest, []byte{0xEE, 0xEE, 0xEE, 0xEE, 0xEE}) {
		t.Errorf("rest = % X", us.Rest)
	}
	obj := ObjectOf(us.List[0].Fields)
	if v, _ := obj.Get("purchase_count"); v != json.Number("12") {
		t.Errorf("purchase_count = %v", v)
	}
}

func TestWalkMultiPnFnOrder(t *testing.T) {
	// DA p1,p2 with DT F2 and F5: units come ordered p1 F2, p1 F5, p2 F2, p2 F5.
	var id ID
	_ = id.DA.Add(1)
	_ = id.DA.Add(2)
	_ = id.DT.Add(2)
	_ = id.DT.Add(5)
	clock := []byte{0x00, 0x39, 0x07, 0x17, 0x43, 0x15}
	f5 := []byte{0x01, 0x00}
	data := id.Append(nil)
	for range 2 {
		data = append(data, clock...)
		data = append(data, f5...)
	}
	us := WalkUnits(AFNClass1, Up, data)
	if us.Err != nil || len(us.List) != 4 {
		t.Fatalf("units %d err %v", len(us.List), us.Err)
	}
	want := []string{"p1 F2", "p1 F5", "p2 F2", "p2 F5"}
	for i, u := range us.List {
		if got := fmt.Sprintf("%s F%d", PnString(u.Pn), u.Fn); got != want[i] {
			t.Errorf("unit %d = %s, want %s", i, got, want[i])
		}
	}
}

func TestERC14BothLengths(t *testing.T) {
	// ERC14 with Le 10 and Le 11 (attribute byte first), and ERC99 kept raw.
	records := []byte{
		14, 10, 0x18, 0x15, 0x04, 0x07, 0x19, 0x53, 0x16, 0x04, 0x07, 0x19,
		14, 11, 0x01, 0x18, 0x15, 0x04, 0x07, 0x19, 0x53, 0x16, 0x04, 0x07, 0x19,
		99, 2, 0xAB, 0xCD,
	}
	data := append([]byte{0x00, 0x00, 0x02, 0x00, 5, 0, 2, 5}, records...)
	us := WalkUnits(AFNClass3, Up, data)
	if us.Err != nil || len(us.List) != 1 {
		t.Fatalf("units %+v err %v", us.List, us.Err)
	}
	js := jsonOf(t, us.List[0])
	for _, want := range []string{
		`{"erc":14,"name":"terminal power off/on","length":10,"content":` +
			`{"power_off":"2019-07-04T15:18:00","power_on":"2019-07-04T16:53:00"}}`,
		`"content":{"attribute":1,"power_off":"2019-07-04T15:18:00"`,
		`{"erc":99,"name":"reserved","length":2,"content":"ABCD"}`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("records JSON lacks %s\n%s", want, js)
		}
	}
}

func TestERCInvalidBCDPerField(t *testing.T) {
	// ERC5 whose trip time has a minute byte 0x7A: only that field is invalid.
	records := []byte{5, 10, 0x7A, 0x10, 0x04, 0x07, 0x19, 0x01, 0x00, 0x80, 0x00, 0x80}
	data := append([]byte{0x00, 0x00, 0x01, 0x00, 1, 0, 0, 1}, records...)
	us := WalkUnits(AFNClass3, Up, data)
	if us.Err != nil || len(us.List) != 1 {
		t.Fatalf("units %+v err %v", us.List, us.Err)
	}
	js := jsonOf(t, us.List[0])
	if !strings.Contains(js, `"time":null,"time_raw":"7A10040719"`) {
		t.Errorf("invalid time not reported per field: %s", js)
	}
	if !strings.Contains(js, `"turns":1,"power_kw":0,"power_after_2min_kw":0`) {
		t.Errorf("other fields lost: %s", js)
	}
}

func FuzzWalkUnits(f *testing.F) {
	fx := loadFixtures(f)
	for _, x := range fx {
		var fr Frame
		if DecodeInto(&fr, x.raw) == nil {
			f.Add(byte(fr.AFN), fr.Control.Up, fr.Data)
		}
	}
	f.Add(byte(AFNClass3), true, []byte{0, 0, 1, 0, 1, 0, 0, 2, 14, 11, 1, 0x18, 0x15, 4, 7, 0x19,
		0x53, 0x16, 4, 7, 0x19, 5, 10, 0x7A, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, afn byte, up bool, data []byte) {
		dir := Down
		if up {
			dir = Up
		}
		us := WalkUnits(AFN(afn), dir, data)
		end := 0
		for _, u := range us.List {
			if u.Offset < end || u.Offset+len(u.Data) > len(data) {
				t.Fatalf("unit at %d+%d overlaps or overruns %d", u.Offset, len(u.Data), len(data))
			}
			end = u.Offset + len(u.Data)
			if _, err := json.Marshal(ObjectOf(u.Fields)); err != nil {
				t.Fatalf("unit does not marshal: %v", err)
			}
		}
		if us.RestOffset+len(us.Rest) != len(data) {
			t.Fatalf("rest %d+%d does not end the data (%d)", us.RestOffset, len(us.Rest),
				len(data))
		}
	})
}

func TestERCTruncatedRecordStaysInUnit(t *testing.T) {
	// ERC14 announcing 10 content bytes with only 4 present.
	data := []byte{0x00, 0x00, 0x01, 0x00, 1, 0, 0, 1, 14, 10, 0x18, 0x15, 0x04, 0x07}
	us := WalkUnits(AFNClass3, Up, data)
	if us.Err != nil || len(us.List) != 1 || len(us.Rest) != 0 {
		t.Fatalf("units %d err %v rest % X", len(us.List), us.Err, us.Rest)
	}
	js := jsonOf(t, us.List[0])
	if !strings.Contains(js, `"records":[],"records_error":"protocol: short frame: ERC14 record`) {
		t.Errorf("truncated record not reported: %s", js)
	}
}

func TestWalkClass2Curve(t *testing.T) {
	// p1 F81 (active power curve): Td_c 2026-12-04 00:15, density 1 (15 min), 2 points,
	// then 1.5000 kW and -0.2500 kW in A.9.
	data := []byte{0x01, 0x01, 0x01, 0x0A, 0x15, 0x00, 0x04, 0x12, 0x26, 0x01, 0x02,
		0x00, 0x50, 0x01, 0x00, 0x25, 0x80}
	us := WalkUnits(AFNClass2, Up, data)
	if us.Err != nil || len(us.List) != 1 || us.List[0].Fn != 81 {
		t.Fatalf("units %+v err %v", us.List, us.Err)
	}
	want := `{"start":"2026-12-04T00:15:00","density":1,"points":2,` +
		`"values":[{"value":1.5000},{"value":-0.2500}]}`
	if got := jsonOf(t, us.List[0]); got != want {
		t.Errorf("curve\n got %s\nwant %s", got, want)
	}
	// The request carries only Td_c.
	down := WalkUnits(AFNClass2, Down, data[:11])
	if down.Err != nil || len(down.List) != 1 || len(down.Rest) != 0 {
		t.Errorf("request units %d err %v rest % X", len(down.List), down.Err, down.Rest)
	}
}

func TestWalkClass2DailyFrozen(t *testing.T) {
	// p1 F161: day 2026-12-03, read 2026-12-04 00:05, M=1, total and rate 1.
	data := []byte{0x01, 0x01, 0x01, 0x14, 0x03, 0x12, 0x26, 0x05, 0x00, 0x04, 0x12, 0x26, 0x01,
		0x00, 0x00, 0x45, 0x23, 0x01, 0x00, 0x00, 0x45, 0x23, 0x01}
	us := WalkUnits(AFNClass2, Up, data)
	if us.Err != nil || len(us.List) != 1 {
		t.Fatalf("units %+v err %v", us.List, us.Err)
	}
	want := `{"day":"2026-12-03","read_time":"2026-12-04T00:05:00","rates":1,` +
		`"forward_active_kwh":[{"value":12345.0000},{"value":12345.0000}]}`
	if got := jsonOf(t, us.List[0]); got != want {
		t.Errorf("daily frozen\n got %s\nwant %s", got, want)
	}
}
