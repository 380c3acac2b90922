// Package terminal simulates Q/GDW 376.1 terminals (concentrators and dedicated-transformer
// terminals): each connects to the gateway over TCP, logs in, heartbeats, reconnects with
// backoff and jitter, answers AFN 01, 04, 05, 09, 0A, 0C, 0D, 0E and 10 requests, forwards
// DL/T 645 frames to the simulated meters behind it over a channel with configured latency,
// reports events (ERC5, ERC14) actively, and misbehaves on demand (offline, silent, carrier
// loss, half-open socket, heartbeat stop, duplicate login, flapping, corrupt frames).
//
// It must not import transport or gateway: it is part of the simulator's independent oracle
// and has its own networking. Every connection goes to the address its caller configures;
// the simulator only ever configures loopback addresses.
//
// Concurrency: a Terminal runs one goroutine (Run) that owns its connection; the control
// methods (SetPower, SetFault, State, Stats) are safe from any goroutine.
package terminal
