package capturetest

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Writer writes Ethernet packets carrying TCP segments to a pcapng file. It is not safe for
// concurrent use.
type Writer struct {
	ng *pcapgo.NgWriter
}

// NewWriter starts a pcapng file on w with one Ethernet interface.
func NewWriter(w io.Writer) (*Writer, error) {
	ng, err := pcapgo.NewNgWriter(w, layers.LinkTypeEthernet)
	if err != nil {
		return nil, err
	}
	return &Writer{ng: ng}, nil
}

// Flush writes buffered packets to the underlying writer.
func (w *Writer) Flush() error { return w.ng.Flush() }

// Flags are the TCP flags of one segment.
type Flags struct {
	SYN, ACK, FIN, RST, PSH bool
}

// Segment writes one TCP segment captured at t.
func (w *Writer) Segment(t time.Time, src, dst netip.AddrPort, seq, ack uint32, fl Flags,
	payload []byte) error {
	eth := &layers.Ethernet{
		SrcMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		DstMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, SYN: fl.SYN, ACK: fl.ACK, FIN: fl.FIN, RST: fl.RST, PSH: fl.PSH,
		Window: 65535,
	}
	var net gopacket.NetworkLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		net = ip
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		net = ip
	}
	if err := tcp.SetNetworkLayerForChecksum(net); err != nil {
		return err
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	err := gopacket.SerializeLayers(buf, opts, eth, net.(gopacket.SerializableLayer), tcp,
		gopacket.Payload(payload))
	if err != nil {
		return fmt.Errorf("serialize segment: %w", err)
	}
	data := buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(data)}
	return w.ng.WritePacket(ci, data)
}

// Conn writes both directions of one TCP connection and tracks their sequence numbers.
type Conn struct {
	W      *Writer
	Client netip.AddrPort
	Server netip.AddrPort
	// Seq holds the next sequence number of each side: [0] client, [1] server.
	Seq [2]uint32
}

// NewConn returns a connection whose sides start at the initial sequence numbers given.
func NewConn(w *Writer, client, server netip.AddrPort, clientISN, serverISN uint32) *Conn {
	return &Conn{W: w, Client: client, Server: server, Seq: [2]uint32{clientISN, serverISN}}
}

func (c *Conn) ends(fromClient bool) (src, dst netip.AddrPort, me, peer int) {
	if fromClient {
		return c.Client, c.Server, 0, 1
	}
	return c.Server, c.Client, 1, 0
}

// Handshake writes SYN, SYN-ACK and ACK.
func (c *Conn) Handshake(t time.Time) error {
	if err := c.W.Segment(t, c.Client, c.Server, c.Seq[0], 0, Flags{SYN: true}, nil); err != nil {
		return err
	}
	c.Seq[0]++
	err := c.W.Segment(t, c.Server, c.Client, c.Seq[1], c.Seq[0], Flags{SYN: true, ACK: true}, nil)
	if err != nil {
		return err
	}
	c.Seq[1]++
	return c.W.Segment(t, c.Client, c.Server, c.Seq[0], c.Seq[1], Flags{ACK: true}, nil)
}

// Send writes data from one side as one segment and advances that side's sequence number.
// It returns the sequence number the segment used, for a later Resend.
func (c *Conn) Send(t time.Time, fromClient bool, data []byte) (uint32, error) {
	src, dst, me, peer := c.ends(fromClient)
	seq := c.Seq[me]
	err := c.W.Segment(t, src, dst, seq, c.Seq[peer], Flags{ACK: true, PSH: true}, data)
	c.Seq[me] += uint32(len(data))
	return seq, err
}

// SendAt writes data from one side at sequence number seq without advancing the side's
// sequence number: a retransmission or an out-of-order segment.
func (c *Conn) SendAt(t time.Time, fromClient bool, seq uint32, data []byte) error {
	src, dst, _, peer := c.ends(fromClient)
	return c.W.Segment(t, src, dst, seq, c.Seq[peer], Flags{ACK: true, PSH: true}, data)
}

// Skip advances one side's sequence number by n without writing, as if the capture lost a
// segment of n bytes.
func (c *Conn) Skip(fromClient bool, n int) {
	_, _, me, _ := c.ends(fromClient)
	c.Seq[me] += uint32(n)
}

// Close writes a FIN from each side.
func (c *Conn) Close(t time.Time) error {
	for _, fromClient := range []bool{true, false} {
		src, dst, me, peer := c.ends(fromClient)
		err := c.W.Segment(t, src, dst, c.Seq[me], c.Seq[peer], Flags{FIN: true, ACK: true}, nil)
		if err != nil {
			return err
		}
		c.Seq[me]++
	}
	return nil
}
