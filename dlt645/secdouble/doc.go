// Package secdouble is a software test double of the SGCC encryption machine (加密机) and
// of a cost-control meter's ESAM, for tests, the demo and the simulator.
//
// It is NOT the SGCC algorithm and gives no security: real meters use SM1/SM4 keys held
// in an ESAM and a hardware encryption machine. The double keeps the protocol shape
// (identity authentication with 0x03 DI 070000FF returning rand2 and an ESAM serial, then
// a PA=98 relay control carrying 16 bytes of ciphertext and a 4-byte MAC) so that the
// gateway and the simulated meters exercise the same frames as the field.
//
// Both sides derive a per-meter key from a shared master secret and the meter's
// dispersion factor (00 00 + meter number) with HMAC-SHA256. Identity authentication proves
// the master has that key, and the relay plaintext is encrypted with AES-128-CTR and
// authenticated with a truncated HMAC-SHA256 MAC, so a single changed bit fails on the
// meter side with ErrMAC.
//
// It uses the Go standard library only, and must not be used outside tests and simulation.
package secdouble
