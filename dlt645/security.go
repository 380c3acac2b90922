package dlt645

import (
	"context"
	"time"

	"github.com/feegate/feegate/protocol"
)

// Security (SGCC) identifiers of command 0x03.
const (
	// DIIdentityAuth is 身份认证, identity authentication.
	DIIdentityAuth DI = 0x070000FF
	// DIAuthValidity is 身份认证时效设置, the identity-authentication validity.
	DIAuthValidity DI = 0x070001FF
	// DIAuthInvalidate is 身份认证失效, ending the authentication.
	DIAuthInvalidate DI = 0x070002FF
)

// EncryptionMachine is the master station's encryption machine (加密机) for SGCC
// cost-control meters. The gateway calls it to authenticate to a meter and to encrypt the
// PA=98 relay-control plaintext. Implementations must be safe for concurrent use: one
// machine serves every meter.
type EncryptionMachine interface {
	// IdentityAuthentication returns rand1 and ciphertext1 for the meter whose dispersion
	// factor is div (see DispersionFactor).
	IdentityAuthentication(ctx context.Context, div [8]byte) (rand1, cipher1 [8]byte, err error)
	// RelayControl encrypts the relay-control plaintext (RelayPlaintext) for the session
	// the meter opened with rand2 and its ESAM serial, and returns ciphertext followed by
	// the MAC, in the order the machine produces them (the frame reverses the block).
	RelayControl(ctx context.Context, s AuthSession, plaintext []byte) ([]byte, error)
}

// AuthSession is the outcome of a successful identity authentication: the meter's random
// number rand2, its ESAM serial and the dispersion factor used.
type AuthSession struct {
	Div        [8]byte
	Rand2      [4]byte
	ESAMSerial [8]byte
}

// DispersionFactor returns the 8-byte dispersion factor (分散因子) of a meter: 00 00 and the
// 6 bytes of its meter number (表号, DI 04000402) as printed, high byte first.
func DispersionFactor(meterNumber string) ([8]byte, error) {
	var div [8]byte
	a, err := protocol.ParseMeterAddress(meterNumber)
	if err != nil || a.IsWildcard() {
		return div, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(meterNumber)),
			"meter number %q must be up to 12 digits", meterNumber)
	}
	for i := 0; i < 6; i++ {
		div[2+i] = a[5-i]
	}
	return div, nil
}

// IdentityAuthRequest is the data of an identity-authentication request (0x03, DI
// 070000FF). Byte arrays are in the order the encryption machine uses; the frame reverses
// each field.
type IdentityAuthRequest struct {
	Operator OperatorCode
	Cipher1  [8]byte
	Rand1    [8]byte
	Div      [8]byte
}

func appendReversed(dst, b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		dst = append(dst, b[i])
	}
	return dst
}

func copyReversed(dst, b []byte) {
	for i := range dst {
		dst[i] = b[len(b)-1-i]
	}
}

// NewIdentityAuthRequest returns the identity-authentication request (0x03, L=32): DI
// 070000FF, C0..C3, then ciphertext1, rand1 and the dispersion factor, each reversed.
func NewIdentityAuthRequest(addr protocol.MeterAddress, r *IdentityAuthRequest) *Frame {
	payload := make([]byte, 0, 24)
	payload = appendReversed(payload, r.Cipher1[:])
	payload = appendReversed(payload, r.Rand1[:])
	payload = appendReversed(payload, r.Div[:])
	return NewSecurityRequest(addr, DIIdentityAuth, r.Operator, payload)
}

// ParseIdentityAuthRequest decodes an identity-authentication request, as a meter does.
func ParseIdentityAuthRequest(f *Frame) (*IdentityAuthRequest, error) {
	if f.Control.IsReply() || f.Function() != FuncSecurity {
		return nil, unexpected(f, "not a security request")
	}
	if len(f.Data) != 32 {
		return nil, protocol.Mismatch(protocol.ErrBadLength, 9, int64(len(f.Data)), 32,
			"identity-authentication request length")
	}
	if di := diFromWire(f.Data); di != DIIdentityAuth {
		return nil, protocol.Mismatch(protocol.ErrIdentifierMismatch, HeaderLen, int64(di),
			int64(DIIdentityAuth), "security DI")
	}
	r := &IdentityAuthRequest{}
	copy(r.Operator[:], f.Data[4:8])
	copyReversed(r.Cipher1[:], f.Data[8:16])
	copyReversed(r.Rand1[:], f.Data[16:24])
	copyReversed(r.Div[:], f.Data[24:32])
	return r, nil
}

// NewIdentityAuthReply returns the meter's reply (0x83): DI, rand2 and the ESAM serial,
// each reversed.
func NewIdentityAuthReply(addr protocol.MeterAddress, rand2 [4]byte, esam [8]byte) *Frame {
	data := make([]byte, 4, 16)
	DIIdentityAuth.put(data)
	data = appendReversed(data, rand2[:])
	data = appendReversed(data, esam[:])
	return NewReply(addr, FuncSecurity, false, data)
}

