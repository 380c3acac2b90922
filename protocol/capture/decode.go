package capture

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Link types that gopacket v1.1.19 has no decoder for, or decodes in a way this package
// does not want, from the tcpdump.org LINKTYPE list.
const (
	linkTypeRawOpenBSD = 12
	linkTypeRawAlt     = 14
	linkTypeIPv4       = 228
	linkTypeIPv6       = 229
)

// Segment is one TCP segment taken out of a packet.
type Segment struct {
	// Packet is the index of the packet in the capture, counted from 1.
	Packet int
	Time   time.Time
	Src    netip.AddrPort
	Dst    netip.AddrPort
	Seq    uint32
	SYN    bool
	ACK    bool
	FIN    bool
	RST    bool
	// Payload aliases the packet's data.
	Payload []byte
}

// Flow returns the direction of the segment.
func (s Segment) Flow() Flow { return Flow{Src: s.Src, Dst: s.Dst} }

// UnsupportedLinkError is a packet whose link type the decoder does not know.
type UnsupportedLinkError struct{ LinkType layers.LinkType }

func (e *UnsupportedLinkError) Error() string {
	return fmt.Sprintf("capture: unsupported link type %d (%s)", int(e.LinkType), e.LinkType)
}

// DecodeSegment takes the TCP segment out of p. It returns ok false for a packet that holds
// no TCP segment (ARP, UDP, an IP fragment after the first). The error is for a link type
// it cannot decode or a packet cut short inside its IP or TCP header.
func DecodeSegment(p Packet) (seg Segment, ok bool, err error) {
	first, data, err := firstLayer(p.LinkType, p.Data)
	if err != nil || first == gopacket.LayerTypeZero {
		return Segment{}, false, err
	}
	pkt := gopacket.NewPacket(data, first, gopacket.DecodeOptions{NoCopy: true})
	tcpLayer, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcpLayer == nil {
		if el := pkt.ErrorLayer(); el != nil && hasIP(pkt) {
			return Segment{}, false, &FormatError{Offset: -1, Detail: fmt.Sprintf(
				"packet %d: %v", p.Index, el.Error())}
		}
		return Segment{}, false, nil
	}

	var src, dst netip.Addr
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		if ip.FragOffset != 0 {
			return Segment{}, false, nil
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP.To16())
		dst, _ = netip.AddrFromSlice(ip.DstIP.To16())
	default:
		return Segment{}, false, nil
	}
	// NOTE: fragmented IPv4 datagrams are not reassembled: the first fragment yields a
	// truncated segment and later fragments are ignored. Field captures of 376.1 sessions
	// carry frames well below the MTU.
	seg = Segment{
		Packet:  p.Index,
		Time:    p.Time,
		Src:     netip.AddrPortFrom(src, uint16(tcpLayer.SrcPort)),
		Dst:     netip.AddrPortFrom(dst, uint16(tcpLayer.DstPort)),
		Seq:     tcpLayer.Seq,
		SYN:     tcpLayer.SYN,
		ACK:     tcpLayer.ACK,
		FIN:     tcpLayer.FIN,
		RST:     tcpLayer.RST,
		Payload: tcpLayer.Payload,
	}
	return seg, true, nil
}

func hasIP(pkt gopacket.Packet) bool {
	return pkt.Layer(layers.LayerTypeIPv4) != nil || pkt.Layer(layers.LayerTypeIPv6) != nil
}

// firstLayer picks the decoder for the outermost header of a packet of link type lt. It
// returns LayerTypeZero for a packet that cannot hold IP.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, []byte, error) {
	switch lt {
	// NOTE: Linux cooked v2 (link type 276) is not supported: gopacket v1.1.19 stores link
	// types in a byte, so pcapgo truncates 276 to 20.
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, data, nil
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, data, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, data, nil
	case layers.LinkTypeRaw, linkTypeRawOpenBSD, linkTypeRawAlt, linkTypeIPv4, linkTypeIPv6:
		return ipByVersion(data), data, nil
	}
	return gopacket.LayerTypeZero, nil, &UnsupportedLinkError{LinkType: lt}
}

func ipByVersion(data []byte) gopacket.LayerType {
	if len(data) == 0 {
		return gopacket.LayerTypeZero
	}
	switch data[0] >> 4 {
	case 4:
		return layers.LayerTypeIPv4
	case 6:
		return layers.LayerTypeIPv6
	}
	return gopacket.LayerTypeZero
}
