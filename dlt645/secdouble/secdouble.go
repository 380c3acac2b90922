package secdouble

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/feegate/feegate/dlt645"
)

// Errors of the meter side. A simulated meter replies to ErrAuthFailed with SERR bit 3
// (identity authentication failed). It replies to ErrMAC and ErrNoSession with the 2-byte
// 0x1C error word, bit 1 (MAC error) or bit 3 (authentication timed out), so the gateway
// reads each of them as dlt645.ErrSecurity.
var (
	ErrAuthFailed = errors.New("secdouble: identity authentication failed")
	ErrMAC        = errors.New("secdouble: MAC check failed")
	ErrNoSession  = errors.New("secdouble: no identity authentication in force")
)

const (
	// MACLen is the length of the MAC after the ciphertext.
	MACLen = 4
	// blockLen is the padded plaintext length: 8 bytes of relay plaintext fill one block.
	blockLen = 16
)

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// meterKey derives the per-meter key from the master secret and the dispersion factor.
func meterKey(secret []byte, div [8]byte) []byte {
	return mac(secret, []byte("feegate secdouble meter key"), div[:])
}

func cipher1(key []byte, rand1 [8]byte) [8]byte {
	var c [8]byte
	copy(c[:], mac(key, []byte("auth"), rand1[:]))
	return c
}

func esamSerial(key []byte) [8]byte {
	var s [8]byte
	copy(s[:], mac(key, []byte("esam serial")))
	return s
}

// sessionKeys returns the AES key, the CTR IV and the MAC key of one authentication.
func sessionKeys(key []byte, s dlt645.AuthSession) (encKey, iv, macKey []byte) {
	k := mac(key, []byte("session"), s.Rand2[:], s.ESAMSerial[:])
	return k[:16], mac(k, []byte("iv"))[:16], mac(k, []byte("mac"))
}

func ctr(encKey, iv, b []byte) []byte {
	block, err := aes.NewCipher(encKey)
	if err != nil {
		panic(err) // the key is always 16 bytes
	}
	out := make([]byte, len(b))
	cipher.NewCTR(block, iv).XORKeyStream(out, b)
	return out
}

// Master is the master-station side: it implements dlt645.EncryptionMachine. It is safe
// for concurrent use.
type Master struct {
	secret []byte
}

// NewMaster returns the master side for the shared secret.
func NewMaster(secret []byte) *Master {
	return &Master{secret: append([]byte(nil), secret...)}
}

// IdentityAuthentication returns a fresh rand1 and the ciphertext1 that proves knowledge of
// the meter key.
func (m *Master) IdentityAuthentication(ctx context.Context, div [8]byte) (
	rand1, c1 [8]byte, err error) {
	if err := ctx.Err(); err != nil {
		return rand1, c1, err
	}
	if _, err := rand.Read(rand1[:]); err != nil {
		return rand1, c1, fmt.Errorf("secdouble: random number: %w", err)
	}
	return rand1, cipher1(meterKey(m.secret, div), rand1), nil
}

// RelayControl pads the plaintext to 16 bytes, encrypts it and appends the 4-byte MAC.
func (m *Master) RelayControl(ctx context.Context, s dlt645.AuthSession, plaintext []byte) (
	[]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(plaintext) >= blockLen {
		return nil, fmt.Errorf("secdouble: plaintext of %d bytes, at most %d", len(plaintext),
			blockLen-1)
	}
	padded := make([]byte, blockLen)
	copy(padded, plaintext)
	padded[len(plaintext)] = 0x80
	encKey, iv, macKey := sessionKeys(meterKey(m.secret, s.Div), s)
	ct := ctr(encKey, iv, padded)
	return append(ct, mac(macKey, ct)[:MACLen]...), nil
}

// Meter is the meter (ESAM) side of one meter. It is not safe for concurrent use: one
// simulated meter owns it.
type Meter struct {
	key     []byte
	div     [8]byte
	session *dlt645.AuthSession
}

// NewMeter returns the meter side for the shared secret and the meter number (表号).
func NewMeter(secret []byte, meterNumber string) (*Meter, error) {
	div, err := dlt645.DispersionFactor(meterNumber)
	if err != nil {
		return nil, err
	}
	return &Meter{key: meterKey(secret, div), div: div}, nil
}

// ESAMSerial returns the serial the meter reports in its authentication reply.
func (m *Meter) ESAMSerial() [8]byte { return esamSerial(m.key) }

// Authenticate checks an identity-authentication request and opens a session. It returns
// rand2 and the ESAM serial for the 0x83 reply, or ErrAuthFailed.
func (m *Meter) Authenticate(r *dlt645.IdentityAuthRequest) (rand2 [4]byte, esam [8]byte,
	err error) {
	want := cipher1(m.key, r.Rand1)
	if r.Div != m.div || !hmac.Equal(want[:], r.Cipher1[:]) {
		m.session = nil
		return rand2, esam, ErrAuthFailed
	}
	if _, err := rand.Read(rand2[:]); err != nil {
		return rand2, esam, fmt.Errorf("secdouble: random number: %w", err)
	}
	esam = esamSerial(m.key)
	m.session = &dlt645.AuthSession{Div: m.div, Rand2: rand2, ESAMSerial: esam}
	return rand2, esam, nil
}

// EndSession drops the authentication, as a meter does when its validity runs out.
func (m *Meter) EndSession() { m.session = nil }

// DecryptRelayControl checks the MAC of a PA=98 relay control's ciphertext+MAC and returns
// the 8-byte plaintext (see dlt645.ParseRelayPlaintext).
func (m *Meter) DecryptRelayControl(cipherMAC []byte) ([]byte, error) {
	if m.session == nil {
		return nil, ErrNoSession
	}
	if len(cipherMAC) != blockLen+MACLen {
		return nil, ErrMAC
	}
	encKey, iv, macKey := sessionKeys(m.key, *m.session)
	ct, tag := cipherMAC[:blockLen], cipherMAC[blockLen:]
	if !hmac.Equal(mac(macKey, ct)[:MACLen], tag) {
		return nil, ErrMAC
	}
	padded := ctr(encKey, iv, ct)
	for i := len(padded) - 1; i >= 0; i-- {
		switch padded[i] {
		case 0:
			continue
		case 0x80:
			return padded[:i], nil
		}
		break
	}
	return nil, ErrMAC
}
