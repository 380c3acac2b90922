package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Format is the file format of a capture.
type Format int

const (
	// FormatPcap is the classic libpcap format.
	FormatPcap Format = iota + 1
	// FormatPcapNG is the pcap next-generation block format.
	FormatPcapNG
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// MaxPacketSize is the largest captured packet the reader accepts (tcpdump's largest
// snapshot length). A larger capture length is treated as a corrupt file.
const MaxPacketSize = 262144

// ErrCorrupt means the file is not a capture or a record inside it is inconsistent.
var ErrCorrupt = errors.New("capture: corrupt file")

// FormatError is a corrupt capture: what is wrong and at which byte offset of the file.
type FormatError struct {
	Offset int64
	Detail string
}

func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("capture: corrupt file: %s", e.Detail)
	}
	return fmt.Sprintf("capture: corrupt file at offset %d: %s", e.Offset, e.Detail)
}

// Unwrap returns ErrCorrupt so that errors.Is(err, ErrCorrupt) matches.
func (e *FormatError) Unwrap() error { return ErrCorrupt }

// Packet is one captured packet with the link type of the interface it was captured on.
type Packet struct {
	// Index counts packets from 1 in file order, as Wireshark numbers them.
	Index    int
	Time     time.Time
	LinkType layers.LinkType
	Data     []byte
}

// packetSource is the packet-reading method shared by the pcap and pcapng readers.
type packetSource interface {
	next() (Packet, error)
}

// Reader reads the packets of one capture file in file order. It is not safe for concurrent
// use: one goroutine owns a Reader.
type Reader struct {
	format Format
	src    packetSource
	count  int
	err    error
	// truncatedAt is the offset of the block a pcapng file is cut inside, or -1.
	truncatedAt int64
}

const (
	pcapMagicMicros   = 0xA1B2C3D4
	pcapMagicNanos    = 0xA1B23C4D
	pcapngSectionType = 0x0A0D0D0A
	pcapngByteOrder   = 0x1A2B3C4D
)

// Open opens the capture file at path. The caller closes the returned file when done with
// the Reader.
func Open(path string) (*Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, f, nil
}

// NewReader detects the format of the capture in rs by its magic number and returns a
// Reader for it. A pcapng file is checked block by block first, so that a corrupt length
// fails here instead of making the reader allocate it.
func NewReader(rs io.ReadSeeker) (*Reader, error) {
	var magic [4]byte
	if _, err := io.ReadFull(rs, magic[:]); err != nil {
		return nil, &FormatError{Offset: 0, Detail: "file shorter than a capture header"}
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	le := binary.LittleEndian.Uint32(magic[:])
	be := binary.BigEndian.Uint32(magic[:])
	switch {
	case le == pcapMagicMicros || le == pcapMagicNanos || be == pcapMagicMicros ||
		be == pcapMagicNanos:
		return newPcapReader(rs)
	case le == pcapngSectionType:
		truncatedAt, err := checkPcapNG(bufio.NewReader(rs))
		if err != nil {
			return nil, err
		}
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		r, err := newPcapNGReader(rs)
		if err != nil {
			return nil, err
		}
		r.truncatedAt = truncatedAt
		return r, nil
	}
	return nil, &FormatError{Offset: 0, Detail: fmt.Sprintf(
		"magic number %02X %02X %02X %02X is neither pcap nor pcapng",
		magic[0], magic[1], magic[2], magic[3])}
}

// Format returns the file format of the capture.
func (r *Reader) Format() Format { return r.format }

// Next returns the next packet, or io.EOF after the last one. After an error other than
// io.EOF every later call returns the same error.
func (r *Reader) Next() (p Packet, err error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	defer func() {
		// NOTE: pcapgo v1.1.19 indexes option values without checking their length, so a
		// corrupt pcapng option can panic inside it; the panic becomes a FormatError here.
		if v := recover(); v != nil {
			err = &FormatError{Offset: -1, Detail: fmt.Sprintf(
				"pcapgo failed on packet %d: %v", r.count+1, v)}
		}
		if err != nil {
			r.err = err
		}
	}()
	p, err = r.src.next()
	if err != nil {
		// pcapgo skips unknown blocks with Discard, which reports a cut inside one as a
		// plain end of file; the block walk of NewReader recorded where the cut is.
		if err == io.EOF && r.truncatedAt >= 0 {
			err = &FormatError{Offset: r.truncatedAt, Detail: fmt.Sprintf(
				"file ends inside the block after packet %d", r.count)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = &FormatError{Offset: -1, Detail: fmt.Sprintf(
				"file ends inside packet %d", r.count+1)}
		}
		return Packet{}, err
	}
	r.count++
	p.Index = r.count
	return p, nil
}

type pcapSource struct{ r *pcapgo.Reader }

func newPcapReader(rs io.Reader) (*Reader, error) {
	pr, err := pcapgo.NewReader(rs)
	if err != nil {
		return nil, &FormatError{Offset: 0, Detail: err.Error()}
	}
	// Some writers store packets longer than the snapshot length they declare, and tcpdump
	// reads them anyway, so the limit is raised to MaxPacketSize.
	pr.SetSnaplen(MaxPacketSize)
	return &Reader{format: FormatPcap, src: pcapSource{pr}, truncatedAt: -1}, nil
}

func (s pcapSource) next() (Packet, error) {
	data, ci, err := s.r.ReadPacketData()
	if err != nil {
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, err
		}
		return Packet{}, &FormatError{Offset: -1, Detail: err.Error()}
	}
	return Packet{Time: ci.Timestamp, LinkType: s.r.LinkType(), Data: data}, nil
}

type pcapngSource struct{ r *pcapgo.NgReader }

func newPcapNGReader(rs io.Reader) (*Reader, error) {
	nr, err := pcapgo.NewNgReader(rs, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return nil, &FormatError{Offset: 0, Detail: err.Error()}
	}
	return &Reader{format: FormatPcapNG, src: pcapngSource{nr}, truncatedAt: -1}, nil
}

func (s pcapngSource) next() (Packet, error) {
	data, ci, err := s.r.ReadPacketData()
	if err != nil {
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, err
		}
		return Packet{}, &FormatError{Offset: -1, Detail: err.Error()}
	}
	p := Packet{Time: ci.Timestamp, Data: data}
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			p.LinkType = lt
		}
	}
	return p, nil
}

