package protocol

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by the codecs. Codecs return them wrapped in an *Error that carries
// the offending value, so callers test the kind with errors.Is and read the value with
// errors.As.
var (
	// ErrShortFrame means the input ends before the frame its header announces.
	ErrShortFrame = errors.New("protocol: short frame")
	// ErrBadStart means a start byte (0x68) is missing where the frame layout needs one.
	ErrBadStart = errors.New("protocol: bad start byte")
	// ErrBadChecksum means the checksum byte does not match the sum of the covered bytes.
	ErrBadChecksum = errors.New("protocol: bad checksum")
	// ErrBadEnd means the byte after the checksum is not the end byte 0x16.
	ErrBadEnd = errors.New("protocol: bad end byte")
	// ErrBadLength means a length field is inconsistent with the frame or the data layout.
	ErrBadLength = errors.New("protocol: bad length")
	// ErrFrameTooLarge means a frame announces more bytes than the configured maximum.
	ErrFrameTooLarge = errors.New("protocol: frame too large")
	// ErrUnknownFunction means a function code, AFN or Fn that the codec does not know.
	ErrUnknownFunction = errors.New("protocol: unknown function")
	// ErrUnknownIdentifier means a data identifier that the codec's table does not know.
	ErrUnknownIdentifier = errors.New("protocol: unknown data identifier")
	// ErrInvalidBCD means a byte that should hold two BCD digits holds a nibble above 9.
	ErrInvalidBCD = errors.New("protocol: invalid BCD")
	// ErrIdentifierMismatch means a reply echoes another identifier than the request asked.
	ErrIdentifierMismatch = errors.New("protocol: identifier mismatch")
	// ErrAddressMismatch means a reply comes from another address than the request went to.
	ErrAddressMismatch = errors.New("protocol: address mismatch")
	// ErrInvalidAddress means an address that cannot be parsed or is out of range.
	ErrInvalidAddress = errors.New("protocol: invalid address")
	// ErrInvalidValue means a field value outside the range its format allows.
	ErrInvalidValue = errors.New("protocol: invalid value")
	// ErrBadProtocolID means a Q/GDW 376.1 L field whose protocol bits are not 10.
	ErrBadProtocolID = errors.New("protocol: bad protocol identifier")
)

// Error is a codec error: a sentinel kind with the offending value and where it sits.
type Error struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Offset is the byte offset of the offending field in the frame, or -1.
	Offset int
	// Got is the offending value as read from the input.
	Got int64
	// Want is the value the codec expected, when HasWant is set.
	Want    int64
	HasWant bool
	// Detail names the field and gives context, such as "L field" or "DI 04000503".
	Detail string
}

// Errorf returns an *Error of kind with Got set to got and no expected value.
func Errorf(kind error, offset int, got int64, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: offset, Got: got, Detail: fmt.Sprintf(format, args...)}
}

// Mismatch returns an *Error of kind for a field that held got where want was expected.
func Mismatch(kind error, offset int, got, want int64, detail string) *Error {
	return &Error{Kind: kind, Offset: offset, Got: got, Want: want, HasWant: true, Detail: detail}
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.HasWant {
		msg += fmt.Sprintf(" (got 0x%X, want 0x%X)", e.Got, e.Want)
	} else {
		msg += fmt.Sprintf(" (value 0x%X)", e.Got)
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at offset %d", e.Offset)
	}
	return msg
}

// Unwrap returns the sentinel kind so that errors.Is matches it.
func (e *Error) Unwrap() error { return e.Kind }

// codes maps each sentinel to the stable snake-case code used in JSON output.
var codes = []struct {
	err  error
	code string
}{
	{ErrShortFrame, "short_frame"},
	{ErrBadStart, "bad_start"},
	{ErrBadChecksum, "bad_checksum"},
	{ErrBadEnd, "bad_end"},
	{ErrBadLength, "bad_length"},
	{ErrFrameTooLarge, "frame_too_large"},
	{ErrUnknownFunction, "unknown_function"},
	{ErrUnknownIdentifier, "unknown_identifier"},
	{ErrInvalidBCD, "invalid_bcd"},
	{ErrIdentifierMismatch, "identifier_mismatch"},
	{ErrAddressMismatch, "address_mismatch"},
	{ErrInvalidAddress, "invalid_address"},
	{ErrInvalidValue, "invalid_value"},
	{ErrBadProtocolID, "bad_protocol_id"},
}

// Code returns the stable snake-case code of err's codec kind, or "" when err wraps none of
// the sentinels of this package.
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}
