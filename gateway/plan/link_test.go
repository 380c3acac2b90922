package plan_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/plan"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet, which transport imports, starts a package-level worker pool at init.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

var testSecret = []byte("plan link test secret")

// serveMeters replies to DL/T 645 requests on ln with the simulated meters, as a serial
// server with the meters behind it would.
func serveMeters(t *testing.T, ln net.Listener, meters []*meter.Meter) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				fr := dlt645.NewFramer(0, false)
				buf := make([]byte, 512)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					fr.Write(buf[:n])
					for r := fr.Next(false); r.Frame != nil; r = fr.Next(false) {
						req, err := dlt645.Decode(r.Frame)
						if err != nil {
							continue
						}
						for _, m := range meters {
							reply, _ := m.Handle(req, time.Now(), 0)
							if reply == nil {
								continue
							}
							out, _ := dlt645.Append(nil, reply, true)
							conn.Write(out)
						}
					}
				}
			}()
		}
	}()
	return &wg
}

func newMeter(t *testing.T, addr string, cost bool) *meter.Meter {
	t.Helper()
	a, err := protocol.ParseMeterAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := dlt645.ParsePassword("123456")
	return meter.New(meter.Config{Address: a, Edition: dlt645.Edition2007, CostControl: cost,
		Password: pw, LoadKW: 1, Start: time.Now(), Secret: testSecret})
}

func entry(addr, kind string, link *archive.Link) *gateway.MeterEntry {
	src := archive.Meter{Address: addr, Protocol: archive.ProtocolDLT645v2007, Kind: kind,
		Password: &archive.Password{Level: 2, Value: "123456"},
		Route:    archive.Route{Link: link.Name}}
	return &gateway.MeterEntry{Address: addr, Protocol: src.Protocol, Kind: kind,
		MeterNumber: addr, Source: src, Link: link,
		Route: gateway.MeterRoute{Kind: gateway.RouteLink, Link: link.Name, Baud: 2400}}
}

func TestTripOverTCPLink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := newMeter(t, "000000000101", false)
	cost := newMeter(t, "000000000102", true)
	wg := serveMeters(t, ln, []*meter.Meter{plain, cost})
	lines := plan.NewLines(nil, nil)
	defer func() {
		lines.Close()
		ln.Close()
		wg.Wait()
	}()
	p := plan.NewDLT645(lines, plan.DLT645Config{Machine: secdouble.NewMaster(testSecret)})
	link := &archive.Link{Name: "link1", Address: ln.Addr().String()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []*gateway.MeterEntry{entry("000000000101", archive.KindPlain, link),
		entry("000000000102", archive.KindCostControl, link)} {
		d := gateway.Device{Meter: m}
		err := p.Control(ctx, d, gateway.Control{Action: gateway.ActionTrip,
			Deadline: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatalf("trip %s (%s): %v", m.Address, m.Kind, err)
		}
		st, err := p.Status(ctx, d)
		if err != nil {
			t.Fatalf("status %s: %v", m.Address, err)
		}
		if !st.CommandOpen {
			t.Errorf("%s status word 3 %04X: relay command state not open", m.Address, st.Word)
		}
		if st.EnergyKWh == nil || st.PowerKW == nil {
			t.Errorf("%s status without energy or power evidence: %+v", m.Address, st)
		}
		r, err := p.Read(ctx, d, []string{"energy_forward_total", "power", "meter_number"})
		if err != nil || len(r) != 3 {
			t.Errorf("read %s: %v %v", m.Address, r, err)
		}
	}
	if ops := cost.State(time.Now()).Operations.Trip; ops != 1 {
		t.Errorf("cost-control meter accepted %d trips, want 1", ops)
	}
}

func TestWrongPasswordOverTCPLink(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMeter(t, "000000000103", false)
	wg := serveMeters(t, ln, []*meter.Meter{m})
	lines := plan.NewLines(nil, nil)
	defer func() {
		lines.Close()
		ln.Close()
		wg.Wait()
	}()
	p := plan.NewDLT645(lines, plan.DLT645Config{})
	e := entry("000000000103", archive.KindPlain, &archive.Link{Name: "l",
		Address: ln.Addr().String()})
	e.Source.Password.Value = "654321"
	err = p.Control(context.Background(), gateway.Device{Meter: e},
		gateway.Control{Action: gateway.ActionTrip, Deadline: time.Now().Add(time.Hour)})
	var f *gateway.Failure
	if !errorsAs(err, &f) || f.Code != gateway.ReasonMeterPasswordRejected || f.Retryable {
		t.Fatalf("error %v, want a non-retryable meter_password_rejected", err)
	}
	if f.Evidence == nil || f.Evidence.FrameHex == "" || len(f.Evidence.ErrorBits) == 0 {
		t.Errorf("evidence %+v, want the reply frame and its error bits", f.Evidence)
	}
}
