// Package meter is the physical model of a simulated DL/T 645 meter and its frame
// responder: energy registers that grow with a load profile and are computed from time on
// demand, voltage, current, power, frequency, a clock with skew, status words 1–7, the
// prepaid balance, trip and close records, the last daily freeze, and the relay state
// machine of a 2007 meter with passwords, deadlines, guarantee (保电) and the encrypted
// (PA=98) path checked through the encryption test double.
//
// It must not open sockets, ports or goroutines, and must not sleep: a Meter computes its
// state from the time its caller passes, and Handle returns the reply delay for the caller
// to wait. One Meter is a few hundred bytes, so a process can hold hundreds of thousands.
//
// Concurrency: every exported method of *Meter is safe for concurrent use; each locks the
// meter's own mutex for the duration of the call.
package meter
