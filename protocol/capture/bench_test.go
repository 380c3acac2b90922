package capture_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol/capture"
	"github.com/feegate/feegate/protocol/capture/capturetest"
)

// sessionFile writes a capture of one connection with n 26-byte uplink frames, each split
// over two segments and followed by a 20-byte downlink frame.
func sessionFile(b *testing.B, n int) []byte {
	b.Helper()
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	if err != nil {
		b.Fatal(err)
	}
	c := capturetest.NewConn(w, terminal, master, 1, 1)
	if err := c.Handshake(t0); err != nil {
		b.Fatal(err)
	}
	up := bytes.Repeat([]byte{0x55}, 26)
	down := bytes.Repeat([]byte{0xAA}, 20)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		if _, err := c.Send(at, true, up[:10]); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Send(at, true, up[10:]); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Send(at, false, down); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return file.Bytes()
}

// BenchmarkWalk reads and reassembles a pcapng of 3,000 segments per iteration.
func BenchmarkWalk(b *testing.B) {
	file := sessionFile(b, 1000)
	b.SetBytes(int64(len(file)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := capture.NewReader(bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := capture.Walk(r, func(capture.Chunk) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemblerOutOfOrder feeds segment pairs in reverse order, so every second
// segment is held and then released.
func BenchmarkAssemblerOutOfOrder(b *testing.B) {
	payload := make([]byte, 100)
	a := capture.NewAssembler()
	seq := uint32(1)
	b.ReportAllocs()
	for b.Loop() {
		second := capture.Segment{Src: terminal, Dst: master, Seq: seq + 100, Payload: payload}
		first := capture.Segment{Src: terminal, Dst: master, Seq: seq, Payload: payload}
		a.Add(second)
		a.Add(first)
		seq += 200
	}
}
