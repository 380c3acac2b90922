package dlt645

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

// requiredRows lists the identifiers the table must have, with size, decimals and unit.
var requiredRows = []struct {
	di       string
	size     int
	decimals uint8
	unit     string
	format   Format
}{
	{"00000000", 4, 2, "kWh", FormatBCDSigned},
	{"00010000", 4, 2, "kWh", FormatBCD},
	{"00010100", 4, 2, "kWh", FormatBCD},
	{"00010200", 4, 2, "kWh", FormatBCD},
	{"00010300", 4, 2, "kWh", FormatBCD},
	{"00010400", 4, 2, "kWh", FormatBCD},
	{"0001FF00", 20, 0, "", FormatBlock},
	{"00020000", 4, 2, "kWh", FormatBCD},
	{"00030000", 4, 2, "kvarh", FormatBCDSigned},
	{"00040000", 4, 2, "kvarh", FormatBCDSigned},
	{"02010100", 2, 1, "V", FormatBCD},
	{"02010200", 2, 1, "V", FormatBCD},
	{"02010300", 2, 1, "V", FormatBCD},
	{"0201FF00", 6, 0, "", FormatBlock},
	{"02020100", 3, 3, "A", FormatBCDSigned},
	{"02020200", 3, 3, "A", FormatBCDSigned},
	{"02020300", 3, 3, "A", FormatBCDSigned},
	{"0202FF00", 9, 0, "", FormatBlock},
	{"02030000", 3, 4, "kW", FormatBCDSigned},
	{"02030100", 3, 4, "kW", FormatBCDSigned},
	{"02030200", 3, 4, "kW", FormatBCDSigned},
	{"02030300", 3, 4, "kW", FormatBCDSigned},
	{"0203FF00", 12, 0, "", FormatBlock},
	{"02040000", 3, 4, "kvar", FormatBCDSigned},
	{"02050000", 3, 4, "kVA", FormatBCD},
	{"02060000", 2, 3, "", FormatBCDSigned},
	{"02800001", 3, 3, "A", FormatBCDSigned},
	{"02800002", 2, 2, "Hz", FormatBCD},
	{"04000101", 4, 0, "", FormatDateWeek},
	{"04000102", 3, 0, "", FormatTime},
	{"0400010C", 7, 0, "", FormatDateWeekTime},
	{"04000401", 6, 0, "", FormatDigits},
	{"04000402", 6, 0, "", FormatDigits},
	{"04000403", 32, 0, "", FormatASCII},
	{"04000501", 2, 0, "", FormatStatusWord},
	{"04000502", 2, 0, "", FormatStatusWord},
	{"04000503", 2, 0, "", FormatStatusWord},
	{"04000504", 2, 0, "", FormatStatusWord},
	{"04000505", 2, 0, "", FormatStatusWord},
	{"04000506", 2, 0, "", FormatStatusWord},
	{"04000507", 2, 0, "", FormatStatusWord},
	{"040005FF", 14, 0, "", FormatBlock},
	{"04001401", 2, 0, "min", FormatBCD},
	{"00900100", 4, 2, "kWh", FormatBCD},
	{"00900101", 4, 2, "kWh", FormatBCD},
	{"00900200", 4, 2, "CNY", FormatBCD},
	{"00900201", 4, 2, "CNY", FormatBCD},
	{"03330201", 2, 0, "", FormatBCD},
	{"03330601", 4, 2, "CNY", FormatBCD},
	{"1D000001", 3, 0, "", FormatBCD},
	{"1D000101", 6, 0, "", FormatDateTime},
	{"1D00FF01", 34, 0, "", FormatBlock},
	{"1E000001", 3, 0, "", FormatBCD},
	{"1E000101", 6, 0, "", FormatDateTime},
	{"1E00FF01", 34, 0, "", FormatBlock},
	{"05060001", 5, 0, "", FormatDateTimeMinute},
	{"05060101", 20, 0, "", FormatBlock},
	// 1997 rows.
	{"9010", 4, 2, "kWh", FormatBCD},
	{"9011", 4, 2, "kWh", FormatBCD},
	{"9012", 4, 2, "kWh", FormatBCD},
	{"9013", 4, 2, "kWh", FormatBCD},
	{"9014", 4, 2, "kWh", FormatBCD},
	{"901F", 20, 0, "", FormatBlock},
	{"9020", 4, 2, "kWh", FormatBCD},
	{"B611", 2, 0, "V", FormatBCD},
	{"B612", 2, 0, "V", FormatBCD},
	{"B613", 2, 0, "V", FormatBCD},
	{"B621", 2, 2, "A", FormatBCD},
	{"B622", 2, 2, "A", FormatBCD},
	{"B623", 2, 2, "A", FormatBCD},
	{"B630", 3, 4, "kW", FormatBCD},
	{"B631", 3, 4, "kW", FormatBCD},
	{"B632", 3, 4, "kW", FormatBCD},
	{"B633", 3, 4, "kW", FormatBCD},
	{"C010", 4, 0, "", FormatDateWeek},
	{"C011", 3, 0, "", FormatTime},
	{"C020", 1, 0, "", FormatHex},
	{"C032", 6, 0, "", FormatDigits},
}

