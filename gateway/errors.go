package gateway

import (
	"errors"
	"fmt"
)

// Sentinel errors of the engine, usable with errors.Is.
var (
	// ErrInvalid marks a request that fails validation (HTTP 400).
	ErrInvalid = errors.New("gateway: invalid request")
	// ErrUnprocessable marks a valid request that the target cannot carry out (HTTP 422).
	ErrUnprocessable = errors.New("gateway: request cannot be carried out")
	// ErrConflict marks an idempotency key reused with a different body (HTTP 409).
	ErrConflict = errors.New("gateway: idempotency key reused with a different request")
	// ErrNotFound marks an unknown command, batch, meter or terminal (HTTP 404).
	ErrNotFound = errors.New("gateway: not found")
	// ErrNotCancellable marks a cancel of a command that has already been sent (HTTP 409).
	ErrNotCancellable = errors.New("gateway: command can no longer be cancelled")
	// ErrClosed marks a call on an engine that is shutting down (HTTP 503).
	ErrClosed = errors.New("gateway: engine is closed")
)

// RequestError is a rejected request: Kind is one of the sentinels above, Code the stable
// error code, Field the offending request field (JSON path), Value the offending value.
type RequestError struct {
	Kind    error
	Code    string
	Field   string
	Value   string
	Message string
}

func (e *RequestError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%q)", e.Field, e.Message, e.Value)
	}
	return e.Message
}

// Unwrap returns the sentinel kind.
func (e *RequestError) Unwrap() error { return e.Kind }

func invalid(field, value, format string, args ...any) *RequestError {
	return &RequestError{Kind: ErrInvalid, Code: "invalid_request", Field: field, Value: value,
		Message: fmt.Sprintf(format, args...)}
}

func unprocessable(code, field, value, format string, args ...any) *RequestError {
	return &RequestError{Kind: ErrUnprocessable, Code: code, Field: field, Value: value,
		Message: fmt.Sprintf(format, args...)}
}

// Failure is a device-side failure returned by a Driver: Code is one of the reason codes
// (meter_timeout, meter_password_rejected, ...), Evidence the raw material behind it.
// Retryable is false for failures that must never be repeated blindly, such as a rejected
// password or a MAC failure.
type Failure struct {
	Code      string
	Message   string
	Evidence  *Evidence
	Retryable bool
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// Is matches another *Failure with the same code, so errors.Is(err, &Failure{Code: c}) works.
func (f *Failure) Is(target error) bool {
	t, ok := target.(*Failure)
	return ok && t.Code == f.Code
}

// Fail builds a Failure; timeouts and channel errors are retryable, everything else is not.
func Fail(code string, ev *Evidence, format string, args ...any) *Failure {
	retry := code == ReasonMeterTimeout || code == ReasonTerminalTimeout ||
		code == ReasonChannelError
	return &Failure{Code: code, Message: fmt.Sprintf(format, args...), Evidence: ev,
		Retryable: retry}
}
