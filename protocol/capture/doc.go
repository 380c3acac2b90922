// Package capture reads pcap and pcapng files and reassembles the TCP streams in them, one
// byte stream per direction, for tools that decode what a terminal and a master station sent
// each other (feegate explain --pcap and feegate replay).
//
// It reads files with gopacket's pcapgo and decodes Ethernet, Linux cooked (SLL),
// BSD loopback and raw IP link types, IPv4 and IPv6, and TCP. Reassembly orders segments by
// sequence number, drops retransmitted bytes, and reports missing bytes as gaps instead of
// hiding them.
//
// It handles bytes only: it must not decode a frame, open a socket or depend on libpcap.
package capture
