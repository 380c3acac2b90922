package gw376

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// sampleFor returns a valid value of format f for the round-trip test.
func sampleFor(t *testing.T, f *Format) any {
	t.Helper()
	samples := map[*Format]any{
		a1Format: "2026-12-04T15:44:34", a15Format: "2026-12-04T15:44:00",
		a16Format: "04T15:44:34", a17Format: "12-04T15:44:00", a18Format: "04T15:44:00",
		a19Format: "15:44:00", a20Format: "2026-12-04", a21Format: "2026-12",
		a2Format: json.Number("-12.3"), a3Format: json.Number("-1234567"),
		a4Format: json.Number("-15"), a5Format: json.Number("-99.5"),
		a6Format: json.Number("-12.34"), a7Format: json.Number("220.1"),
		a8Format: json.Number("1234"), a9Format: json.Number("-12.3456"),
		a10Format: json.Number("123456"), a11Format: json.Number("123456.78"),
		a12Format: "000000000161", a13Format: json.Number("1234.5678"),
		a14Format: json.Number("123456.7890"), a22Format: json.Number("1.5"),
		a23Format: json.Number("12.3456"), a25Format: json.Number("-123.456"),
		a26Format: json.Number("1.234"), a27Format: json.Number("12345678"),
		bin1: json.Number("200"), bin2: json.Number("40000"), bin4: json.Number("4000000000"),
		bs8: json.Number("165"), bs16: json.Number("4660"),
		idFormat: "p1,p2 F1,F3", ipFormat: "127.0.0.1", diFormat: "04000503",
		diDataFormat: map[string]any{"di": "00010000", "data": "33343536"},
		ercListFormat: []any{
			map[string]any{"erc": 5, "content": map[string]any{"time": "2026-12-04T15:44:00",
				"turns": 1, "power_kw": "12.3", "power_after_2min_kw": "0"}},
			map[string]any{"erc": 14, "length": 11, "content": map[string]any{"attribute": 1,
				"power_off": "2026-12-04T15:44:00", "power_on": "2026-12-04T16:00:00"}},
			map[string]any{"erc": 60, "content": "0102"},
		},
	}
	if v, ok := samples[f]; ok {
		return v
	}
	switch f.Name {
	case "ASCII":
		return "ab1"
	case "BIN":
		if f.Size > 0 {
			return fmt.Sprintf("%0*X", 2*f.Size, 0xA5)
		}
	}
	t.Fatalf("no sample for format %s (size %d)", f.Name, f.Size)
	return nil
}

// sampleObject fills layout with sample values. Count fields get 2 (or a mask with two
// bits) and length fields the length of their 3-byte sample.
func sampleObject(t *testing.T, layout []Field) map[string]any {
	t.Helper()
	obj := map[string]any{}
	for _, fd := range layout {
		switch {
		case fd.Items != nil:
			n := fd.Times
			if fd.CountFrom != "" {
				if fd.CountBits {
					obj[fd.CountFrom] = json.Number("5")
				} else {
					obj[fd.CountFrom] = json.Number("2")
				}
				n = 2 + fd.CountAdd
			}
			if fd.ToEnd {
				n = 2
			}
			items := make([]any, n)
			for i := range items {
				items[i] = sampleObject(t, fd.Items)
			}
			obj[fd.Name] = items
		case fd.LenFrom != "" && fd.Format == nil:
			obj[fd.LenFrom] = json.Number("3")
			obj[fd.Name] = "0A0B0C"
		case fd.LenFrom != "":
			obj[fd.LenFrom] = json.Number("8")
			obj[fd.Name] = sampleFor(t, fd.Format)
		case fd.Format.enc != nil && fd.Format.dec != nil && fd.Format.Size > 0 &&
			fd.Format.Name != "ASCII" && isBitFields(fd.Format):
			obj[fd.Name] = sampleBits(t, fd.Format)
		default:
			obj[fd.Name] = sampleFor(t, fd.Format)
		}
	}
	return obj
}

// isBitFields reports whether f decodes into parts, as bitFields formats do.
func isBitFields(f *Format) bool {
	d := f.dec(make([]byte, f.Size))
	return d.fields != nil
}

// sampleBits takes the parts of a bitFields format from decoding the byte pattern 0x21.
func sampleBits(t *testing.T, f *Format) map[string]any {
	t.Helper()
	raw := bytes.Repeat([]byte{0x21}, f.Size)
	d := f.dec(raw)
	out := map[string]any{}
	for _, n := range d.fields {
		if n.Err != nil {
			t.Fatalf("bit sample of %s: %v", f.Name, n.Err)
		}
		out[n.Name] = n.Value
	}
	return out
}

func TestTableRoundTrip(t *testing.T) {
	defs := UnitDefs()
	if len(defs) < 150 {
		t.Fatalf("table has %d rows; expected the full set", len(defs))
	}
	for _, d := range defs {
		t.Run(fmt.Sprintf("AFN%02X_F%d_%s", byte(d.AFN), d.Fn, d.Dir), func(t *testing.T) {
			obj := sampleObject(t, d.Fields)
			first, err := d.Append(nil, obj)
			if err != nil {
				t.Fatalf("encode sample: %v", err)
			}
			nodes, n, err := d.Decode(first, 0)
			if err != nil {
				t.Fatalf("decode: %v\n% X", err, first)
			}
			if n != len(first) {
				t.Fatalf("decode used %d of %d bytes", n, len(first))
			}
			for _, node := range flatten(nodes) {
				if node.Err != nil {
					t.Errorf("field %s: %v", node.Name, node.Err)
				}
			}
			again, err := d.Append(nil, ObjectOf(nodes))
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(first, again) {
				t.Errorf("round trip\n% X\n% X", first, again)
			}
			// The whole unit inside a frame walks back to the same bytes.
			data, err := AppendUnits(nil, d.AFN, d.Dir, []UnitValue{{Pn: 1, Fn: d.Fn, Value: obj}})
			if err != nil {
				t.Fatal(err)
			}
			us := WalkUnits(d.AFN, d.Dir, data)
			if us.Err != nil || len(us.List) != 1 || !bytes.Equal(us.List[0].Data, first) {
				t.Errorf("walk: %d units, err %v, rest % X", len(us.List), us.Err, us.Rest)
			}
		})
	}
}

func flatten(nodes []Node) []Node {
	var out []Node
	for _, n := range nodes {
		out = append(out, n)
		out = append(out, flatten(n.Fields)...)
		for _, it := range n.Items {
			out = append(out, flatten(it.Fields)...)
		}
	}
	return out
}
