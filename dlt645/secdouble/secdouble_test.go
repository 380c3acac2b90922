package secdouble

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// wire encodes and decodes f, as the bus would.
func wire(t *testing.T, f *dlt645.Frame) *dlt645.Frame {
	t.Helper()
	b, err := dlt645.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := dlt645.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// authenticate runs identity authentication between master and meter over frames.
func authenticate(t *testing.T, master *Master, meter *Meter, number string) (
	dlt645.AuthSession, error) {
	t.Helper()
	addr, _ := protocol.ParseMeterAddress("000000000161")
	div, err := dlt645.DispersionFactor(number)
	if err != nil {
		t.Fatal(err)
	}
	req, err := dlt645.BuildIdentityAuthRequest(context.Background(), master, addr,
		dlt645.OperatorCode{}, div)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dlt645.ParseIdentityAuthRequest(wire(t, req))
	if err != nil {
		t.Fatal(err)
	}
	rand2, esam, err := meter.Authenticate(got)
	if err != nil {
		return dlt645.AuthSession{}, err
	}
	return dlt645.ParseIdentityAuthReply(wire(t, dlt645.NewIdentityAuthReply(addr, rand2, esam)),
		div)
}

func TestEncryptedTripFlow(t *testing.T) {
	secret := []byte("demo master secret")
	master := NewMaster(secret)
	meter, err := NewMeter(secret, "002241020208")
	if err != nil {
		t.Fatal(err)
	}
	s, err := authenticate(t, master, meter, "002241020208")
	if err != nil {
		t.Fatal(err)
	}
	if s.ESAMSerial != meter.ESAMSerial() {
		t.Fatal("session ESAM serial differs from the meter's")
	}

	addr, _ := protocol.ParseMeterAddress("000000000161")
	deadline := time.Date(2026, 12, 4, 18, 0, 0, 0, dlt645.DefaultLocation())
	cmd := &dlt645.RelayCommand{Action: dlt645.ActionTrip, Deadline: deadline}
	f, err := dlt645.BuildEncryptedRelayRequest(context.Background(), master, s, addr, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Data) != 28 {
		t.Fatalf("L = %d, want 28 as in the SGCC example", len(f.Data))
	}
	req, err := dlt645.ParseEncryptedRelayRequest(wire(t, f))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := meter.DecryptRelayControl(req.CipherMAC)
	if err != nil {
		t.Fatal(err)
	}
	action, _, dl, err := dlt645.ParseRelayPlaintext(plain, nil)
	if err != nil || action != dlt645.ActionTrip || !dl.Equal(deadline) {
		t.Fatalf("plaintext %v %v %v", action, dl, err)
	}

	// Every single changed bit fails the MAC check.
	for i := range req.CipherMAC {
		for bit := 0; bit < 8; bit++ {
			bad := append([]byte(nil), req.CipherMAC...)
			bad[i] ^= 1 << bit
			if _, err := meter.DecryptRelayControl(bad); !errors.Is(err, ErrMAC) {
				t.Fatalf("byte %d bit %d flipped: err = %v", i, bit, err)
			}
		}
	}

	meter.EndSession()
	if _, err := meter.DecryptRelayControl(req.CipherMAC); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after EndSession: err = %v", err)
	}
}

func TestAuthenticationWrongSecret(t *testing.T) {
	meter, _ := NewMeter([]byte("meter secret"), "002241020208")
	_, err := authenticate(t, NewMaster([]byte("other secret")), meter, "002241020208")
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want ErrAuthFailed", err)
	}
}

func TestAuthenticationWrongMeterNumber(t *testing.T) {
	secret := []byte("s")
	meter, _ := NewMeter(secret, "002241020208")
	_, err := authenticate(t, NewMaster(secret), meter, "002241020209")
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want ErrAuthFailed", err)
	}
}

func TestOtherMeterCannotDecrypt(t *testing.T) {
	secret := []byte("s")
	master := NewMaster(secret)
	a, _ := NewMeter(secret, "000000000001")
	b, _ := NewMeter(secret, "000000000002")
	s, err := authenticate(t, master, a, "000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(t, master, b, "000000000002"); err != nil {
		t.Fatal(err)
	}
	plain, _ := dlt645.RelayPlaintext(dlt645.ActionTrip, 0, time.Now(), nil)
	cm, err := master.RelayControl(context.Background(), s, plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DecryptRelayControl(cm); !errors.Is(err, ErrMAC) {
		t.Fatalf("meter b decrypted meter a's command: err = %v", err)
	}
}
