package gateway

import (
	"fmt"
	"strings"
	"time"
)

// Config tunes the engine. The zero value of a field means its default, listed in
// DefaultConfig; docs/operations.md documents each one.
type Config struct {
	// DefaultDeadline bounds a command that names no deadline.
	DefaultDeadline time.Duration `yaml:"default_deadline"`
	// MaxAttempts bounds the sends of one request after timeouts and channel errors.
	// Password and MAC failures are never repeated.
	MaxAttempts int `yaml:"max_attempts"`
	// VerifyInterval is the pause between status reads while verifying.
	VerifyInterval time.Duration `yaml:"verify_interval"`
	// VerifyWindow bounds verification after a relay command was accepted.
	VerifyWindow time.Duration `yaml:"verify_window"`
	// BypassThresholdKW is the power above which an open relay is a suspected bypass.
	BypassThresholdKW float64 `yaml:"bypass_threshold_kw"`
	// Timezone is the IANA zone of protected windows and meter deadlines.
	Timezone string `yaml:"timezone"`
	// ProtectedWindows are the times in which trips are refused unless forced.
	ProtectedWindows []Window `yaml:"protected_windows"`
	// TripsPerTerminalPerMinute is the rate guard; 0 turns it off.
	TripsPerTerminalPerMinute int `yaml:"trips_per_terminal_per_minute"`
	// BlastRadius is the largest share (0–1) of a terminal's meters that one batch may trip;
	// 0 turns the guard off.
	BlastRadius float64 `yaml:"blast_radius"`
	// Retention is how long finished commands are kept before compaction.
	Retention time.Duration `yaml:"retention"`
	// CompactEvery is the period of the compaction run.
	CompactEvery time.Duration `yaml:"compact_every"`
	// MaxBatch bounds the meters of one batch.
	MaxBatch int `yaml:"max_batch"`
	// EventBuffer is how many recent events are kept for Last-Event-ID resumption.
	EventBuffer int `yaml:"event_buffer"`
	// StartupGrace is how long after a start a command to a terminal that is offline waits
	// for it to log in again, instead of failing with terminal_offline at once: terminals
	// reconnect after a gateway restart. A negative value turns the wait off.
	StartupGrace time.Duration `yaml:"startup_grace"`
	// StoreBatchDelay bounds how long a store write waits for others to share its fsync.
	StoreBatchDelay time.Duration `yaml:"store_batch_delay"`

	location *time.Location
}

// Window is a protected window: on the given weekdays (empty: every day) or dates
// (YYYY-MM-DD, local time), between Start and End (HH:MM, local time; End before Start
// wraps past midnight).
type Window struct {
	Name     string   `yaml:"name" json:"name"`
	Weekdays []string `yaml:"weekdays" json:"weekdays,omitempty"`
	Dates    []string `yaml:"dates" json:"dates,omitempty"`
	Start    string   `yaml:"start" json:"start"`
	End      string   `yaml:"end" json:"end"`
}

// DefaultConfig returns the defaults of every option.
func DefaultConfig() Config {
	return Config{
		DefaultDeadline:   10 * time.Minute,
		MaxAttempts:       3,
		VerifyInterval:    5 * time.Second,
		VerifyWindow:      2 * time.Minute,
		BypassThresholdKW: 0.05,
		Timezone:          "Asia/Shanghai",
		Retention:         7 * 24 * time.Hour,
		CompactEvery:      time.Hour,
		MaxBatch:          100_000,
		EventBuffer:       1 << 17,
		StoreBatchDelay:   time.Millisecond,
		StartupGrace:      time.Minute,
	}
}

// withDefaults fills zero fields from DefaultConfig and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.DefaultDeadline <= 0 {
		c.DefaultDeadline = d.DefaultDeadline
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.VerifyInterval <= 0 {
		c.VerifyInterval = d.VerifyInterval
	}
	if c.VerifyWindow <= 0 {
		c.VerifyWindow = d.VerifyWindow
	}
	if c.BypassThresholdKW <= 0 {
		c.BypassThresholdKW = d.BypassThresholdKW
	}
	if c.Timezone == "" {
		c.Timezone = d.Timezone
	}
	if c.Retention <= 0 {
		c.Retention = d.Retention
	}
	if c.CompactEvery <= 0 {
		c.CompactEvery = d.CompactEvery
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = d.EventBuffer
	}
	switch {
	case c.StartupGrace == 0:
		c.StartupGrace = d.StartupGrace
	case c.StartupGrace < 0:
		c.StartupGrace = 0
	}
	if c.StoreBatchDelay <= 0 {
		c.StoreBatchDelay = d.StoreBatchDelay
	}
	if c.BlastRadius < 0 || c.BlastRadius > 1 {
		return c, fmt.Errorf("blast_radius %v is outside 0..1", c.BlastRadius)
	}
	if c.TripsPerTerminalPerMinute < 0 {
		return c, fmt.Errorf("trips_per_terminal_per_minute %d is negative",
			c.TripsPerTerminalPerMinute)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return c, fmt.Errorf("timezone %q: %w", c.Timezone, err)
	}
	c.location = loc
	for _, w := range c.ProtectedWindows {
		if err := w.check(); err != nil {
			return c, err
		}
	}
	return c, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func (w Window) check() error {
	if _, err := parseClock(w.Start); err != nil {
		return fmt.Errorf("protected window %q: start %q is not HH:MM", w.Name, w.Start)
	}
	if _, err := parseClock(w.End); err != nil {
		return fmt.Errorf("protected window %q: end %q is not HH:MM", w.Name, w.End)
	}
	for _, d := range w.Weekdays {
		if _, ok := weekdayNames[strings.ToLower(d)[:min(3, len(d))]]; !ok {
			return fmt.Errorf("protected window %q: weekday %q is not a day name", w.Name, d)
		}
	}
	for _, d := range w.Dates {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return fmt.Errorf("protected window %q: date %q is not YYYY-MM-DD", w.Name, d)
		}
	}
	return nil
}

// contains reports whether the local time t falls in the window. A window that wraps past
// midnight belongs to the day it starts on.
func (w Window) contains(t time.Time) bool {
	start, _ := parseClock(w.Start)
	end, _ := parseClock(w.End)
	minute := t.Hour()*60 + t.Minute()
	day := t
	in := false
	switch {
	case start <= end:
		in = minute >= start && minute < end
	case minute >= start:
		in = true
	case minute < end:
		in = true
		day = t.AddDate(0, 0, -1)
	}
	if !in {
		return false
	}
	if len(w.Weekdays) == 0 && len(w.Dates) == 0 {
		return true
	}
	for _, d := range w.Weekdays {
		if weekdayNames[strings.ToLower(d)[:min(3, len(d))]] == day.Weekday() {
			return true
		}
	}
	date := day.Format("2006-01-02")
	for _, d := range w.Dates {
		if d == date {
			return true
		}
	}
	return false
}
