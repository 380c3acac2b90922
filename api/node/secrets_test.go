package node_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/simulator"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// lockedBuffer is a zap sink that tests can read while the node writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Sync() error { return nil }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// passwordForms returns the plain password and its two byte forms on the wire (P0P1P2
// low byte first, then with the DL/T 645 +0x33 data scrambling) as hex.
func passwordForms(t *testing.T, pw string) []string {
	t.Helper()
	if len(pw) != 6 {
		t.Fatalf("password %q is not 6 digits", pw)
	}
	low := pw[4:6] + pw[2:4] + pw[0:2]
	scrambled := ""
	for i := 0; i < 6; i += 2 {
		b := (low[i]-'0')<<4 | (low[i+1] - '0')
		scrambled += fmt.Sprintf("%02x", b+0x33)
	}
	return []string{pw, low, scrambled}
}

func TestPasswordsNeverLeave(t *testing.T) {
	sink := &lockedBuffer{}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), sink,
		zapcore.DebugLevel)
	e := startLogged(t, zap.New(core), 1, 4, 1, 0)
	meters := map[string]archive.Meter{}
	for _, m := range e.arch.Meters {
		if m.Password != nil && m.Password.Value != "" {
			meters[m.Address] = m
		}
	}
	if len(meters) == 0 {
		t.Fatal("the fleet archive has no meter with a password")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stream lockedBuffer
	streamDone := make(chan struct{})
	req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"/v1/events?last_event_id=0", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(streamDone)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			stream.Write(append(sc.Bytes(), '\n'))
		}
	}()

	plain := e.pickMeter(t, 0, behindTerminal(archive.ProtocolDLT645v2007, archive.KindPlain))
	bus := e.pickMeter(t, 0, func(m archive.Meter) bool {
		return m.Route.Bus != "" && m.Protocol == archive.ProtocolDLT645v2007
	})
	var responses strings.Builder
	for _, m := range []archive.Meter{plain, bus} {
		for _, action := range []string{"read", "trip", "close", "sync_time"} {
			c := e.run(t, cmdBody(meterTarget(m.Address), action))
			responses.WriteString(c.ID + " " + string(c.State) + "\n")
		}
		// A rejected password puts the meter's reply frame into the evidence. A
		// cost-control meter takes the plain password only to close.
		action := "trip"
		if m.Kind == archive.KindCostControl {
			action = "close"
		}
		e.fault(t, simulator.FaultTarget{Meter: m.Address}, "wrong_password", nil)
		c := e.run(t, cmdBody(meterTarget(m.Address), action))
		if c.Reason == nil || c.Reason.Code != "meter_password_rejected" {
			t.Errorf("%s of %s with a wrong password: %s %+v, want "+
				"meter_password_rejected", action, m.Address, c.State, c.Reason)
		}
		_, body := e.do(t, "GET", "/v1/meters/"+m.Address, "")
		responses.WriteString(body)
	}
	for _, path := range []string{"/v1/commands?limit=1000", "/v1/archive",
		"/v1/archive?format=csv", "/v1/terminals"} {
		_, body := e.do(t, "GET", path, "")
		responses.WriteString(body)
	}
	time.Sleep(200 * time.Millisecond) // let the stream catch up with the last events
	cancel()
	resp.Body.Close()
	<-streamDone

	texts := map[string]string{"log": sink.String(), "responses": responses.String(),
		"events": stream.String()}
	if !strings.Contains(texts["events"], "meter_password_rejected") {
		t.Errorf("event stream lacks the rejected trip; the capture is incomplete")
	}
	if !strings.Contains(texts["log"], "command failed") {
		t.Errorf("log lacks the failed commands; the capture is incomplete")
	}
	for _, m := range meters {
		for _, form := range passwordForms(t, m.Password.Value) {
			for name, text := range texts {
				if i := strings.Index(strings.ToLower(text), form); i >= 0 {
					lo, hi := max(0, i-60), min(len(text), i+60)
					t.Errorf("%s contains password form %s of meter %s: ...%s...", name, form,
						m.Address, text[lo:hi])
				}
			}
		}
	}
}
