package archive

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("../fixtures/archives/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeJSONFixture(t *testing.T) {
	a, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(a); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := len(a.Meters); got != 6 {
		t.Fatalf("meters = %d, want 6", got)
	}
	if a.Meters[0].Address != "000000000161" {
		t.Errorf("address = %q, want normalized 000000000161", a.Meters[0].Address)
	}
	if k := a.Meters[0].Route.Kind(); k != RouteTerminal {
		t.Errorf("route kind = %q, want terminal", k)
	}
	kinds := map[RouteKind]int{}
	for _, m := range a.Meters {
		kinds[m.Route.Kind()]++
	}
	for _, k := range []RouteKind{RouteTerminal, RouteBus, RouteLink, RouteModbus} {
		if kinds[k] == 0 {
			t.Errorf("fixture has no %s route", k)
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	a, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodeCSV(&buf, a.Meters); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != strings.Join(CSVHeader, ",") {
		t.Fatalf("header = %q", first)
	}
	b, err := DecodeCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Meters) != len(a.Meters) {
		t.Fatalf("meters = %d, want %d", len(b.Meters), len(a.Meters))
	}
	for i := range a.Meters {
		x, y := a.Meters[i], b.Meters[i]
		if x.Address != y.Address || x.Protocol != y.Protocol || x.Kind != y.Kind ||
			x.Route.Kind() != y.Route.Kind() || x.Protected != y.Protected {
			t.Errorf("row %d: %+v != %+v", i, x, y)
		}
		if (x.Password == nil) != (y.Password == nil) ||
			x.Password != nil && *x.Password != *y.Password {
			t.Errorf("row %d: password differs", i)
		}
	}
	merged, err := Replace(a, b)
	if err != nil {
		t.Fatalf("Replace with CSV meters: %v", err)
	}
	if len(merged.Terminals) != len(a.Terminals) {
		t.Errorf("Replace dropped terminals: %d", len(merged.Terminals))
	}
}

const csvHeader = "address,protocol,kind,terminal,point,port,baud,bus,link,modbus_endpoint," +
	"modbus_unit,modbus_model,password_level,password,meter_number,protected\n"

func TestDecodeCSVBadFields(t *testing.T) {
	good := "000000000161,dlt645-2007,cost_control,44010001,1,2,2400,,,,,,2,123456,,false"
	cases := []struct {
		name, row, field string
	}{
		{"address letters", "00000000016X,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,123456,,false", "address"},
		{"address broadcast", "999999999999,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,123456,,false", "address"},
		{"address missing", ",dlt645-2007,plain,44010001,1,2,2400,,,,,,2,123456,,false", "address"},
		{"protocol", "000000000161,dlt645-2009,plain,44010001,1,2,2400,,,,,,2,123456,,false", "protocol"},
		{"kind", "000000000161,dlt645-2007,prepaid,44010001,1,2,2400,,,,,,2,123456,,false", "kind"},
		{"kind 1997 cost", "000000000161,dlt645-1997,cost_control,44010001,1,2,1200,,,,,,2,123456,,false", "kind"},
		{"terminal", "000000000161,dlt645-2007,plain,4401XYZ1,1,2,2400,,,,,,2,123456,,false", "route.terminal"},
		{"terminal A2 zero", "000000000161,dlt645-2007,plain,44010000,1,2,2400,,,,,,2,123456,,false", "route.terminal"},
		{"point zero", "000000000161,dlt645-2007,plain,44010001,0,2,2400,,,,,,2,123456,,false", "route.point"},
		{"point high", "000000000161,dlt645-2007,plain,44010001,2041,2,2400,,,,,,2,123456,,false", "route.point"},
		{"point text", "000000000161,dlt645-2007,plain,44010001,one,2,2400,,,,,,2,123456,,false", "point"},
		{"port", "000000000161,dlt645-2007,plain,44010001,1,32,2400,,,,,,2,123456,,false", "route.port"},
		{"baud", "000000000161,dlt645-2007,plain,44010001,1,2,2500,,,,,,2,123456,,false", "route.baud"},
		{"two routes", "000000000161,dlt645-2007,plain,44010001,1,2,2400,bus1,,,,,2,123456,,false", "route"},
		{"no route", "000000000161,dlt645-2007,plain,,,,,,,,,,2,123456,,false", "route"},
		{"modbus route on 645", "000000000161,dlt645-2007,plain,,,,,,,127.0.0.1:502,1,,2,123456,,false", "route"},
		{"modbus endpoint", "000000000161,modbus,plain,,,,,,,localhost,1,,,,,false", "route.modbus.endpoint"},
		{"modbus unit", "000000000161,modbus,plain,,,,,,,127.0.0.1:502,248,,,,,false", "route.modbus.unit"},
		{"modbus password", "000000000161,modbus,plain,,,,,,,127.0.0.1:502,1,,2,123456,,false", "password"},
		{"password level", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,50,123456,,false", "password.level"},
		{"password value", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,12345,,false", "password.value"},
		{"password missing", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,,,false", "password.value"},
		{"password no level", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,,123456,,false", "password_level"},
		{"meter number", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,123456,12AB,false", "meter_number"},
		{"protected", "000000000161,dlt645-2007,plain,44010001,1,2,2400,,,,,,2,123456,,maybe", "protected"},
		{"field count", "000000000161,dlt645-2007,plain", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := csvHeader + good + "\n" + c.row + "\n"
			if c.name == "address missing" || c.name == "field count" {
				in = csvHeader + c.row + "\n"
			}
			a, err := DecodeCSV(strings.NewReader(in))
			if err == nil && a != nil {
				_, err = Merge(&Archive{Terminals: []Terminal{{Address: "44010001", Kind: KindConcentrator}}}, a)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, c.field, err)
			}
			if fe.Row == 0 {
				t.Errorf("row = 0, want the line number (%v)", err)
			}
			if strings.Contains(err.Error(), "12345") && strings.Contains(c.name, "password") {
				t.Errorf("error copies the password: %v", err)
			}
		})
	}
}

func TestDecodeCSVAllProblems(t *testing.T) {
	in := csvHeader +
		"000000000161,dlt645-2007,plain,44010001,0,2,2400,,,,,,2,123456,,false\n" +
		"000000000162,dlt645-2007,plain,44010001,1,99,2400,,,,,,2,123456,,false\n" +
		"000000000161,dlt645-2007,plain,44010001,3,2,2400,,,,,,2,123456,,false\n"
	_, err := DecodeCSV(strings.NewReader(in))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	want := []struct {
		row   int
		field string
	}{{2, "route.point"}, {3, "route.port"}, {4, "address"}}
	if len(ve.Problems) != len(want) {
		t.Fatalf("problems = %v, want %d", ve.Problems, len(want))
	}
	for i, w := range want {
		if ve.Problems[i].Row != w.row || ve.Problems[i].Field != w.field {
			t.Errorf("problem %d = %v, want row %d field %s", i, ve.Problems[i], w.row, w.field)
		}
	}
}

func TestDecodeCSVHeaderProblems(t *testing.T) {
	for _, in := range []string{
		"",
		"address,protocol,colour\n",
		"address,address,protocol\n",
		"protocol,kind\n",
	} {
		if _, err := DecodeCSV(strings.NewReader(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", in, err)
		}
	}
}

func TestDecodeCSVShortAddressAndBOM(t *testing.T) {
	in := "\xEF\xBB\xBF" + csvHeader + "161,dlt645-1997,,44010001,1,2,,,,,,,,,,\n"
	a, err := DecodeCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	m := a.Meters[0]
	if m.Address != "000000000161" {
		t.Errorf("address = %q, want zero-padded", m.Address)
	}
	if m.Kind != KindPlain {
		t.Errorf("kind = %q, want the plain default", m.Kind)
	}
	if m.Baud() != 1200 {
		t.Errorf("baud = %d, want the 1997 default 1200", m.Baud())
	}
}

func TestDecodeJSONBadInput(t *testing.T) {
	cases := []struct {
		name, in, section, field string
	}{
		{"syntax", `{"meters": [`, "archive", ""},
		{"type", `{"meters": [{"address": 161}]}`, "meters", "address"},
		{"terminal kind", `{"terminals": [{"address": "44010001", "kind": "hub"}]}`, "terminals", "kind"},
		{"terminal turns", `{"terminals": [{"address": "44010001", "kind": "concentrator", "control_turns": 9}]}`, "terminals", "control_turns"},
		{"terminal heartbeat", `{"terminals": [{"address": "44010001", "kind": "concentrator", "heartbeat_period_s": -1}]}`, "terminals", "heartbeat_period_s"},
		{"terminal duplicate", `{"terminals": [{"address": "44010001", "kind": "concentrator"}, {"address": "44010001", "kind": "concentrator"}]}`, "terminals", "address"},
		{"bus parity", `{"buses": [{"name": "b", "device": "/dev/x", "parity": "mark"}]}`, "buses", "parity"},
		{"bus device", `{"buses": [{"name": "b"}]}`, "buses", "device"},
		{"bus baud", `{"buses": [{"name": "b", "device": "/dev/x", "baud": 1}]}`, "buses", "baud"},
		{"link address", `{"links": [{"name": "l", "address": "nowhere"}]}`, "links", "address"},
		{"link name", `{"links": [{"address": "127.0.0.1:4001"}]}`, "links", "name"},
		{"model scale", `{"modbus_models": [{"name": "m", "registers": {"energy": {"table": "holding", "words": 2, "scale": 0}}}]}`, "modbus_models", "registers.energy.scale"},
		{"model words", `{"modbus_models": [{"name": "m", "registers": {"energy": {"table": "holding", "words": 3, "scale": 1}}}]}`, "modbus_models", "registers.energy.words"},
		{"model coil", `{"modbus_models": [{"name": "m", "registers": {"relay_coil": {"table": "holding"}}}]}`, "modbus_models", "registers.energy.table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeJSON(strings.NewReader(c.in))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *FieldError", err)
			}
			if fe.Section != c.section {
				t.Errorf("section = %q, want %q (%v)", fe.Section, c.section, err)
			}
			if fe.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, c.field, err)
			}
		})
	}
}