func lookupString(t *testing.T, s string) *Item {
	t.Helper()
	if len(s) == 4 {
		di, err := ParseDI97(s)
		if err != nil {
			t.Fatal(err)
		}
		it, ok := Lookup97(di)
		if !ok {
			t.Fatalf("1997 row %s missing", s)
		}
		return it
	}
	di, err := ParseDI(s)
	if err != nil {
		t.Fatal(err)
	}
	it, ok := Lookup(di)
	if !ok {
		t.Fatalf("row %s missing", s)
	}
	return it
}

func TestTableRequiredRows(t *testing.T) {
	for _, r := range requiredRows {
		t.Run(r.di, func(t *testing.T) {
			it := lookupString(t, r.di)
			if it.Size != r.size {
				t.Errorf("size %d, want %d", it.Size, r.size)
			}
			if it.Decimals != r.decimals {
				t.Errorf("decimals %d, want %d", it.Decimals, r.decimals)
			}
			if it.Unit != r.unit {
				t.Errorf("unit %q, want %q", it.Unit, r.unit)
			}
			if it.Format != r.format {
				t.Errorf("format %v, want %v", it.Format, r.format)
			}
			if it.Name == "" || it.Chinese == "" {
				t.Errorf("row has no name (%q, %q)", it.Name, it.Chinese)
			}
		})
	}
}

func TestTableMapping1997(t *testing.T) {
	want := map[string]string{"9010": "00010000", "B611": "02010100", "B621": "02020100",
		"B630": "02030000", "C011": "04000102", "C032": "04000402", "901F": "0001FF00"}
	for d97, d07 := range want {
		it := lookupString(t, d97)
		if it.Map2007.String() != d07 {
			t.Errorf("%s maps to %s, want %s", d97, it.Map2007, d07)
		}
		if _, ok := Lookup(it.Map2007); !ok {
			t.Errorf("%s maps to %s, which has no row", d97, it.Map2007)
		}
	}
}

func TestTableNamesUnique(t *testing.T) {
	seen := map[string]string{}
	for _, it := range Items() {
		key := fmt.Sprint(it.Edition, it.Name)
		if prev, ok := seen[key]; ok {
			t.Errorf("name %s used by %s and %s", it.Name, prev, it.DIString())
		}
		seen[key] = it.DIString()
	}
}

