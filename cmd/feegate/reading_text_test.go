package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONValueTextShapes(t *testing.T) {
	cases := []struct {
		raw  string
		want string
	}{
		{`1234.56`, "1234.56"},
		{`"2026-03-01T08:00:00"`, "2026-03-01T08:00:00"},
		{`null`, "-"},
		{`{"raw":"0000","relay":"closed","guarantee":false}`, "0x0000: relay=closed"},
		{`{"raw":"1000","guarantee":false,"alarm":false}`, "0x1000: no flag set"},
		{`{"tariff_1":{"value":1.5,"unit":"kWh"},"tariff_2":{"value":2,"unit":"kWh"}}`,
			"tariff_1=1.5 kWh tariff_2=2 kWh"},
		{`[220.1,219.8]`, "220.1, 219.8"},
	}
	for _, c := range cases {
		if got := jsonValueText(json.RawMessage(c.raw)); got != c.want {
			t.Errorf("jsonValueText(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// FuzzJSONValueText feeds arbitrary bytes as a reading value: the text must not panic, and a
// valid JSON number must print exactly as written.
func FuzzJSONValueText(f *testing.F) {
	f.Add([]byte(`{"raw":"1050","relay":"open","guarantee":true}`))
	f.Add([]byte(`{"a":{"value":1,"unit":"V"}}`))
	f.Add([]byte(`[1,"x",{"b":null}]`))
	f.Add([]byte(`{"raw":`))
	f.Add([]byte(`-12.5e3`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		text := jsonValueText(raw)
		trimmed := strings.TrimSpace(string(raw))
		var n json.Number
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.UseNumber()
		isNumber := dec.Decode(&n) == nil && !dec.More() && json.Valid(raw) &&
			!strings.HasPrefix(trimmed, `"`)
		if isNumber && text != trimmed {
			t.Errorf("number %s printed as %q", trimmed, text)
		}
	})
}