// pcapng block types whose length checkPcapNG bounds, and the bound: a packet of
// MaxPacketSize bytes with room for options.
const (
	blockObsoletePacket  = 0x00000002
	blockSimplePacket    = 0x00000003
	blockEnhancedPacket  = 0x00000006
	maxPcapNGBlockLength = MaxPacketSize + 1<<16
)

// checkPcapNG walks the block structure of a pcapng file and rejects a block whose total
// length is not a multiple of 4 or cannot hold the packet it announces. A file cut inside a
// block is not rejected, so that the packets before the cut can be read: truncatedAt is
// the offset of that block, or -1.
func checkPcapNG(r *bufio.Reader) (truncatedAt int64, err error) {
	var order binary.ByteOrder = binary.LittleEndian
	var off int64
	var head [28]byte
	for {
		_, err := io.ReadFull(r, head[:8])
		if err == io.EOF {
			return -1, nil
		}
		if err != nil {
			return off, nil
		}
		typ := binary.LittleEndian.Uint32(head[:4])
		if typ == pcapngSectionType {
			if _, err := io.ReadFull(r, head[8:12]); err != nil {
				return off, nil
			}
			switch {
			case binary.LittleEndian.Uint32(head[8:12]) == pcapngByteOrder:
				order = binary.LittleEndian
			case binary.BigEndian.Uint32(head[8:12]) == pcapngByteOrder:
				order = binary.BigEndian
			default:
				return -1, &FormatError{Offset: off + 8, Detail: "invalid byte-order magic"}
			}
		} else {
			typ = order.Uint32(head[:4])
		}
		length := order.Uint32(head[4:8])
		read := uint32(8)
		if typ == pcapngSectionType {
			read = 12
		}
		if length < 12 || length%4 != 0 || length < read {
			return -1, &FormatError{Offset: off + 4, Detail: fmt.Sprintf(
				"invalid block length %d", length)}
		}
		isPacket := typ == blockEnhancedPacket || typ == blockObsoletePacket ||
			typ == blockSimplePacket
		if isPacket && length > maxPcapNGBlockLength {
			return -1, &FormatError{Offset: off + 4, Detail: fmt.Sprintf(
				"packet block length %d exceeds %d", length, maxPcapNGBlockLength)}
		}
		switch typ {
		case blockEnhancedPacket, blockObsoletePacket:
			// Both carry the captured length at bytes 20..23 of the block, after which
			// the packet data and 4 bytes of trailing length follow.
			if length < 32 {
				return -1, &FormatError{Offset: off + 4, Detail: fmt.Sprintf(
					"packet block length %d is shorter than its header", length)}
			}
			if _, err := io.ReadFull(r, head[8:24]); err != nil {
				return off, nil
			}
			read = 24
			capLen := order.Uint32(head[20:24])
			if capLen > length-32 {
				return -1, &FormatError{Offset: off + 20, Detail: fmt.Sprintf(
					"captured length %d exceeds its block of %d bytes", capLen, length)}
			}
		case blockSimplePacket:
			if length < 16 {
				return -1, &FormatError{Offset: off + 4, Detail: fmt.Sprintf(
					"simple packet block length %d is shorter than its header", length)}
			}
			if _, err := io.ReadFull(r, head[8:12]); err != nil {
				return off, nil
			}
			read = 12
			origLen := order.Uint32(head[8:12])
			// NOTE: a simple packet block truncated by the interface snapshot length is
			// rejected, because pcapgo v1.1.19 would read its original length of bytes.
			if origLen > length-16 {
				return -1, &FormatError{Offset: off + 8, Detail: fmt.Sprintf(
					"packet length %d exceeds its simple block of %d bytes", origLen, length)}
			}
		}
		if _, err := r.Discard(int(length - read)); err != nil {
			return off, nil
		}
		off += int64(length)
	}
}
