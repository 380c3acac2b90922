package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/protocol/capture"
	"github.com/spf13/cobra"
)

func init() { fieldCommands = append(fieldCommands, newReplayCommand) }

// replayOptions are the flags of feegate replay.
type replayOptions struct {
	gateway      string
	timing       bool
	replyTimeout time.Duration
	dialTimeout  time.Duration
	linger       time.Duration
	asJSON       bool
	explain      explainOptions
}

func newReplayCommand() *cobra.Command {
	var (
		opt  replayOptions
		pcap string
	)
	cmd := &cobra.Command{
		Use:   "replay --pcap FILE --gateway HOST:PORT",
		Short: "Replay the terminal side of a capture against a gateway",
		Long: `Replay the terminal side of each TCP connection in a capture against a gateway.

For each connection the command connects to the gateway as the terminal did and sends the
terminal's Q/GDW 376.1 uplink frames (DIR=1) in capture order. After each frame it waits for as
many frames from the gateway as the captured master station sent before the terminal's next
frame, then prints the gateway's replies decoded next to the captured ones. Connections are
replayed one after another. The exit status is 1 when a reply is missing or does not decode.`,
		Example: `  feegate replay --pcap terminal.pcapng --gateway 127.0.0.1:9027
  feegate replay --pcap terminal.pcapng --gateway 127.0.0.1:9027 --timing --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pcap == "" || opt.gateway == "" {
				return errors.New("missing --pcap FILE or --gateway HOST:PORT")
			}
			sessions, err := collectReplaySessions(pcap)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			failed, err := runReplay(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), sessions, opt)
			if err != nil {
				return err
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pcap, "pcap", "", "capture `FILE` (pcap or pcapng) to replay")
	f.StringVar(&opt.gateway, "gateway", "", "terminal port of the gateway, `HOST:PORT`")
	f.BoolVar(&opt.timing, "timing", false,
		"keep the captured time between uplink frames (default: send as soon as the "+
			"replies arrive)")
	f.DurationVar(&opt.replyTimeout, "reply-timeout", 5*time.Second,
		"time to wait for each expected gateway reply")
	f.DurationVar(&opt.linger, "linger", 500*time.Millisecond,
		"time to keep reading gateway frames after the last uplink frame of a connection")
	f.DurationVar(&opt.dialTimeout, "dial-timeout", 5*time.Second,
		"time to wait for the TCP connect")
	f.BoolVar(&opt.asJSON, "json", false, "print one JSON object per frame, one per line")
	f.BoolVar(&opt.explain.showSecrets, "show-secrets", false,
		"print passwords instead of masking them")
	return cmd
}

// replaySession is one TCP connection of a capture with the terminal's frames to send.
type replaySession struct {
	conn     int
	terminal string
	master   string
	steps    []replayStep
}

// replayStep is one uplink frame and the frames the captured master sent after it, before
// the terminal's next frame.
type replayStep struct {
	time     time.Time
	frame    []byte
	captured [][]byte
}

// collectReplaySessions reads the capture at path and returns, per TCP connection with at
// least one Q/GDW 376.1 uplink frame, the uplink frames and the captured master replies.
func collectReplaySessions(path string) ([]*replaySession, error) {
	r, f, err := capture.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	byConn := map[int]*replaySession{}
	var order []*replaySession
	framers := map[capture.Flow]*protocol.Framer{}
	handle := func(c capture.Chunk, frame []byte) {
		if !looksLikeGW376(frame) {
			return
		}
		s := byConn[c.Conn]
		up := frame[6]&0x80 != 0
		if s == nil {
			if !up {
				return // a downlink before any uplink has no step to attach to
			}
			s = &replaySession{conn: c.Conn, terminal: c.Flow.Src.String(),
				master: c.Flow.Dst.String()}
			byConn[c.Conn] = s
			order = append(order, s)
		}
		frame = append([]byte(nil), frame...)
		if up && c.Flow.Src.String() == s.terminal {
			s.steps = append(s.steps, replayStep{time: c.Time, frame: frame})
			return
		}
		if !up && c.Flow.Src.String() == s.master && len(s.steps) > 0 {
			last := &s.steps[len(s.steps)-1]
			last.captured = append(last.captured, frame)
		}
	}
	_, err = capture.Walk(r, func(c capture.Chunk) error {
		fr := framers[c.Flow]
		if fr == nil {
			fr = protocol.NewFramer(gw376.Spec, pcapMaxBuffered)
			framers[c.Flow] = fr
		}
		switch c.Kind {
		case capture.KindData:
			fr.Write(c.Data)
		case capture.KindGap:
			fr.Reset()
			return nil
		}
		for {
			res := fr.Next(c.Kind == capture.KindEnd)
			if res.Frame == nil {
				break
			}
			handle(c, res.Frame)
		}
		if c.Kind == capture.KindEnd {
			delete(framers, c.Flow)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: no Q/GDW 376.1 uplink frames (DIR=1) to replay", path)
	}
	return order, nil
}

// runReplay replays every session in order and reports whether any reply was missing or
// failed to decode.
// A summary line per connection goes to summary.
func runReplay(ctx context.Context, out, summary io.Writer, sessions []*replaySession,
	opt replayOptions) (bool, error) {
	failed := false
	for _, s := range sessions {
		var tally replayTally
		f, err := replaySessionTo(ctx, out, s, opt, &tally)
		if err != nil {
			return failed, err
		}
		failed = failed || f
		fmt.Fprintf(summary, "connection %d from %s: %d of %d frames sent, %d of %d replies, "+
			"%d other gateway frames\n", s.conn, s.terminal, tally.sent, len(s.steps),
			tally.replies, tally.expected, tally.unasked)
	}
	return failed, nil
}

// replayTally counts what happened to one replayed connection.
type replayTally struct {
	sent     int
	expected int
	replies  int
	unasked  int
}

// gatewayReader reads frames from the gateway connection on its own goroutine and hands
// them over a channel, which it closes when the connection ends.
func gatewayReader(conn net.Conn) <-chan []byte {
	frames := make(chan []byte, 16)
	go func() {
		defer close(frames)
		fr := protocol.NewFramer(gw376.Spec, pcapMaxBuffered)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			fr.Write(buf[:n])
			for {
				res := fr.Next(err != nil)
				if res.Frame == nil {
					break
				}
				frames <- append([]byte(nil), res.Frame...)
			}
			if err != nil {
				return
			}
		}
	}()
	return frames
}

func replaySessionTo(ctx context.Context, out io.Writer, s *replaySession,
	opt replayOptions, tally *replayTally) (bool, error) {
	dialer := net.Dialer{Timeout: opt.dialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", opt.gateway)
	if err != nil {
		return false, fmt.Errorf("connect to gateway %s failed: %w (check --gateway and that "+
			"feegate serve is listening for terminals)", opt.gateway, err)
	}
	frames := gatewayReader(conn)
	defer func() {
		conn.Close()
		for range frames {
		}
	}()

	p := replayPrinter{out: out, opt: opt, session: s, tally: tally}
	failed := false
	closed := false
	for i, step := range s.steps {
		if opt.timing && i > 0 {
			wait := step.time.Sub(s.steps[i-1].time)
			if err := sleepContext(ctx, wait); err != nil {
				return failed, err
			}
		}
		if closed {
			// The gateway ended the session: the rest of this connection cannot be replayed,
			// but the next connection of the capture can.
			reason := fmt.Sprintf("the gateway closed the connection before frame %d of %d",
				i+1, len(s.steps))
			return true, p.issue(i, "sent", "connection_closed", reason)
		}
		if _, err := conn.Write(step.frame); err != nil {
			reason := fmt.Sprintf("send frame %d of %d failed: %v", i+1, len(s.steps), err)
			return true, p.issue(i, "sent", "connection_closed", reason)
		}
		if err := p.frame(i, "sent", step.frame); err != nil {
			return failed, err
		}
		for _, c := range step.captured {
			if err := p.frame(i, "captured_reply", c); err != nil {
				return failed, err
			}
		}

		got, err := awaitReplies(ctx, frames, &closed, len(step.captured), opt.replyTimeout,
			func(fr []byte) error {
				f, err := p.explain(i, "gateway_reply", fr)
				failed = failed || f
				return err
			})
		if err != nil {
			return failed, err
		}
		if got < len(step.captured) {
			failed = true
			reason := fmt.Sprintf("the gateway sent %d of %d replies within %v", got,
				len(step.captured), opt.replyTimeout)
			if closed {
				reason = fmt.Sprintf("the gateway closed the connection after %d of %d replies",
					got, len(step.captured))
			}
			if err := p.issue(i, "gateway_reply", "reply_missing", reason); err != nil {
				return failed, err
			}
		}
		// Frames the gateway sent unasked (its own requests) are shown too.
		_, err = awaitReplies(ctx, frames, &closed, -1, 0, func(fr []byte) error {
			f, err := p.explain(i, "gateway_frame", fr)
			failed = failed || f
			return err
		})
		if err != nil {
			return failed, err
		}
	}

	// Replies to the last frame that the captured master never sent show up here.
	last := len(s.steps) - 1
	_, err = awaitReplies(ctx, frames, &closed, math.MaxInt, opt.linger, func(fr []byte) error {
		f, err := p.explain(last, "gateway_frame", fr)
		failed = failed || f
		return err
	})
	return failed, err
}

// awaitReplies passes frames from the gateway to handle until it has passed want of them,
// timeout passes or the connection closes, and returns how many it passed. With want < 0 it
// passes only the frames already received. It sets *closed when the connection has ended.
func awaitReplies(ctx context.Context, frames <-chan []byte, closed *bool, want int,
	timeout time.Duration, handle func([]byte) error) (int, error) {
	var expired <-chan time.Time
	if want >= 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	got := 0
	for !*closed && (want < 0 || got < want) {
		var fr []byte
		var ok bool
		if want < 0 {
			select {
			case fr, ok = <-frames:
			default:
				return got, nil
			}
		} else {
			select {
			case fr, ok = <-frames:
			case <-expired:
				return got, nil
			case <-ctx.Done():
				return got, ctx.Err()
			}
		}
		if !ok {
			*closed = true
			break
		}
		got++
		if err := handle(fr); err != nil {
			return got, err
		}
	}
	return got, nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// replayPrinter prints the frames of one session with the connection, step and role first.
type replayPrinter struct {
	out     io.Writer
	opt     replayOptions
	session *replaySession
	tally   *replayTally
}

func (p replayPrinter) fields(step int, role string) []field {
	// The terminal's captured IP:port goes under "remote" because the decoded frame adds
	// its own "terminal" key, the A1A2 address.
	return []field{{"conn", p.session.conn}, {"step", step + 1}, {"role", role},
		{"remote", p.session.terminal}}
}

// frame prints a frame from the capture; its decode result does not count as a failure.
func (p replayPrinter) frame(step int, role string, raw []byte) error {
	_, err := p.explain(step, role, raw)
	return err
}

func (p replayPrinter) explain(step int, role string, raw []byte) (bool, error) {
	switch role {
	case "sent":
		p.tally.sent++
	case "captured_reply":
		p.tally.expected++
	case "gateway_reply":
		p.tally.replies++
	case "gateway_frame":
		p.tally.unasked++
	}
	return explainBytes(p.out, raw, p.opt.explain, p.opt.asJSON, p.fields(step, role))
}

// issue prints a failure of the replay itself: {"error": {"code", "message"}} with the
// connection, step and role first.
func (p replayPrinter) issue(step int, role, code, reason string) error {
	extra := p.fields(step, role)
	if p.opt.asJSON {
		return writeJSONLine(p.out, extra, map[string]any{
			"error": map[string]string{"code": code, "message": reason},
		})
	}
	for _, f := range extra {
		if _, err := fmt.Fprintf(p.out, "%s: %v\n", f.name, f.value); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(p.out, "  error (%s): %s\n\n", code, reason)
	return err
}
