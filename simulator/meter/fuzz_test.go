package meter

import (
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
)

// FuzzHandle feeds arbitrary frames to a cost-control and a 1997 meter: a meter must never
// panic, and every reply it sends must encode.
func FuzzHandle(f *testing.F) {
	f.Add([]byte{0x68, 0x61, 0x01, 0, 0, 0, 0, 0x68, 0x11, 0x04, 0x33, 0x33, 0x34, 0x33, 0x14, 0x16})
	f.Add([]byte{0x68, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x68, 0x13, 0x00, 0xDF, 0x16})
	f.Fuzz(func(t *testing.T, wire []byte) {
		req, err := dlt645.Decode(wire)
		if err != nil {
			return
		}
		addr := req.Address
		cost := New(Config{Address: addr, Edition: dlt645.Edition2007, CostControl: true,
			Start: t0, Secret: []byte("fuzz"), TripDelay: time.Minute})
		old := New(Config{Address: addr, Edition: dlt645.Edition1997, Start: t0})
		for _, m := range []*Meter{cost, old} {
			reply, _ := m.Handle(req, t0.Add(time.Hour), 0)
			if reply == nil {
				continue
			}
			if _, err := dlt645.Encode(reply); err != nil {
				t.Fatalf("reply does not encode: %v", err)
			}
		}
	})
}
