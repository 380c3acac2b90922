package secdouble

import (
	"context"
	"testing"

	"github.com/feegate/feegate/dlt645"
)

// FuzzDecryptRelayControl gives an authenticated meter arbitrary ciphertext+MAC blocks:
// each must be rejected without a panic unless it is the master's own block.
func FuzzDecryptRelayControl(f *testing.F) {
	secret := []byte("fuzz master secret")
	master := NewMaster(secret)
	meter, err := NewMeter(secret, "000000000161")
	if err != nil {
		f.Fatal(err)
	}
	div, err := dlt645.DispersionFactor("000000000161")
	if err != nil {
		f.Fatal(err)
	}
	rand1, c1, err := master.IdentityAuthentication(context.Background(), div)
	if err != nil {
		f.Fatal(err)
	}
	rand2, esam, err := meter.Authenticate(&dlt645.IdentityAuthRequest{Cipher1: c1,
		Rand1: rand1, Div: div})
	if err != nil {
		f.Fatal(err)
	}

	session := dlt645.AuthSession{Div: div, Rand2: rand2, ESAMSerial: esam}
	plain := []byte{0x1A, 0x00, 0x26, 0x12, 0x31, 0x23, 0x59, 0x00}
	valid, err := master.RelayControl(context.Background(), session, plain)
	if err != nil {
		f.Fatal(err)
	}

	f.Add(valid)
	f.Add(valid[:MACLen])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, block []byte) {
		got, err := meter.DecryptRelayControl(block)
		if err != nil {
			return
		}
		if string(block) != string(valid) {
			t.Fatalf("forged block % X decrypted to % X", block, got)
		}
		if string(got) != string(plain) {
			t.Fatalf("plaintext % X, want % X", got, plain)
		}
	})
}
