package gw376

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/feegate/feegate/protocol"
)

func TestFormatsKnownBytes(t *testing.T) {
	cases := []struct {
		name string
		f    *Format
		in   []byte
		want any
		note string
	}{
		{"A.1 with weekday", a1Format, []byte{0x17, 0x41, 0x17, 0x03, 0x67, 0x19},
			"2019-07-03T17:41:17", "weekday 3"},
		{"A.2 tenths", a2Format, []byte{0x15, 0xA0}, json.Number("1.5"), ""},
		{"A.2 ten-thousands negative", a2Format, []byte{0x34, 0x12}, json.Number("-2340000"), ""},
		{"A.2 thousandths", a2Format, []byte{0x05, 0xE0}, json.Number("0.005"), ""},
		{"A.3 negative in MWh", a3Format, []byte{0x78, 0x56, 0x34, 0x52}, json.Number("-2345678"),
			"G=1: unit MWh or yuan"},
		{"A.4 float down", a4Format, []byte{0x85}, json.Number("-5"), ""},
		{"A.5 negative", a5Format, []byte{0x05, 0x81}, json.Number("-10.5"), ""},
		{"A.6", a6Format, []byte{0x34, 0x12}, json.Number("12.34"), ""},
		{"A.7 voltage", a7Format, []byte{0x01, 0x22}, json.Number("220.1"), ""},
		{"A.9 negative power", a9Format, []byte{0x56, 0x34, 0x92}, json.Number("-12.3456"), ""},
		{"A.11", a11Format, []byte{0x78, 0x56, 0x34, 0x12}, json.Number("123456.78"), ""},
		{"A.12 address", a12Format, []byte{0x61, 0x10, 0x01, 0x30, 0x12, 0x15}, "151230011061", ""},
		{"A.13", a13Format, []byte{0x78, 0x56, 0x34, 0x12}, json.Number("1234.5678"), ""},
		{"A.14", a14Format, []byte{0x00, 0x01, 0x00, 0x00, 0x00}, json.Number("0.0100"), ""},
		{"A.15", a15Format, []byte{0x18, 0x16, 0x28, 0x08, 0x18}, "2018-08-28T16:18:00", ""},
		{"A.16", a16Format, []byte{0x39, 0x19, 0x16, 0x28}, "28T16:19:39", ""},
		{"A.17", a17Format, []byte{0x30, 0x08, 0x04, 0x12}, "12-04T08:30:00", ""},
		{"A.20", a20Format, []byte{0x04, 0x12, 0x26}, "2026-12-04", ""},
		{"A.21", a21Format, []byte{0x12, 0x26}, "2026-12", ""},
		{"A.25 negative current", a25Format, []byte{0x56, 0x34, 0x92}, json.Number("-123.456"), ""},
		{"BIN 2", bin2, []byte{0x34, 0x12}, json.Number("4660"), ""},
		{"DI", diFormat, []byte{0x03, 0x05, 0x00, 0x04}, "04000503", ""},
		{"IP", ipFormat, []byte{127, 0, 0, 1}, "127.0.0.1", ""},
	}
	for _, c := range cases {
		d := c.f.dec(c.in)
		if d.err != nil {
			t.Errorf("%s: %v", c.name, d.err)
			continue
		}
		if d.value != c.want {
			t.Errorf("%s: value %v (%T), want %v", c.name, d.value, d.value, c.want)
		}
		if d.note != c.note {
			t.Errorf("%s: note %q, want %q", c.name, d.note, c.note)
		}
	}
}

func TestFormatsRejectInvalid(t *testing.T) {
	cases := []struct {
		name string
		f    *Format
		in   []byte
	}{
		{"A.14 EE filler", a14Format, []byte{0xEE, 0xEE, 0xEE, 0xEE, 0xEE}},
		{"A.15 month 13", a15Format, []byte{0x00, 0x00, 0x01, 0x13, 0x20}},
		{"A.1 minute 60", a1Format, []byte{0x00, 0x60, 0x00, 0x01, 0x21, 0x20}},
		{"A.2 nibble A", a2Format, []byte{0x0A, 0x80}},
		{"A.12 nibble F", a12Format, []byte{0x0F, 0, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		d := c.f.dec(c.in)
		if d.err == nil {
			t.Errorf("%s: accepted as %v", c.name, d.value)
			continue
		}
		if !errors.Is(d.err, protocol.ErrInvalidBCD) {
			t.Errorf("%s: err %v, want ErrInvalidBCD", c.name, d.err)
		}
	}
}

func TestFormatsEncodeLimits(t *testing.T) {
	if _, err := a7Format.enc(nil, "-1"); err == nil {
		t.Error("A.7 accepted a negative voltage")
	}
	if _, err := a14Format.enc(nil, "1.00001"); err == nil {
		t.Error("A.14 accepted a fifth decimal")
	}
	if _, err := a11Format.enc(nil, "1000000"); err == nil {
		t.Error("A.11 accepted 7 integer digits")
	}
	// A.2 holds three significant digits: 1234 would need rounding, which encode refuses.
	if _, err := a2Format.enc(nil, "1234"); err == nil {
		t.Error("A.2 accepted 4 significant digits")
	}
	if _, err := a2Format.enc(nil, "1.2345"); err == nil {
		t.Error("A.2 accepted 5 significant digits")
	}
	if _, err := bin1.enc(nil, 256); err == nil {
		t.Error("BIN 1 accepted 256")
	}
	b, err := a2Format.enc(nil, "1230")
	if err != nil {
		t.Fatalf("A.2 1230: %v", err)
	}
	if got := a2Format.dec(b).value; got != json.Number("1230") {
		t.Errorf("A.2 1230 encodes to % X, reads back %v", b, got)
	}
}

func TestA3UnitFlagRoundTrip(t *testing.T) {
	def := LookupUnit(AFNSetParam, 47, Down)
	// Order 1, refresh, 120 MWh purchased (G=1), alarm 10 kWh, trip 0 kWh.
	data := []byte{0x01, 0x00, 0x00, 0x00, 0xAA, 0x20, 0x01, 0x00, 0x40, 0x10, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00}
	nodes, n, err := def.Decode(data, 0)
	if err != nil || n != len(data) {
		t.Fatalf("decode %d bytes: %v", n, err)
	}
	obj := ObjectOf(nodes)
	if v, _ := obj.Get("amount_unit"); v != "MWh or yuan" {
		t.Errorf("amount_unit = %v", v)
	}
	if _, ok := obj.Get("alarm_threshold_unit"); ok {
		t.Error("G=0 value got a unit sibling")
	}
	again, err := def.Append(nil, obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Errorf("re-encoded % X\nwant % X", again, data)
	}
}
