package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// TestBusErrorsKeepPasswordOut runs a relay command to a silent meter on a bus whose
// adapter echoes the request imperfectly. Neither the error nor any log line may carry the
// password bytes of the echoed request.
func TestBusErrorsKeepPasswordOut(t *testing.T) {
	addr, _ := protocol.ParseMeterAddress("000000000171")
	pw, _ := dlt645.ParsePassword("8A5C3E")
	f, err := dlt645.NewRelayRequest(addr, &dlt645.RelayCommand{Level: dlt645.LevelPlain02,
		Password: pw, Action: dlt645.ActionTrip, Deadline: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wire, err := dlt645.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	core := wire[dlt645.PreambleLen:]
	// The data area starts after 68 A0..A5 68 C L: PA and P0..P2, scrambled with +33.
	secret := core[dlt645.HeaderLen : dlt645.HeaderLen+4]

	cases := []struct {
		name string
		echo func() []byte
	}{
		{"noise before the echo", func() []byte { return append([]byte{0x00}, wire...) }},
		{"first preamble byte lost", func() []byte { return bytes.Clone(wire[1:]) }},
		{"preamble and start byte lost", func() []byte { return bytes.Clone(core[1:]) }},
		{"noise then a cut echo", func() []byte {
			return append([]byte{0x00, 0x11}, core[:dlt645.HeaderLen+6]...)
		}},
		{"echo with a flipped last byte", func() []byte {
			e := bytes.Clone(wire)
			e[len(e)-1] ^= 0xFF
			return e
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zapcore.DebugLevel)
			port := &fakePort{}
			port.reply = func([]byte) []chunk { return []chunk{{data: tc.echo()}} }
			bus := NewBus(port, BusConfig{Name: "bus7", FirstByteTimeout: 80 * time.Millisecond,
				InterByteTimeout: 40 * time.Millisecond, Attempts: 2, Logger: zap.New(core)})
			defer bus.Close()
			ex, err := DLT645Exchange(wire, "relay_control")
			if err != nil {
				t.Fatal(err)
			}
			_, err = bus.Do(context.Background(), ex)
			var be *BusError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a *BusError", err)
			}
			if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNoReply) {
				t.Fatalf("err = %v, want ErrTimeout or ErrNoReply", err)
			}
			if bytes.Contains(be.Partial, secret) {
				t.Errorf("BusError.Partial % X carries the password % X", be.Partial, secret)
			}
			hex := fmt.Sprintf("% X", secret)
			if bytes.Contains([]byte(err.Error()), []byte(hex)) {
				t.Errorf("error %q carries the password % X", err, secret)
			}
			for _, e := range logs.All() {
				line := e.Message
				for k, v := range e.ContextMap() {
					line += fmt.Sprintf(" %s=%v", k, v)
				}
				if bytes.Contains([]byte(line), []byte(hex)) {
					t.Errorf("log line %q carries the password", line)
				}
			}
		})
	}
}

func TestDropEchoRuns(t *testing.T) {
	pre := []byte{0xFE, 0xFE}
	frame := []byte{0x68, 1, 2, 3, 4, 5, 6, 0x68, 0x14, 0x04, 0x35, 0x71, 0x8F, 0xBD, 0xC0, 0x16}
	replyHead := []byte{0x68, 1, 2, 3, 4, 5, 6, 0x68, 0x94, 0x00}
	cases := []struct {
		name     string
		received []byte
		want     []byte
	}{
		{"cut-off reply kept", replyHead, replyHead},
		{"preamble and reply head kept", append(bytes.Clone(pre), replyHead...),
			append(bytes.Clone(pre), replyHead...)},
		{"noise, preamble, echo", append([]byte{0x00, 0xFE}, frame...), []byte{0x00}},
		{"echo tail without head", bytes.Clone(frame[3:]), nil},
		{"echo then reply head", append(bytes.Clone(frame[:12]), replyHead...), replyHead},
		{"short noise", []byte{0x35, 0x71}, []byte{0x35, 0x71}},
	}
	for _, c := range cases {
		if got := dropEchoRuns(c.received, frame, pre); !bytes.Equal(got, c.want) {
			t.Errorf("%s: % X, want % X", c.name, got, c.want)
		}
	}
}

// BenchmarkPartialReply measures the echo removal of a failed attempt at its bound: 1 KiB
// received (busMaxBuffered) of repeated damaged echoes of a 28-byte relay command.
func BenchmarkPartialReply(b *testing.B) {
	frame := []byte{0x68, 0x71, 0x01, 0, 0, 0, 0, 0x68, 0x1C, 0x10, 0x35, 0x71, 0x8F, 0xBD,
		0x33, 0x33, 0x33, 0x33, 0x4D, 0x33, 0x79, 0x8A, 0x34, 0x38, 0x45, 0x59, 0xB9, 0x16}
	ex := Exchange{Frame: frame, Preamble: Preamble645}
	sent := append(bytes.Clone(Preamble645), frame...)
	var received []byte
	for len(received) < busMaxBuffered {
		received = append(received, 0x00)
		received = append(received, frame[:len(frame)-1]...)
	}
	received = received[:busMaxBuffered]
	b.ReportAllocs()
	for b.Loop() {
		if got := partialReply(received, sent, &ex); len(got) == 0 {
			b.Fatal("noise bytes removed too")
		}
	}
}
