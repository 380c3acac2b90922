package terminal

import (
	"testing"

	"github.com/feegate/feegate/gw376"
)

// FuzzSplitRequest checks that splitting any downlink data-unit area never panics and
// that every unit lies inside the input.
func FuzzSplitRequest(f *testing.F) {
	f.Add(byte(gw376.AFNForward), []byte{0, 0, 1, 0, 31, 0x6B, 0x82, 0x0A, 2, 0, 0xFE, 0xFE})
	f.Add(byte(gw376.AFNControl), []byte{1, 1, 1, 0, 0x00})
	f.Add(byte(gw376.AFNSetParam), []byte{0, 0, 2, 1, 1, 0})
	f.Fuzz(func(t *testing.T, afn byte, data []byte) {
		units, _ := splitRequest(gw376.AFN(afn), data)
		total := 0
		for _, u := range units {
			total += len(u.data)
		}
		if total > len(data) {
			t.Fatalf("units hold %d bytes of a %d-byte area", total, len(data))
		}
	})
}
