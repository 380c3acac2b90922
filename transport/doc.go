// Package transport moves bytes between the gateway and the field: the terminal server for
// Q/GDW 376.1 sessions, RS-485 bus owners, TCP links to serial servers and Modbus links, with
// request and reply correlation, timeouts and one outstanding request per terminal and bus.
//
// It must not know data identifiers, fee-control rules or commands: those belong to the
// codecs and to gateway. It builds no frames of its own beyond what the codecs provide
// (gw376 confirmations and requests, dlt645 framing, the goburrow/modbus packagers).
//
// # Terminal server
//
// NewServer and Server.Start run a gnet server. Terminals log in (AFN02 F1), heartbeat (F3)
// and log out (F2); each is confirmed with AFN00 F3 or F1 (ServerConfig.ConfirmStyle), MSA 0
// and Tp echoed. Sessions are keyed by A1A2 and the newest connection wins: the older one
// closes with reason superseded, its pending request fails with ErrSuperseded, and the
// terminal stays online. A sweeper closes connections that never log in (login_timeout)
// and sessions without a valid frame for OfflineFactor heartbeat periods
// (heartbeat_timeout); the period comes from ServerConfig.HeartbeatPeriodOf, else from the
// observed heartbeat intervals, else the default. Limits: the frame size
// (frame_too_large), the outbound bytes per connection (slow_reader), consecutive protocol
// errors (protocol_error), connections per source IP and an allowlist (rejected).
//
// Server.Request and RequestWith send a master request and wait for its reply: one
// outstanding request per terminal, a PSEQ from the terminal's PFC, retries with the same
// PSEQ, multi-frame replies collected by RSEQ, late replies counted and dropped. Failures
// are *TerminalError values of kind ErrTerminalOffline, ErrTimeout, ErrSuperseded,
// ErrDisconnected, ErrDenied, ErrQueueFull or ErrClosed. Server.Subscribe delivers online
// and offline events, active reports (confirmed when CON is set) and, with ReadEvents, the
// AFN0E F1 read that a new important-event count triggers. Server.Terminal and Terminals
// return the diagnostics of the HTTP API's terminal object.
//
// # Buses and links
//
// NewBus starts the owner goroutine of one Port: OpenSerial (go.bug.st/serial, 8E1 by
// default, also a pty slave), NewConnPort (a net.Conn) or NewLink (a TCP serial server,
// reconnecting with backoff). Bus.Do runs one Exchange at a time from a bounded queue:
// the preamble and frame are written, the reply is cut out with the Exchange's FrameSpec,
// with a first-byte and an inter-byte timeout; echoes and replies that Accept rejects are
// skipped and input is drained before every attempt. DLT645Exchange builds the Exchange of
// a DL/T 645 request; NewModbusRTUClient puts a goburrow/modbus RTU client on the same bus.
// NewModbusTCPLink is a Modbus TCP client. Exception replies are *ModbusError values; other
// failures are *BusError values of kind ErrTimeout, ErrNoReply, ErrDisconnected,
// ErrQueueFull or ErrClosed.
//
// # Concurrency
//
// Every exported method of Server, Bus and ModbusTCPLink is safe for concurrent use. The
// server's own callbacks run on gnet event loops and never block on a subscriber or a
// request: events that do not fit a subscriber's buffer are dropped and counted.
//
// # Metrics
//
// NewMetrics registers the feegate_ collectors (terminals online, logins, disconnects by
// reason, frames and frame errors by protocol and kind, late replies, request latency and
// results by kind, bus queue depth) with a prometheus.Registerer. No label names a single
// terminal or meter.
package transport