// sampleValue returns a value of it's format that fills every digit.
func sampleValue(it *Item) any {
	switch it.Format {
	case FormatBCD, FormatBCDSigned:
		digits := 2*it.Size - 1
		u := int64(0)
		for i := 0; i < digits; i++ {
			u = u*10 + int64(i%9+1)
		}
		if it.Format == FormatBCDSigned {
			u = -u
		}
		return Decimal{Units: u, Scale: it.Decimals}
	case FormatDigits:
		return "002241020208"
	case FormatHex:
		return strings.Repeat("A5", it.Size)
	case FormatASCII:
		return "ZJ-00012345"
	case FormatStatusWord:
		return StatusWord{Word: it.Word, Raw: 0x1050}
	case FormatDateWeek:
		return time.Date(2024, 2, 29, 0, 0, 0, 0, DefaultLocation())
	case FormatTime:
		return time.Date(2000, 1, 1, 23, 58, 57, 0, DefaultLocation())
	case FormatDateTimeMinute:
		return time.Date(2026, 12, 4, 0, 0, 0, 0, DefaultLocation())
	case FormatBlock:
		var out []any
		for _, p := range it.parts {
			out = append(out, sampleValue(p))
		}
		return out
	}
	return time.Date(2021, 7, 9, 23, 59, 59, 0, DefaultLocation())
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Equal(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]Value)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i].Data) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestTableRoundTrip(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("002241020208")
	for _, it := range Items() {
		t.Run(it.DIString(), func(t *testing.T) {
			in := sampleValue(it)
			var f *Frame
			var err error
			if it.Edition == Edition1997 {
				f, err = NewReadReply97(addr, DI97(it.ID), in)
			} else {
				f, err = NewReadReply(addr, DI(it.ID), in)
			}
			if err != nil {
				t.Fatal(err)
			}
			wire, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(wire)
			if err != nil {
				t.Fatal(err)
			}
			var v Value
			if it.Edition == Edition1997 {
				v, _, err = ReadValue97(back, DI97(it.ID))
			} else {
				v, _, err = ReadValue(back, DI(it.ID))
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(in, v.Data) {
				t.Fatalf("decoded %v, want %v", v.Data, in)
			}
		})
	}
}

func TestValueSignRule(t *testing.T) {
	it := lookupString(t, "02020100")
	v, err := DecodeValue(it, []byte{0x50, 0x25, 0x81})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Data.(Decimal).String(); got != "-12.550" {
		t.Fatalf("current %s, want -12.550", got)
	}
	if _, err := EncodeValue(nil, lookupString(t, "00010000"), "-1.00"); err == nil {
		t.Fatal("negative value encoded into an unsigned row")
	}
	if _, err := EncodeValue(nil, it, "1.0005"); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("extra decimals: err = %v", err)
	}
}

func TestValueSurplusByte(t *testing.T) {
	f, _ := Decode(vectorByName(t, "D33").raw)
	_, r, err := ReadValue(f, 0x02010100)
	var pe *protocol.Error
	if !errors.As(err, &pe) || !errors.Is(err, protocol.ErrBadLength) {
		t.Fatalf("err = %v, want ErrBadLength", err)
	}
	if pe.Got != 3 || pe.Want != 2 {
		t.Fatalf("length error got %d want %d", pe.Got, pe.Want)
	}
	if !bytes.Equal(r.Data, []byte{0, 0, 0}) {
		t.Fatalf("raw value % X", r.Data)
	}
}

func TestValueZeroTimeIsNull(t *testing.T) {
	v, err := DecodeValue(lookupString(t, "1D000101"), make([]byte, 6))
	if err != nil || v.Data != nil {
		t.Fatalf("zero trip time: %v %v", v.Data, err)
	}
	_, err = DecodeValue(lookupString(t, "1D000101"), []byte{0, 0, 0, 0x32, 1, 0x21})
	if !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("day 32: err = %v", err)
	}
}

