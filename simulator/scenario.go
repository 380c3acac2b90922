package simulator

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/feegate/feegate/simulator/terminal"
)

// Scenario is a scenario file (YAML, or JSON, which YAML reads too): the fleet's size and
// timing and the faults switched on at start. Every field is optional; command-line flags
// given explicitly override the file.
//
//	terminals: 10
//	meters_per_terminal: 8
//	region: 4401
//	serial: 1
//	meters_per_bus: 4
//	modbus: 2
//	latency: 100ms-300ms
//	meter_delay: 20ms-500ms
//	heartbeat: 60s
//	clock_error: 20s
//	seed: 1
//	faults:
//	  - target: {terminal: "44010003"}
//	    fault: silent
//	  - target: {meter: "010000010002"}
//	    fault: slow
//	    params: {delay: 2s}
type Scenario struct {
	Terminals         *int           `yaml:"terminals"`
	MetersPerTerminal *int           `yaml:"meters_per_terminal"`
	Region            *int           `yaml:"region"`
	Serial            *int           `yaml:"serial"`
	MetersPerBus      *int           `yaml:"meters_per_bus"`
	Modbus            *int           `yaml:"modbus"`
	Latency           string         `yaml:"latency"`
	MeterDelay        string         `yaml:"meter_delay"`
	Heartbeat         string         `yaml:"heartbeat"`
	ClockError        string         `yaml:"clock_error"`
	Seed              *uint64        `yaml:"seed"`
	Faults            []FaultRequest `yaml:"faults"`
}

// LoadScenario reads and checks a scenario file. Unknown keys are rejected, so a typo does
// not silently leave a fault out.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulator: scenario: %w", err)
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("simulator: scenario %s: %w", path, err)
	}
	for _, r := range []string{s.Latency, s.MeterDelay} {
		if r != "" {
			if _, err := ParseRange(r); err != nil {
				return nil, fmt.Errorf("simulator: scenario %s: %w", path, err)
			}
		}
	}
	for key, v := range map[string]string{"heartbeat": s.Heartbeat, "clock_error": s.ClockError} {
		if v == "" {
			continue
		}
		if _, err := time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("simulator: scenario %s: %s %q: %w", path, key, v, err)
		}
	}
	for i, f := range s.Faults {
		if f.Fault == "" || (f.Target.Meter == "") == (f.Target.Terminal == "") {
			return nil, fmt.Errorf("simulator: scenario %s: fault %d needs a fault name and one target",
				path, i+1)
		}
	}
	return &s, nil
}

// Apply fills the options the scenario sets, except those the caller marks as given on
// the command line (by the scenario key, such as "terminals").
func (s *Scenario) Apply(o *Options, given func(key string) bool) {
	setInt := func(key string, v *int, dst *int) {
		if v != nil && !given(key) {
			*dst = *v
		}
	}
	setInt("terminals", s.Terminals, &o.Terminals)
	setInt("meters-per-terminal", s.MetersPerTerminal, &o.MetersPerTerminal)
	setInt("serial", s.Serial, &o.Serial)
	setInt("meters-per-bus", s.MetersPerBus, &o.MetersPerBus)
	setInt("modbus", s.Modbus, &o.Modbus)
	if s.Region != nil && !given("region") {
		o.Region = uint16(*s.Region)
	}
	if s.Seed != nil && !given("seed") {
		o.Seed = *s.Seed
	}
	if s.Latency != "" && !given("latency") {
		o.Latency, _ = ParseRange(s.Latency)
	}
	if s.MeterDelay != "" {
		o.MeterDelay, _ = ParseRange(s.MeterDelay)
	}
	if s.Heartbeat != "" {
		o.Heartbeat, _ = time.ParseDuration(s.Heartbeat)
	}
	if s.ClockError != "" {
		o.ClockError, _ = time.ParseDuration(s.ClockError)
	}
}

// ApplyFaults switches on the scenario's faults in a started fleet.
func (s *Scenario) ApplyFaults(f *Fleet) error {
	for _, req := range s.Faults {
		if err := f.SetFault(req, true); err != nil {
			return err
		}
	}
	return nil
}

// ParseRange parses MIN-MAX of two Go durations, such as 100ms-300ms, or one duration.
func ParseRange(s string) (terminal.Range, error) {
	lo, hi, found := strings.Cut(s, "-")
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return terminal.Range{}, fmt.Errorf("range %q: want MIN-MAX such as 100ms-300ms", s)
	}
	max := min
	if found {
		max, err = time.ParseDuration(strings.TrimSpace(hi))
		if err != nil || max < min {
			return terminal.Range{}, fmt.Errorf("range %q: want MIN-MAX with MIN ≤ MAX", s)
		}
	}
	return terminal.Range{Min: min, Max: max}, nil
}