func TestValidateReferences(t *testing.T) {
	a := &Archive{Meters: []Meter{
		{Address: "1", Protocol: ProtocolDLT645v2007, Route: Route{Terminal: "44010001", Point: 1, Port: 2}},
		{Address: "2", Protocol: ProtocolDLT645v2007, Route: Route{Bus: "nobus"}},
		{Address: "3", Protocol: ProtocolDLT645v2007, Route: Route{Link: "nolink"}},
		{Address: "4", Protocol: ProtocolModbus, Route: Route{Modbus: &ModbusRoute{Endpoint: "127.0.0.1:502", Unit: 1, Model: "nomodel"}}},
		{Address: "5", Protocol: ProtocolModbus, Route: Route{Modbus: &ModbusRoute{Endpoint: "127.0.0.1:502", Unit: 2}}},
	}}
	err := Validate(a)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	fields := []string{"route.terminal", "route.bus", "route.link", "route.modbus.model"}
	if len(ve.Problems) != len(fields) {
		t.Fatalf("problems = %v, want %d", ve.Problems, len(fields))
	}
	for i, f := range fields {
		if ve.Problems[i].Field != f {
			t.Errorf("problem %d field = %q, want %q", i, ve.Problems[i].Field, f)
		}
	}
	if a.Meters[4].Route.Modbus.Model != DefaultModbusModelName {
		t.Errorf("empty model = %q, want the default", a.Meters[4].Route.Modbus.Model)
	}
}