// ParseIdentityAuthReply decodes the meter's reply into the session for div. A 0xC3 reply
// returns a *MeterError of KindSERR (ErrSecurity for a failed authentication).
func ParseIdentityAuthReply(f *Frame, div [8]byte) (AuthSession, error) {
	b, err := ParseSecurityReply(f, DIIdentityAuth)
	if err != nil {
		return AuthSession{}, err
	}
	if len(b) != 12 {
		return AuthSession{}, protocol.Mismatch(protocol.ErrBadLength, HeaderLen+4,
			int64(len(b)), 12, "identity-authentication reply: rand2 and ESAM serial")
	}
	s := AuthSession{Div: div}
	copyReversed(s.Rand2[:], b[0:4])
	copyReversed(s.ESAMSerial[:], b[4:12])
	return s, nil
}

// RelayPlaintext returns the 8 plaintext bytes the encryption machine encrypts for a PA=98
// relay control: N1, N2, then the deadline as YY MM DD hh mm ss (high order first, unlike
// the plain frame) in loc, or DefaultLocation when loc is nil.
func RelayPlaintext(action RelayAction, n2 byte, deadline time.Time, loc *time.Location) (
	[]byte, error) {
	if loc == nil {
		loc = defaultLocation
	}
	return appendBCDTime([]byte{byte(action), n2}, deadline.In(loc),
		[]timeField{year, month, day, hour, minute, second})
}

// ParseRelayPlaintext decodes the 8 plaintext bytes of a PA=98 relay control.
func ParseRelayPlaintext(p []byte, loc *time.Location) (RelayAction, byte, time.Time, error) {
	if len(p) != 8 {
		return 0, 0, time.Time{}, protocol.Mismatch(protocol.ErrBadLength, -1, int64(len(p)),
			8, "relay-control plaintext length")
	}
	if loc == nil {
		loc = defaultLocation
	}
	t, err := parseBCDTime(p[2:], []timeField{year, month, day, hour, minute, second}, loc)
	return RelayAction(p[0]), p[1], t, err
}

// EncryptedRelayRequest is the content of a PA=98 relay control.
type EncryptedRelayRequest struct {
	Operator OperatorCode
	// CipherMAC is the encryption machine's output, ciphertext then MAC, in its own order.
	CipherMAC []byte
}

// NewEncryptedRelayRequest returns the PA=98 relay-control request (0x1C): 98 00 00 00,
// C0..C3, then the ciphertext+MAC block reversed. P0..P2 are not checked at level 98 and
// are sent as zeros.
func NewEncryptedRelayRequest(addr protocol.MeterAddress, r *EncryptedRelayRequest) (*Frame,
	error) {
	if len(r.CipherMAC) == 0 || 8+len(r.CipherMAC) > MaxDataLen {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(r.CipherMAC)),
			"ciphertext+MAC must be 1 to %d bytes", MaxDataLen-8)
	}
	data := make([]byte, 0, 8+len(r.CipherMAC))
	data = append(data, LevelEncrypted, 0, 0, 0)
	data = append(data, r.Operator[:]...)
	return NewRequest(addr, FuncRelayControl, appendReversed(data, r.CipherMAC)), nil
}

// ParseEncryptedRelayRequest decodes a PA=98 relay-control request, as a meter does. The
// returned CipherMAC is in the encryption machine's order.
func ParseEncryptedRelayRequest(f *Frame) (*EncryptedRelayRequest, error) {
	if f.Control.IsReply() || f.Function() != FuncRelayControl {
		return nil, unexpected(f, "not a relay-control request")
	}
	if len(f.Data) <= 8 || f.Data[0] != LevelEncrypted {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, HeaderLen, int64(len(f.Data)),
			"not a PA=98 relay control with ciphertext")
	}
	r := &EncryptedRelayRequest{CipherMAC: appendReversed(nil, f.Data[8:])}
	copy(r.Operator[:], f.Data[4:8])
	return r, nil
}

// BuildIdentityAuthRequest gets rand1 and ciphertext1 from the encryption machine and
// returns the identity-authentication request to the meter at addr.
func BuildIdentityAuthRequest(ctx context.Context, m EncryptionMachine,
	addr protocol.MeterAddress, op OperatorCode, div [8]byte) (*Frame, error) {
	rand1, c1, err := m.IdentityAuthentication(ctx, div)
	if err != nil {
		return nil, err
	}
	return NewIdentityAuthRequest(addr, &IdentityAuthRequest{Operator: op, Cipher1: c1,
		Rand1: rand1, Div: div}), nil
}

// BuildEncryptedRelayRequest encrypts the relay command c (its Level, Password and
// Location are ignored: the plaintext is sent in DefaultLocation unless c.Location is set)
// for session s and returns the PA=98 request to addr.
func BuildEncryptedRelayRequest(ctx context.Context, m EncryptionMachine, s AuthSession,
	addr protocol.MeterAddress, c *RelayCommand) (*Frame, error) {
	if !c.Action.Known() {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(c.Action),
			"unknown relay action N1")
	}
	plain, err := RelayPlaintext(c.Action, c.N2, c.Deadline, c.Location)
	if err != nil {
		return nil, err
	}
	cm, err := m.RelayControl(ctx, s, plain)
	if err != nil {
		return nil, err
	}
	return NewEncryptedRelayRequest(addr, &EncryptedRelayRequest{Operator: c.Operator,
		CipherMAC: cm})
}
