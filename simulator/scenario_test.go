package simulator

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
)

func TestScenarioFixtures(t *testing.T) {
	for _, name := range []string{"default.yaml", "faults.yaml", "faults.json"} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadScenario(filepath.Join("../fixtures/scenarios", name))
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{Gateway: "127.0.0.1:1", Control: "-"}
			s.Apply(&opts, func(string) bool { return false })
			if opts.Terminals == 0 || opts.MetersPerTerminal == 0 {
				t.Fatalf("scenario sets no fleet: %+v", opts)
			}
			f, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ApplyFaults(f); err != nil {
				t.Fatalf("faults: %v", err)
			}
			on := 0
			for _, term := range f.terminals {
				on += len(term.State().Faults)
			}
			for _, sm := range f.order {
				on += len(sm.m.State(time.Now()).Faults)
			}
			if on != len(s.Faults) {
				t.Errorf("faults on = %d, want %d", on, len(s.Faults))
			}
		})
	}
}

func TestScenarioFlagsWin(t *testing.T) {
	s, err := LoadScenario("../fixtures/scenarios/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Terminals: 3}
	s.Apply(&opts, func(key string) bool { return key == "terminals" })
	if opts.Terminals != 3 {
		t.Errorf("terminals = %d, want the flag's 3", opts.Terminals)
	}
	if opts.MetersPerTerminal != 8 {
		t.Errorf("meters per terminal = %d, want the scenario's 8", opts.MetersPerTerminal)
	}
}

func TestScenarioRejectsTypos(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	for _, body := range []string{
		"terminal: 3\n",
		"faults:\n  - {target: {meter: \"1\", terminal: \"44010001\"}, fault: silent}\n",
		"latency: fast\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadScenario(path); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

func TestClockErrorOption(t *testing.T) {
	offsets := func(clockError time.Duration) []time.Duration {
		f, err := New(Options{Gateway: "127.0.0.1:1", Terminals: 1, MetersPerTerminal: 8,
			Control: "-", ClockError: clockError})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		var out []time.Duration
		for _, sm := range f.order {
			clock, err := time.ParseInLocation("2006-01-02T15:04:05", sm.m.State(now).Clock,
				dlt645.DefaultLocation())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, clock.Sub(now.Truncate(time.Second)))
		}
		return out
	}
	for _, d := range offsets(0) {
		if d < -time.Second || d > time.Second {
			t.Errorf("clock off by %v without clock_error", d)
		}
	}
	moved := 0
	for _, d := range offsets(20 * time.Second) {
		if d < -21*time.Second || d > 21*time.Second {
			t.Errorf("clock off by %v with clock_error 20s", d)
		}
		if d < -time.Second || d > time.Second {
			moved++
		}
	}
	if moved == 0 {
		t.Error("no meter clock moved with clock_error 20s")
	}
}