func TestMergeUpserts(t *testing.T) {
	base, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	upd := &Archive{Meters: []Meter{
		{Address: "000000000161", Protocol: ProtocolDLT645v2007, Kind: KindPlain, Protected: true,
			Route: Route{Terminal: "44010001", Point: 1, Port: 2}},
		{Address: "000000009999", Protocol: ProtocolDLT645v1997,
			Route: Route{Terminal: "44010001", Point: 9, Port: 2}},
	}}
	next, err := Merge(base, upd)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Meters) != len(base.Meters)+1 {
		t.Fatalf("meters = %d, want %d", len(next.Meters), len(base.Meters)+1)
	}
	if !next.Meters[0].Protected {
		t.Error("existing meter not replaced")
	}
	if base.Meters[0].Protected {
		t.Error("Merge changed base")
	}

	bad := &Archive{Meters: []Meter{{Address: "000000009998", Protocol: ProtocolDLT645v2007,
		Route: Route{Terminal: "44019999", Point: 10, Port: 2}}}}
	if _, err := Merge(base, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("merge with unknown terminal: err = %v", err)
	}
}

func TestRedactedDropsPasswords(t *testing.T) {
	a, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Redacted()
	var buf bytes.Buffer
	if err := EncodeJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "123456") {
		t.Errorf("redacted export contains a password:\n%s", buf.String())
	}
	if a.Meters[0].Password == nil || a.Meters[0].Password.Value == "" {
		t.Error("Redacted changed the original")
	}
	buf.Reset()
	if err := EncodeCSV(&buf, r.Meters); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "123456") {
		t.Errorf("redacted CSV contains a password")
	}
}

