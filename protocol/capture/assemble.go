package capture

import (
	"net/netip"
	"sort"
	"time"
)

// Flow is one direction of a TCP connection.
type Flow struct {
	Src netip.AddrPort
	Dst netip.AddrPort
}

// Reverse returns the opposite direction.
func (f Flow) Reverse() Flow { return Flow{Src: f.Dst, Dst: f.Src} }

func (f Flow) String() string { return f.Src.String() + " > " + f.Dst.String() }

// Kind is the content type of a Chunk.
type Kind int

const (
	// KindData is contiguous stream bytes.
	KindData Kind = iota + 1
	// KindGap is bytes that the capture does not hold: the stream continues Gap bytes later.
	KindGap
	// KindEnd ends the direction: FIN, RST, a new connection on the same ports, or the end
	// of the capture.
	KindEnd
)

// End reasons of a KindEnd chunk.
const (
	EndFIN        = "fin"
	EndRST        = "rst"
	EndRestart    = "restart"
	EndCaptureEnd = "capture_end"
)

// Chunk is one step of a reassembled direction, in the order the capture made it known.
type Chunk struct {
	Kind Kind
	Flow Flow
	// Conn numbers TCP connections from 1 in the order their first packet appears; both
	// directions of a connection share it.
	Conn int
	// Time is the time of the packet that made the chunk deliverable: for bytes that came
	// out of order, the packet that filled the hole before them.
	Time time.Time
	// Packet is the index of that packet in the capture.
	Packet int
	// Offset is the position of the chunk in the direction's byte stream, counted from the
	// first byte after the SYN, or from the first byte seen when the SYN is not captured.
	Offset int64
	// Data holds the bytes of a KindData chunk. It stays valid until the next call to the
	// Assembler.
	Data []byte
	// Gap is the number of missing bytes of a KindGap chunk.
	Gap int64
	// Reason is one of the End constants for a KindEnd chunk.
	Reason string
}

// Stats counts what the Assembler repaired or could not repair.
type Stats struct {
	Segments        int
	OutOfOrder      int
	Retransmitted   int
	RetransmitBytes int64
	GapBytes        int64
	IgnoredAfterEnd int
}

// DefaultMaxPending is the number of out-of-order bytes held per direction before the
// Assembler gives up waiting for the hole before them and reports it as a gap.
const DefaultMaxPending = 4 << 20

// Assembler reassembles the TCP segments of a capture into ordered byte streams, one per
// direction. It is not safe for concurrent use: one goroutine owns an Assembler.
type Assembler struct {
	// MaxPending bounds the out-of-order bytes held per direction; 0 means
	// DefaultMaxPending.
	MaxPending int

	dirs     map[Flow]*direction
	order    []*direction
	nextConn int
	out      []Chunk
	stats    Stats
}

type pending struct {
	seq    uint32
	data   []byte
	fin    bool
	time   time.Time
	packet int
}

type direction struct {
	flow    Flow
	conn    int
	next    uint32
	offset  int64
	ended   bool
	held    []pending
	heldLen int
	// lastTime and lastPacket are of the last segment seen in this direction.
	lastTime   time.Time
	lastPacket int
}

