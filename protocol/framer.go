package protocol

// FrameSpec describes a byte-stream frame format to Scan and Framer: the start byte a
// candidate must begin with, an optional preamble byte that may precede frames, and the
// length-driven check of one candidate.
type FrameSpec struct {
	// Start is the first byte of every frame (0x68 for both DL/T 645 and Q/GDW 376.1).
	Start byte
	// Preamble, when HasPreamble is set, is a wake-up byte that may precede a frame
	// (0xFE for DL/T 645). Skipped preamble bytes are not counted as noise.
	Preamble    byte
	HasPreamble bool
	// Check inspects a candidate that begins with Start. It returns (n, nil) when
	// candidate[:n] is one whole valid frame, (0, nil) when the candidate is a valid prefix
	// and more bytes are needed, and (0, err) when no frame starts here. Check must read
	// lengths from the header, never search for an end byte, and must not retain candidate.
	Check func(candidate []byte) (int, error)
}

// Scan finds the first frame in buf. It returns skip, the number of leading bytes that belong
// to no frame, and n, the length of the frame at buf[skip:]; n is 0 when no whole frame is
// in buf yet. A candidate that fails its check moves the scan on by one byte, so a stray
// start byte never hides the frame after it. lastErr is the error of the last rejected
// candidate, or nil.
//
// With atEOF set no more bytes will come, so an incomplete candidate is skipped as well.
// Scan allocates nothing itself, but each rejected candidate costs the error spec.Check
// allocates.
//
// NOTE: without atEOF, a candidate that is a valid prefix stops the scan, so a whole frame
// after it waits until the candidate completes or fails. A truncated echo followed by a
// short reply hides the reply. A reader that sees the line go quiet should call Scan (or
// Framer.Next) with atEOF set before it gives up.
func Scan(buf []byte, spec *FrameSpec, atEOF bool) (skip, n int, lastErr error) {
	i := 0
	for i < len(buf) {
		if buf[i] != spec.Start {
			i++
			continue
		}
		size, err := spec.Check(buf[i:])
		switch {
		case err != nil:
			lastErr = err
			i++
		case size > len(buf)-i:
			// A Check that claims bytes it was not given is broken. Slicing the frame
			// would panic the reader's goroutine, so the candidate is rejected instead.
			lastErr = Errorf(ErrBadLength, i, int64(size),
				"frame check returned %d bytes for a %d-byte candidate", size, len(buf)-i)
			i++
		case size > 0:
			return i, size, lastErr
		case atEOF:
			lastErr = Errorf(ErrShortFrame, i, int64(len(buf)-i), "stream ended inside a frame")
			i++
		default:
			return i, 0, lastErr
		}
	}
	return i, 0, lastErr
}

// Framer cuts frames out of a byte stream, such as reads from a serial port or a TCP
// connection. It is not safe for concurrent use: one goroutine owns a Framer.
type Framer struct {
	spec FrameSpec
	buf  []byte
	r    int
	max  int
	// Accept, when set, filters frames: a frame it rejects is reported as skipped. The
	// DL/T 645 bus owner uses it to drop echoed requests when it expects replies.
	Accept func(frame []byte) bool
}

// Result is one step of a Framer: a frame, the bytes skipped before it, or both.
type Result struct {
	// Frame is the next whole frame, or nil. It stays valid until the next Write or Reset.
	Frame []byte
	// Skipped holds the bytes dropped before Frame, including preamble bytes. It stays valid
	// until the next Write or Reset.
	Skipped []byte
	// Noise counts the bytes of Skipped that are not preamble bytes: line noise, broken
	// frames and frames that Accept rejected.
	Noise int
	// Err is the reason the last rejected candidate was not a frame, or nil.
	Err error
}

// NewFramer returns a Framer for spec that holds at most maxBuffered unconsumed bytes; older
// bytes are dropped as noise when a peer sends more without ever completing a frame.
// Next enforces the limit and Write does not, so a caller calls Next after every Write.
// A maxBuffered of 0 sets no limit.
func NewFramer(spec FrameSpec, maxBuffered int) *Framer {
	return &Framer{spec: spec, max: maxBuffered}
}

// Write appends p to the stream.
func (f *Framer) Write(p []byte) {
	if f.r > 0 && (f.r == len(f.buf) || f.r > cap(f.buf)/2) {
		n := copy(f.buf, f.buf[f.r:])
		f.buf = f.buf[:n]
		f.r = 0
	}
	f.buf = append(f.buf, p...)
}

// Buffered returns the number of bytes written and not yet consumed.
func (f *Framer) Buffered() int { return len(f.buf) - f.r }

// Reset drops every buffered byte, as a bus owner does before it retries a request.
func (f *Framer) Reset() {
	f.buf = f.buf[:0]
	f.r = 0
}

// Next returns the next frame in the stream and what was skipped before it. When no whole
// frame is buffered, Result.Frame is nil and Skipped reports the bytes that can no longer
// start a frame. With atEOF set, an incomplete frame at the end is skipped too.
func (f *Framer) Next(atEOF bool) Result {
	var res Result
	start := f.r
	for {
		data := f.buf[f.r:]
		if f.max > 0 && len(data) > f.max {
			drop := len(data) - f.max
			f.r += drop
			data = f.buf[f.r:]
			res.Err = Errorf(ErrFrameTooLarge, -1, int64(drop), "buffered bytes exceed %d without a frame", f.max)
		}
		skip, n, err := Scan(data, &f.spec, atEOF)
		if err != nil {
			res.Err = err
		}
		f.r += skip
		if n == 0 {
			res.Skipped = f.buf[start:f.r]
			res.Noise = f.noise(res.Skipped)
			return res
		}
		frame := f.buf[f.r : f.r+n]
		if f.Accept != nil && !f.Accept(frame) {
			f.r += n
			continue
		}
		res.Skipped = f.buf[start:f.r]
		res.Noise = f.noise(res.Skipped)
		res.Frame = frame
		f.r += n
		return res
	}
}

func (f *Framer) noise(skipped []byte) int {
	if !f.spec.HasPreamble {
		return len(skipped)
	}
	n := 0
	for _, c := range skipped {
		if c != f.spec.Preamble {
			n++
		}
	}
	return n
}
