package main

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/feegate/feegate/gw376"
)

// scaledUnit matches a unit with a step size in front, such as "10ms", "20ms" or "0.5h",
// which the Q/GDW 376.1 tables use for values counted in steps.
var scaledUnit = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([^0-9.\s].*)$`)

// withUnit formats a value and its unit for the text breakdown. A value counted in steps
// prints as the quantity first and the count after it: "100 ms (10 × 10 ms)" for 10 steps
// of 10 ms. Other values print as "value unit".
func withUnit(v any, unit string) string {
	text := valueString(v)
	if unit == "" {
		return text
	}
	m := scaledUnit.FindStringSubmatch(unit)
	if m == nil {
		return text + " " + unit
	}
	count, ok1 := new(big.Rat).SetString(text)
	step, ok2 := new(big.Rat).SetString(m[1])
	if !ok1 || !ok2 {
		return text + " " + unit
	}
	total := new(big.Rat).Mul(count, step)
	return fmt.Sprintf("%s %s (%s × %s %s)", ratString(total), m[2], text, m[1], m[2])
}

// ratString prints r as a decimal without trailing zeros.
func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.RatString()
	}
	s := strings.TrimRight(r.FloatString(6), "0")
	return strings.TrimSuffix(s, ".")
}

// isValueUnitPair reports whether fields are a count and its unit, as {value, unit}.
func isValueUnitPair(fields []gw376.Node) bool {
	return len(fields) == 2 && fields[0].Name == "value" && fields[1].Name == "unit" &&
		fields[0].Err == nil && fields[1].Err == nil
}
