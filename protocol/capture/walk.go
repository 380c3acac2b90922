package capture

import (
	"errors"
	"io"
)

// Summary counts the packets of a capture that Walk read.
type Summary struct {
	Packets int
	// NotTCP counts packets that carry no TCP segment (ARP, UDP, later IP fragments).
	NotTCP int
	// Malformed counts packets cut short inside an IP or TCP header.
	Malformed int
	// UnsupportedLink counts packets of a link type the decoder does not know.
	UnsupportedLink int
	Assembly        Stats
}

// Walk reads every packet of r, reassembles its TCP streams and calls fn with each chunk in
// the order the capture makes it known, ending with the chunks of Flush. It stops at the
// first error of fn or of the file; Summary holds the counts up to that point.
func Walk(r *Reader, fn func(Chunk) error) (Summary, error) {
	var sum Summary
	asm := NewAssembler()
	emit := func(chunks []Chunk) error {
		for _, c := range chunks {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			sum.Assembly = asm.Stats()
			return sum, err
		}
		sum.Packets++
		seg, ok, err := DecodeSegment(p)
		var unsupported *UnsupportedLinkError
		switch {
		case errors.As(err, &unsupported):
			sum.UnsupportedLink++
			continue
		case err != nil:
			sum.Malformed++
			continue
		case !ok:
			sum.NotTCP++
			continue
		}
		if err := emit(asm.Add(seg)); err != nil {
			sum.Assembly = asm.Stats()
			return sum, err
		}
	}
	err := emit(asm.Flush())
	sum.Assembly = asm.Stats()
	return sum, err
}
