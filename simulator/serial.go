package simulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/simulator/meter"
	"github.com/feegate/feegate/simulator/terminal"
)

// Bus is a simulated RS-485 bus on a pseudo-terminal pair: the gateway opens the pty's
// device path as a serial port and every meter on the bus sees every frame, answering
// only its own address. A wildcard read that more than one meter answers collides: the
// gateway receives the replies overlaid (OR of the bytes), as drivers fighting on a line
// leave them.
//
// NOTE: a pty carries bytes at memory speed and ignores baud, parity and stop bits; the bus
// waits the reply delay and the reply's byte times at the meter's baud itself, but a
// gateway configured with the wrong baud or parity still reads clean bytes.
type Bus struct {
	name   string
	meters []*simMeter
	delay  terminal.Range
	log    *zap.Logger

	mu   sync.Mutex
	ptmx *os.File
	tty  *os.File // kept open so the master side never reads EIO between gateway opens
	path string
}

// Path returns the device path the gateway opens, such as /dev/pts/3.
func (b *Bus) Path() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.path
}

// Name returns the bus name used in the archive.
func (b *Bus) Name() string { return b.name }

func (b *Bus) open() error {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("simulator: open pty for %s: %w", b.name, err)
	}
	if err := makeRaw(tty); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return fmt.Errorf("simulator: raw mode for %s: %w", b.name, err)
	}
	b.mu.Lock()
	if ptmx, err = pollable(ptmx); err != nil {
		_ = tty.Close()
		return fmt.Errorf("simulator: pty master for %s: %w", b.name, err)
	}
	b.ptmx, b.tty, b.path = ptmx, tty, tty.Name()
	b.mu.Unlock()
	return nil
}

// makeRaw turns off the line discipline (echo, canonical mode, CR/LF mapping), so bytes
// pass unchanged until the gateway's serial library sets its own mode.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
		unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

func (b *Bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ptmx != nil {
		_ = b.ptmx.Close()
		_ = b.tty.Close()
	}
}

// serve reads request frames from the bus until it closes and lets the meters answer.
func (b *Bus) serve(ctx context.Context) {
	framer := dlt645.NewFramer(4096, false)
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		n, err := b.ptmx.Read(buf)
		if n > 0 {
			framer.Write(buf[:n])
			for {
				r := framer.Next(false)
				if r.Frame == nil {
					break
				}
				b.request(ctx, r.Frame)
			}
		}
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, os.ErrClosed) {
				b.log.Warn("bus read failed", zap.String("bus", b.name), zap.Error(err))
				// EIO comes back while no process holds the other side open; wait for one.
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return
		}
	}
}

// request delivers one frame to every meter on the bus and writes the reply, or the
// overlaid replies of a collision, after the reply delay and byte times.
func (b *Bus) request(ctx context.Context, frame []byte) {
	req, err := dlt645.Decode(frame)
	if err != nil || req.Control.IsReply() {
		return
	}
	now := time.Now()
	var replies [][]byte
	var wait time.Duration
	for _, sm := range b.meters {
		r, d := sm.m.Handle(req, now, b.delay.Draw())
		if r == nil {
			continue
		}
		out, err := dlt645.Encode(r)
		if err != nil {
			continue
		}
		replies = append(replies, out)
		wait = max(wait, d+time.Duration(len(out))*meter.ByteTime(sm.m.Baud()))
	}
	if len(replies) == 0 {
		return
	}
	out := replies[0]
	if len(replies) > 1 {
		out = overlay(replies)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case <-timer.C:
	}
	if _, err := b.ptmx.Write(out); err != nil && ctx.Err() == nil {
		b.log.Warn("bus write failed", zap.String("bus", b.name), zap.Error(err))
	}
}

// overlay ORs the replies byte by byte, as several RS-485 drivers sending at once leave
// dominant bits on the line; the result fails the checksum.
func overlay(replies [][]byte) []byte {
	n := 0
	for _, r := range replies {
		n = max(n, len(r))
	}
	out := make([]byte, n)
	for _, r := range replies {
		for i, c := range r {
			out[i] |= c
		}
	}
	return out
}

// pollable returns a copy of the pty master f whose reads go through the runtime poller, so
// that Close unblocks a Read in progress. pty.Open hands the master out in blocking mode,
// and a blocking Read outlives Close for as long as any process holds the other side open.
// f is closed.
func pollable(f *os.File) (*os.File, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	dup := -1
	var dupErr error
	if err := raw.Control(func(fd uintptr) { dup, dupErr = syscall.Dup(int(fd)) }); err != nil {
		dupErr = err
	}
	name := f.Name()
	_ = f.Close()
	if dupErr != nil {
		return nil, dupErr
	}
	if err := syscall.SetNonblock(dup, true); err != nil {
		_ = syscall.Close(dup)
		return nil, err
	}
	return os.NewFile(uintptr(dup), name), nil
}