func TestStatusWord3(t *testing.T) {
	w := StatusWord{Word: 3, Raw: 0x1050 | 0x0200 | 0x0080}
	if !w.RelayOpen() || !w.RelayCommandOpen() || !w.PreTripAlarm() || !w.Guarantee() {
		t.Fatalf("flags of %04X", w.Raw)
	}
	if w.MeterType() != "money_prepaid" {
		t.Fatalf("meter type %s", w.MeterType())
	}
	js, err := w.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"raw":"12D0","relay":"open","relay_command":"open","pre_trip_alarm":true,` +
		`"guarantee":true,"meter_type":"money_prepaid"`
	if !strings.HasPrefix(string(js), want) {
		t.Fatalf("JSON %s\nwant prefix %s", js, want)
	}
	closed := StatusWord{Word: 3}
	if closed.RelayOpen() || closed.Fields()[1].Value != "closed" {
		t.Fatal("zero word must read closed")
	}
}

func TestRepeatBlockTariffs(t *testing.T) {
	it := lookupString(t, "0001FF00")
	data := make([]byte, 4*7)
	data[24] = 0x01 // tariff 6 = 0.01
	v, err := DecodeValue(it, data)
	if err != nil {
		t.Fatal(err)
	}
	members := v.Data.([]Value)
	if len(members) != 7 || members[6].Item.Name != "energy_forward_tariff_6" {
		t.Fatalf("members %d, last %s", len(members), members[len(members)-1].Item.Name)
	}
	if members[6].Data.(Decimal).String() != "0.01" {
		t.Fatalf("tariff 6 = %v", members[6].Data)
	}
	if _, err := DecodeValue(it, data[:5]); !errors.Is(err, protocol.ErrBadLength) {
		t.Fatalf("5 bytes: err = %v", err)
	}
}

func TestDecimal(t *testing.T) {
	cases := []struct {
		d    Decimal
		want string
	}{
		{Decimal{11228026, 2}, "112280.26"},
		{Decimal{26, 2}, "0.26"},
		{Decimal{-5, 3}, "-0.005"},
		{Decimal{2200, 1}, "220.0"},
		{Decimal{220, 0}, "220"},
	}
	for _, c := range cases {
		if got := c.d.String(); got != c.want {
			t.Errorf("%+v = %s, want %s", c.d, got, c.want)
		}
		js, _ := c.d.MarshalJSON()
		if string(js) != c.want {
			t.Errorf("%+v JSON %s", c.d, js)
		}
		back, err := ParseDecimal(c.want)
		if err != nil || back != c.d {
			t.Errorf("parse %s = %+v %v", c.want, back, err)
		}
	}
	for _, bad := range []string{"", "1.2.3", "abc", ".5", "1.1234567890"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// frameKeys are the vector expectations that are not value names.
var frameKeys = map[string]bool{"ed": true, "addr": true, "c": true, "l": true, "di": true,
	"err": true, "verr": true, "reply_address": true, "password_level": true,
	"operator": true, "control": true, "deadline": true, "ciphertext": true}

func TestVectorsValues(t *testing.T) {
	for _, v := range loadVectors(t) {
		di, ok := v.expect["di"]
		if !ok {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			f, err := Decode(v.raw)
			if err != nil {
				t.Fatal(err)
			}
			var data []byte
			if len(di) == 4 {
				data = f.Data[2:]
				if got := di97FromWire(f.Data).String(); got != di {
					t.Fatalf("DI %s, want %s", got, di)
				}
			} else {
				data = f.Data[4:]
				if got := diFromWire(f.Data).String(); got != di {
					t.Fatalf("DI %s, want %s", got, di)
				}
			}
			if !f.Control.IsReply() {
				return
			}
			it := lookupString(t, di)
			val, err := DecodeValue(it, data)
			if code, ok := v.expect["verr"]; ok {
				if protocol.Code(err) != code {
					t.Fatalf("value error %v, want %s", err, code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, k := range v.keys {
				if frameKeys[k] {
					continue
				}
				if k != it.Name {
					t.Fatalf("value name %s, want %s", it.Name, k)
				}
				got := strings.TrimSpace(fmt.Sprintf("%v %s", val.JSON(), it.Unit))
				if got != v.expect[k] {
					t.Errorf("%s = %s, want %s", k, got, v.expect[k])
				}
				checked++
			}
			if checked != 1 {
				t.Fatalf("reply vector checks %d values, want 1", checked)
			}
		})
	}
}

func TestLookupName(t *testing.T) {
	for _, c := range []struct {
		ed   Edition
		name string
		di   string
	}{
		{Edition2007, "energy_forward_total", "00010000"},
		{Edition2007, "status_word_3", "04000503"},
		{Edition2007, "balance", "00900200"},
		{Edition2007, "last_close", "1E000101"},
		{Edition1997, "energy_forward_total", "9010"},
	} {
		it, ok := LookupName(c.ed, c.name)
		if !ok || it.DIString() != c.di {
			t.Errorf("%v %s: %v %v, want %s", c.ed, c.name, it, ok, c.di)
		}
	}
	if _, ok := LookupName(Edition1997, "balance"); ok {
		t.Error("1997 table has no balance")
	}
}