// NewAssembler returns an empty Assembler.
func NewAssembler() *Assembler {
	return &Assembler{dirs: make(map[Flow]*direction)}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats { return a.stats }

// seqDiff returns a-b in sequence space, so that the wrap at 2^32 orders correctly.
func seqDiff(a, b uint32) int32 { return int32(a - b) }

// Add feeds one segment, in capture order, and returns the chunks it makes deliverable.
// The returned slice and the Data in it stay valid until the next call.
func (a *Assembler) Add(s Segment) []Chunk {
	a.out = a.out[:0]
	a.stats.Segments++
	flow := s.Flow()
	d := a.dirs[flow]
	dataSeq := s.Seq
	if s.SYN {
		dataSeq++
		if d != nil && !(d.offset == 0 && d.next == dataSeq) {
			if !d.ended {
				a.end(d, s.Time, s.Packet, EndRestart)
			}
			// A SYN without ACK opens a new connection on the same ports, which ends
			// the old connection's other direction too.
			if r := a.dirs[flow.Reverse()]; !s.ACK && r != nil && !r.ended {
				a.end(r, s.Time, s.Packet, EndRestart)
			}
			d = nil
		} else if d != nil {
			a.stats.Retransmitted++
		}
	}
	if d == nil {
		d = a.newDirection(flow, dataSeq)
	}
	d.lastTime, d.lastPacket = s.Time, s.Packet
	if d.ended {
		if len(s.Payload) > 0 || s.FIN {
			a.stats.IgnoredAfterEnd++
		}
		return a.out
	}

	a.insert(d, pending{seq: dataSeq, data: s.Payload, fin: s.FIN, time: s.Time,
		packet: s.Packet}, true)
	a.drain(d, s.Time, s.Packet)
	if s.RST && !d.ended {
		a.skipHoles(d)
		if !d.ended {
			a.end(d, s.Time, s.Packet, EndRST)
		}
	}
	if !d.ended && d.heldLen > a.maxPending() {
		a.skipHoles(d)
	}
	return a.out
}

// Flush ends the capture: it delivers every held segment, reporting the holes before them
// as gaps, and ends every open direction, in the order the directions first appeared. The
// end of a direction carries the time of its last segment.
func (a *Assembler) Flush() []Chunk {
	a.out = a.out[:0]
	for _, d := range a.order {
		if d.ended {
			continue
		}
		a.skipHoles(d)
		if !d.ended {
			a.end(d, d.lastTime, d.lastPacket, EndCaptureEnd)
		}
	}
	return a.out
}

func (a *Assembler) maxPending() int {
	if a.MaxPending > 0 {
		return a.MaxPending
	}
	return DefaultMaxPending
}

func (a *Assembler) newDirection(flow Flow, next uint32) *direction {
	d := &direction{flow: flow, next: next}
	if r := a.dirs[flow.Reverse()]; r != nil && !r.ended {
		d.conn = r.conn
	} else {
		a.nextConn++
		d.conn = a.nextConn
	}
	a.dirs[flow] = d
	a.order = append(a.order, d)
	return d
}

// insert queues p on d, trimming the bytes that d has already delivered. copyData is set
// when p.data aliases a packet buffer that the caller may reuse.
func (a *Assembler) insert(d *direction, p pending, copyData bool) {
	if diff := seqDiff(p.seq, d.next); diff < 0 {
		cut := int(-diff)
		if cut >= len(p.data) {
			if len(p.data) > 0 || !p.fin {
				a.stats.Retransmitted++
				a.stats.RetransmitBytes += int64(len(p.data))
			}
			if !p.fin || seqDiff(p.seq+uint32(len(p.data)), d.next) < 0 {
				return
			}
			cut = len(p.data)
		} else {
			a.stats.RetransmitBytes += int64(cut)
		}
		p.data = p.data[cut:]
		p.seq = d.next
	} else if diff > 0 {
		a.stats.OutOfOrder++
	}
	if len(p.data) == 0 && !p.fin {
		return
	}
	if copyData {
		p.data = append([]byte(nil), p.data...)
	}
	i := sort.Search(len(d.held), func(i int) bool { return seqDiff(d.held[i].seq, p.seq) > 0 })
	d.held = append(d.held, pending{})
	copy(d.held[i+1:], d.held[i:])
	d.held[i] = p
	d.heldLen += len(p.data)
}

// drain delivers the held segments that continue the stream without a hole.
func (a *Assembler) drain(d *direction, t time.Time, packet int) {
	for len(d.held) > 0 && !d.ended {
		p := d.held[0]
		diff := seqDiff(p.seq, d.next)
		if diff > 0 {
			return
		}
		d.held = d.held[1:]
		d.heldLen -= len(p.data)
		if cut := int(-diff); cut > 0 {
			if cut > len(p.data) {
				cut = len(p.data)
			}
			a.stats.RetransmitBytes += int64(cut)
			p.data = p.data[cut:]
		}
		if len(p.data) > 0 {
			if t.IsZero() {
				t, packet = p.time, p.packet
			}
			a.out = append(a.out, Chunk{Kind: KindData, Flow: d.flow, Conn: d.conn, Time: t,
				Packet: packet, Offset: d.offset, Data: p.data})
			d.offset += int64(len(p.data))
			d.next += uint32(len(p.data))
		}
		if p.fin {
			a.end(d, t, packet, EndFIN)
		}
	}
}

// skipHoles delivers every held segment of d, reporting each hole before one as a gap.
func (a *Assembler) skipHoles(d *direction) {
	for len(d.held) > 0 && !d.ended {
		p := d.held[0]
		if diff := seqDiff(p.seq, d.next); diff > 0 {
			a.out = append(a.out, Chunk{Kind: KindGap, Flow: d.flow, Conn: d.conn, Time: p.time,
				Packet: p.packet, Offset: d.offset, Gap: int64(diff)})
			a.stats.GapBytes += int64(diff)
			d.offset += int64(diff)
			d.next = p.seq
		}
		a.drain(d, p.time, p.packet)
	}
}

func (a *Assembler) end(d *direction, t time.Time, packet int, reason string) {
	d.ended = true
	d.held = nil
	d.heldLen = 0
	a.out = append(a.out, Chunk{Kind: KindEnd, Flow: d.flow, Conn: d.conn, Time: t,
		Packet: packet, Offset: d.offset, Reason: reason})
}
