package plan_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/plan"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
)

func skewedMeter(t *testing.T, addr string, ed dlt645.Edition, skew time.Duration) *meter.Meter {
	t.Helper()
	a, err := protocol.ParseMeterAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := dlt645.ParsePassword("123456")
	return meter.New(meter.Config{Address: a, Edition: ed, Password: pw, LoadKW: 1,
		Start: time.Now(), Secret: testSecret, ClockSkew: skew})
}

func TestSyncTimeReadsClockBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr     string
		edition  dlt645.Edition
		skew     time.Duration
		mismatch bool
	}{
		{"000000000201", dlt645.Edition2007, 0, false},
		// Within 5 minutes: the meter takes the broadcast time.
		{"000000000202", dlt645.Edition2007, 2 * time.Minute, false},
		// Beyond 5 minutes: the meter ignores the broadcast and keeps its clock.
		{"000000000203", dlt645.Edition2007, 20 * time.Minute, true},
		{"000000000204", dlt645.Edition1997, -20 * time.Minute, true},
		{"000000000205", dlt645.Edition1997, 0, false},
	}
	var meters []*meter.Meter
	for _, tc := range cases {
		meters = append(meters, skewedMeter(t, tc.addr, tc.edition, tc.skew))
	}
	wg := serveMeters(t, ln, meters)
	lines := plan.NewLines(nil, nil)
	defer func() {
		lines.Close()
		ln.Close()
		wg.Wait()
	}()
	p := plan.NewDLT645(lines, plan.DLT645Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server hands every frame to every meter, so each broadcast reaches all of them.
	link := &archive.Link{Name: "link1", Address: ln.Addr().String()}
	for _, tc := range cases {
		m := entry(tc.addr, archive.KindPlain, link)
		if tc.edition == dlt645.Edition1997 {
			m.Protocol = archive.ProtocolDLT645v1997
		}
		err := p.SyncTime(ctx, gateway.Device{Meter: m}, time.Now())
		if !tc.mismatch {
			if err != nil {
				t.Errorf("%s skew %v: %v, want success", tc.addr, tc.skew, err)
			}
			continue
		}
		var f *gateway.Failure
		if !errorsAs(err, &f) || f.Code != gateway.ReasonVerifyMismatch {
			t.Errorf("%s skew %v: error %v, want verify_mismatch", tc.addr, tc.skew, err)
			continue
		}
		if f.Evidence == nil || !strings.Contains(f.Evidence.Detail, "meter clock") {
			t.Errorf("%s: evidence %+v, want both clocks", tc.addr, f.Evidence)
		}
	}
}
