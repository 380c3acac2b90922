package meter

import (
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// BenchmarkReadEnergy measures one energy read (00010000) answered by a meter, frame in and
// frame out, as a terminal's forward or a bus does it.
func BenchmarkReadEnergy(b *testing.B) {
	a, _ := protocol.ParseMeterAddress("000000000161")
	m := New(Config{Address: a, Edition: dlt645.Edition2007, LoadKW: 1, Start: t0})
	req := dlt645.NewReadRequest(a, 0x00010000)
	now := t0.Add(30 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		reply, _ := m.Handle(req, now, 0)
		if reply == nil {
			b.Fatal("no reply")
		}
	}
}

// BenchmarkNewMeter measures building one meter; B/op is the heap a meter costs.
func BenchmarkNewMeter(b *testing.B) {
	a, _ := protocol.ParseMeterAddress("000000000161")
	b.ReportAllocs()
	for b.Loop() {
		_ = New(Config{Address: a, Edition: dlt645.Edition2007, CostControl: true, Start: t0})
	}
}