func TestRegisterCodec(t *testing.T) {
	m := DefaultModbusModel().Registers
	for _, low := range []bool{false, true} {
		w := m.Energy.Encode(12345.67, low)
		v, err := m.Energy.Decode(w, low)
		if err != nil || v < 12345.669 || v > 12345.671 {
			t.Errorf("energy low=%v: %v %v", low, v, err)
		}
		w = m.Power.Encode(-1.5, low)
		v, _ = m.Power.Decode(w, low)
		if v != -1.5 {
			t.Errorf("power low=%v = %v, want -1.5", low, v)
		}
	}
	if w := m.Energy.Encode(1, false); w[0] != 0 || w[1] != 100 {
		t.Errorf("energy words = %v, want [0 100]", w)
	}
	if _, err := m.Voltage.Decode([]uint16{1, 2}, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("word count mismatch: err = %v", err)
	}
	if m.RelayCoil.ValueFor(true) != false || !m.RelayStatus.Open(false) {
		t.Error("default polarity: ON must mean closed")
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add(readFixtureF(f, "small.json"))
	f.Add([]byte(`{"meters":[{"address":"1","protocol":"modbus","route":{"modbus":{}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeJSON(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		_ = Validate(a)
		_ = a.Redacted()
	})
}

func FuzzDecodeCSV(f *testing.F) {
	f.Add([]byte(csvHeader + "000000000161,dlt645-2007,cost_control,44010001,1,2,2400,,,,,,2,123456,,false\n"))
	f.Add([]byte(csvHeader + "1,modbus,,,,,,,,127.0.0.1:502,1,,,,,\n\"x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeCSV(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := EncodeCSV(&buf, a.Meters); err != nil {
			t.Fatal(err)
		}
		b, err := DecodeCSV(&buf)
		if err != nil {
			t.Fatalf("re-read of written CSV failed: %v", err)
		}
		if len(b.Meters) != len(a.Meters) {
			t.Fatalf("round trip: %d meters, want %d", len(b.Meters), len(a.Meters))
		}
	})
}

func readFixtureF(f *testing.F, name string) []byte {
	data, err := os.ReadFile("../fixtures/archives/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

func TestDecodeCSVFixtureMerges(t *testing.T) {
	base, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	csvArchive, err := DecodeCSV(bytes.NewReader(readFixture(t, "meters.csv")))
	if err != nil {
		t.Fatal(err)
	}
	if len(csvArchive.Meters) != 6 {
		t.Fatalf("meters = %d, want 6", len(csvArchive.Meters))
	}
	if m := csvArchive.Meters[2]; m.Address != "000000000163" || !m.Protected {
		t.Errorf("row 4: %+v", m)
	}
	if p := csvArchive.Meters[4].Password; p == nil || p.Level != 98 || p.LevelByte() != 0x98 {
		t.Errorf("level 98 password: %+v", p)
	}
	next, err := Replace(base, csvArchive)
	if err != nil {
		t.Fatalf("replace meters with the CSV: %v", err)
	}
	ix := NewIndex(next)
	if got := len(ix.MetersOf("44010001")); got != 2 {
		t.Errorf("meters of 44010001 = %d, want 2", got)
	}
	if m, ok := ix.Meter("000000000401"); !ok || m.Route.Modbus.Model != "din-rail-relay" {
		t.Errorf("modbus meter: %+v %v", m, ok)
	}
	if _, ok := ix.ModbusModel(DefaultModbusModelName); !ok {
		t.Error("the default model is missing from the index")
	}
}

func TestMergeRouteClashNamesMeter(t *testing.T) {
	base, err := DecodeJSON(bytes.NewReader(readFixture(t, "small.json")))
	if err != nil {
		t.Fatal(err)
	}
	// Each new meter takes the route of a different base meter.
	upd := &Archive{Meters: []Meter{
		{Address: "000000009001", Protocol: ProtocolDLT645v2007, Kind: KindPlain,
			Route: Route{Terminal: "44010001", Point: 1, Port: 2}},
		{Address: "000000009002", Protocol: ProtocolDLT645v2007, Kind: KindPlain,
			Route: Route{Terminal: "44010001", Point: 2, Port: 2}},
		{Address: "000000009003", Protocol: ProtocolDLT645v1997,
			Route: Route{Terminal: "44010002", Point: 1, Port: 2}},
	}}
	_, err = Merge(base, upd)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("merge: err = %v, want a ValidationError", err)
	}
	want := map[string]string{"000000009001": "000000000161",
		"000000009002": "000000000162", "000000009003": "000000000163"}
	found := 0
	for _, p := range ve.Problems {
		first, ok := want[p.Key]
		if !ok || p.Field != "route.point" {
			continue
		}
		found++
		if !strings.Contains(p.Reason, "meter "+first) {
			t.Errorf("%s: reason %q, want it to name meter %s", p.Key, p.Reason, first)
		}
		if strings.Contains(p.Reason, "row 0") {
			t.Errorf("%s: reason %q cites row 0", p.Key, p.Reason)
		}
	}
	if found != len(want) {
		t.Errorf("%d route clashes reported, want %d: %v", found, len(want), err)
	}
}

func TestRegisterDecodeExactDecimals(t *testing.T) {
	cases := []struct {
		words  []uint16
		signed bool
		scale  float64
		want   string
	}{
		{[]uint16{0x0004, 0xAF65}, false, 0.01, "3070.45"}, // 307045
		{[]uint16{0x0000, 0x0007}, false, 0.1, "0.7"},
		{[]uint16{0xFFFF, 0xFFF9}, true, 0.001, "-0.007"},
		{[]uint16{0x0000, 0x0003}, false, 0.25, "0.75"},
		{[]uint16{0x0000, 0x0003}, false, 2, "6"},
	}
	for _, tc := range cases {
		r := Register{Table: TableHolding, Words: 2, Signed: tc.signed, Scale: tc.scale}
		v, err := r.Decode(tc.words, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := strconv.FormatFloat(v, 'f', -1, 64); got != tc.want {
			t.Errorf("%v × %v = %s, want %s", tc.words, tc.scale, got, tc.want)
		}
	}
}
