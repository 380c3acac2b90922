package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// jsonValueText formats a reading value of the API for a table. Scalars print as they are.
// An object prints its members as name=value in the API's order, leaving out false flags,
// and a status word object (one with a "raw" member) starts with its raw word in hex:
// "0x1050: relay=open relay_command=open guarantee meter_type=money_prepaid".
func jsonValueText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "-"
	}
	switch raw[0] {
	case '{':
		if text, ok := jsonObjectText(raw); ok {
			return text
		}
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			parts := make([]string, len(items))
			for i, it := range items {
				parts[i] = jsonValueText(it)
			}
			return strings.Join(parts, ", ")
		}
	}
	return string(raw)
}

// jsonObjectText formats a JSON object for jsonValueText, or reports false when raw is not
// a well-formed object.
func jsonObjectText(raw json.RawMessage) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return "", false
	}
	var head string
	var parts []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		name, _ := tok.(string)
		var member json.RawMessage
		if err := dec.Decode(&member); err != nil {
			return "", false
		}
		switch text := string(bytes.TrimSpace(member)); {
		case name == "raw" && strings.HasPrefix(text, `"`):
			head = "0x" + jsonValueText(member)
		case text == "true":
			parts = append(parts, name)
		case text == "false", text == "null":
		default:
			parts = append(parts, name+"="+memberText(member))
		}
	}
	body := strings.Join(parts, " ")
	switch {
	case head == "":
		return body, true
	case body == "":
		return head + ": no flag set", true
	}
	return fmt.Sprintf("%s: %s", head, body), true
}

// memberText formats an object member, which may itself be a reading {value, unit} as the
// members of a block are.
func memberText(raw json.RawMessage) string {
	var r struct {
		Value json.RawMessage `json:"value"`
		Unit  *string         `json:"unit"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &r) == nil &&
		r.Value != nil {
		text := jsonValueText(r.Value)
		if r.Unit != nil && *r.Unit != "" {
			text += " " + *r.Unit
		}
		return text
	}
	return jsonValueText(raw)
}
