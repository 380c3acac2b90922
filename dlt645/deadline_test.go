package dlt645

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York for the daylight-saving cases, on hosts without a zone database

	"github.com/feegate/feegate/protocol"
)

// relayRoundTrip encodes a trip with deadline in loc and decodes it in loc.
func relayRoundTrip(t *testing.T, deadline time.Time, loc *time.Location) (*Frame,
	*RelayCommand, error) {
	t.Helper()
	f, err := NewRelayRequest(protocol.MeterAddress{0x01}, &RelayCommand{Level: LevelPlain02,
		Action: ActionTrip, Deadline: deadline, Location: loc})
	if err != nil {
		return nil, nil, err
	}
	raw, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseRelayRequest(back, loc)
	return back, c, err
}

func TestRelayDeadlineMidnightYearEnd(t *testing.T) {
	cases := []struct {
		name     string
		deadline time.Time
		wire     []byte // ss mm hh DD MM YY in Asia/Shanghai (UTC+8)
	}{
		{"utc evening is next morning", time.Date(2026, 3, 4, 16, 30, 5, 0, time.UTC),
			[]byte{0x05, 0x30, 0x00, 0x05, 0x03, 0x26}},
		{"utc new year's eve is new year", time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC),
			[]byte{0x00, 0x00, 0x00, 0x01, 0x01, 0x27}},
		{"leap day", time.Date(2028, 2, 28, 20, 0, 0, 0, time.UTC),
			[]byte{0x00, 0x00, 0x04, 0x29, 0x02, 0x28}},
		{"west of utc", time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("UTC-5", -5*3600)),
			[]byte{0x59, 0x59, 0x12, 0x01, 0x01, 0x27}},
	}
	for _, tc := range cases {
		f, c, err := relayRoundTrip(t, tc.deadline, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := f.Data[10:16]; string(got) != string(tc.wire) {
			t.Errorf("%s: deadline bytes % X, want % X", tc.name, got, tc.wire)
		}
		if !c.Deadline.Equal(tc.deadline) {
			t.Errorf("%s: decoded %v, want %v", tc.name, c.Deadline, tc.deadline)
		}
	}
}

func TestRelayDeadlineYear2100Rejected(t *testing.T) {
	// 2099-12-31 20:00 UTC is already 2100 in the meter's zone, which YY cannot hold.
	_, _, err := relayRoundTrip(t, time.Date(2099, 12, 31, 20, 0, 0, 0, time.UTC), nil)
	if !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("deadline in 2100: %v, want ErrInvalidValue", err)
	}
}

func TestRelayDeadlineDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-08 02:30 does not exist in New York: clocks jump from 02:00 to 03:00.
	f := NewRequest(protocol.MeterAddress{0x01}, FuncRelayControl, []byte{LevelPlain02,
		0, 0, 0, 0, 0, 0, 0, byte(ActionTrip), 0, 0x00, 0x30, 0x02, 0x08, 0x03, 0x26})
	if c, err := ParseRelayRequest(f, ny); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Fatalf("skipped clock time decoded to %v, %v; want ErrInvalidValue", c, err)
	}
	// 03:30 the same day exists and keeps its clock time.
	f.Data[12] = 0x03
	c, err := ParseRelayRequest(f, ny)
	if err != nil {
		t.Fatal(err)
	}
	if c.Deadline.Hour() != 3 || c.Deadline.Minute() != 30 {
		t.Fatalf("03:30 decoded to %v", c.Deadline)
	}
}
