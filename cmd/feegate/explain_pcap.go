package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/protocol/capture"
)

// pcapMaxBuffered bounds the unframed bytes held per direction: a Q/GDW 376.1 frame is at
// most 16383 + 8 bytes, so a longer run without a frame is noise.
const pcapMaxBuffered = 1 << 16

// explainPcap decodes every frame of every TCP stream in a pcap or pcapng file. It reports
// whether any frame failed to decode. Bytes between frames and bytes missing from the
// capture count as failures too. The error is for an unreadable file or an output failure.
func explainPcap(out io.Writer, path string, opt explainOptions, asJSON bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	failed, err := explainCapture(out, f, opt, asJSON)
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return failed, err
}

// explainCapture is explainPcap for a capture already opened.
func explainCapture(out io.Writer, rs io.ReadSeeker, opt explainOptions, asJSON bool) (bool,
	error) {
	r, err := capture.NewReader(rs)
	if err != nil {
		return false, err
	}

	x := &pcapExplainer{out: out, opt: opt, asJSON: asJSON,
		framers: map[capture.Flow]*protocol.Framer{}}
	sum, err := capture.Walk(r, x.chunk)
	if err != nil {
		var ferr *capture.FormatError
		if errors.As(err, &ferr) {
			// A capture cut short (a crashed tcpdump) still yields the frames before the
			// damage, so the damage is one more failure line, not an abort.
			x.failed = true
			perr := x.printIssue(capture.Chunk{}, "", "corrupt_capture", err.Error())
			if perr != nil {
				return true, perr
			}
		} else {
			return x.failed, err
		}
	}
	if sum.Malformed > 0 {
		x.failed = true
		msg := fmt.Sprintf("%d packets cut short inside their IP or TCP header", sum.Malformed)
		if err := x.printIssue(capture.Chunk{}, "", "malformed_packet", msg); err != nil {
			return true, err
		}
	}
	if sum.UnsupportedLink > 0 {
		msg := fmt.Sprintf("%d packets of an unsupported link type were skipped",
			sum.UnsupportedLink)
		if err := x.printIssue(capture.Chunk{}, "", "unsupported_link", msg); err != nil {
			return true, err
		}
		x.failed = true
	}
	return x.failed, nil
}

// pcapExplainer frames each direction of each connection and prints what it finds.
type pcapExplainer struct {
	out     io.Writer
	opt     explainOptions
	asJSON  bool
	framers map[capture.Flow]*protocol.Framer
	failed  bool
}

func (x *pcapExplainer) chunk(c capture.Chunk) error {
	fr := x.framers[c.Flow]
	if fr == nil {
		fr = protocol.NewFramer(captureFrameSpec(), pcapMaxBuffered)
		x.framers[c.Flow] = fr
	}
	switch c.Kind {
	case capture.KindData:
		fr.Write(c.Data)
		return x.drain(fr, c, false)
	case capture.KindGap:
		// The bytes before the gap can no longer complete a frame.
		if err := x.drain(fr, c, true); err != nil {
			return err
		}
		fr.Reset()
		x.failed = true
		msg := fmt.Sprintf("%d bytes of the stream are missing from the capture", c.Gap)
		return x.printIssue(c, "", "capture_gap", msg)
	case capture.KindEnd:
		err := x.drain(fr, c, true)
		delete(x.framers, c.Flow)
		return err
	}
	return nil
}

// drain prints every whole frame in fr and the bytes skipped before each one.
func (x *pcapExplainer) drain(fr *protocol.Framer, c capture.Chunk, atEOF bool) error {
	for {
		res := fr.Next(atEOF)
		if res.Noise > 0 {
			x.failed = true
			msg := fmt.Sprintf("%d bytes between frames are not a frame", res.Noise)
			if res.Err != nil {
				msg += ": " + res.Err.Error()
			}
			input := hex.EncodeToString(res.Skipped)
			if err := x.printIssue(c, input, "not_a_frame", msg); err != nil {
				return err
			}
		}
		if res.Frame == nil {
			return nil
		}
		failed, err := explainBytes(x.out, res.Frame, x.opt, x.asJSON, chunkFields(c))
		if err != nil {
			return err
		}
		x.failed = x.failed || failed
	}
}

// chunkFields returns the time and addresses that lead each line of a capture.
func chunkFields(c capture.Chunk) []field {
	if !c.Flow.Src.IsValid() {
		return nil
	}
	fields := []field{}
	if !c.Time.IsZero() {
		fields = append(fields, field{"time", c.Time.UTC().Format(time.RFC3339Nano)})
	}
	return append(fields, field{"src", c.Flow.Src.String()}, field{"dst", c.Flow.Dst.String()})
}

// printIssue prints a failure that is not a frame: {"input", "error": {"code", "message"}}
// with the capture fields first, as printExplainError does for frames.
func (x *pcapExplainer) printIssue(c capture.Chunk, input, code, msg string) error {
	extra := chunkFields(c)
	if x.asJSON {
		obj := map[string]any{"error": map[string]string{"code": code, "message": msg}}
		if input != "" {
			obj["input"] = strings.ToUpper(input)
		}
		return writeJSONLine(x.out, extra, obj)
	}
	for _, f := range extra {
		if _, err := fmt.Fprintf(x.out, "%s: %v\n", f.name, f.value); err != nil {
			return err
		}
	}
	if input != "" {
		if _, err := fmt.Fprintln(x.out, strings.ToUpper(input)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(x.out, "  error (%s): %s\n\n", code, msg)
	return err
}
