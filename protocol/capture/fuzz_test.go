package capture_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol/capture"
	"github.com/feegate/feegate/protocol/capture/capturetest"
)

// FuzzReader feeds arbitrary files to the reader and the reassembler: they must return
// errors, never panic or allocate what a corrupt length announces.
func FuzzReader(f *testing.F) {
	var file bytes.Buffer
	w, err := capturetest.NewWriter(&file)
	if err != nil {
		f.Fatal(err)
	}
	c := capturetest.NewConn(w, terminal, master, 1, 1)
	if err := c.Handshake(t0); err != nil {
		f.Fatal(err)
	}
	if _, err := c.Send(t0, true, []byte{0x68, 0x32, 0x00, 0x32, 0x00, 0x68}); err != nil {
		f.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(file.Bytes())
	f.Add(pcapngHeader())
	f.Add([]byte{0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := capture.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		_, _ = capture.Walk(r, func(capture.Chunk) error { return nil })
	})
}

// FuzzAssembler feeds arbitrary segment sequences to the Assembler. Each 8-byte record is
// one segment: direction and flags, a sequence offset, and a payload length. Every direction
// must come out with offsets that grow by exactly what was delivered or skipped.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0x01, 0, 0, 0, 0, 0, 0, 5, 0x00, 0, 0, 0, 5, 0, 0, 5})
	f.Add([]byte{0x04, 0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 40, 0x02, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		a := capture.NewAssembler()
		a.MaxPending = 64
		next := map[capture.Flow]int64{}
		check := func(chunks []capture.Chunk) {
			for _, c := range chunks {
				if want, ok := next[c.Flow]; ok && c.Offset != want && c.Kind != capture.KindEnd {
					if c.Offset < want {
						t.Fatalf("%v: offset went back from %d to %d", c.Flow, want, c.Offset)
					}
				}
				switch c.Kind {
				case capture.KindData:
					next[c.Flow] = c.Offset + int64(len(c.Data))
				case capture.KindGap:
					if c.Gap <= 0 {
						t.Fatalf("gap of %d bytes", c.Gap)
					}
					next[c.Flow] = c.Offset + c.Gap
				case capture.KindEnd:
					delete(next, c.Flow)
				}
			}
		}
		payload := make([]byte, 256)
		for i := 0; i+8 <= len(data); i += 8 {
			rec := data[i : i+8]
			seg := capture.Segment{Time: time.Unix(int64(i), 0),
				Seq:     binary.BigEndian.Uint32(rec[1:5]),
				SYN:     rec[0]&0x04 != 0,
				ACK:     rec[0]&0x08 != 0,
				FIN:     rec[0]&0x10 != 0,
				RST:     rec[0]&0x20 != 0,
				Payload: payload[:int(rec[7])],
			}
			seg.Src, seg.Dst = terminal, master
			if rec[0]&0x01 != 0 {
				seg.Src, seg.Dst = master, terminal
			}
			if rec[0]&0x02 != 0 {
				seg.Src = netip.AddrPortFrom(seg.Src.Addr(), seg.Src.Port()+1)
			}
			check(a.Add(seg))
		}
		check(a.Flush())
	})
}
