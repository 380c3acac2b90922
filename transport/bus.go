package transport

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/feegate/feegate/protocol"
)

// DL/T 645 line timing: a meter starts its reply 20–500 ms after a request and pauses at
// most 500 ms between bytes, so the defaults wait 1 s for the first byte and 500 ms between
// bytes.
const (
	defaultFirstByteTimeout = time.Second
	defaultInterByteTimeout = 500 * time.Millisecond
	defaultDrainQuiet       = 30 * time.Millisecond
	maxDrain                = time.Second
	maxAttempts             = 4
	busReadChunk            = 256
	busMaxBuffered          = 1024
)

// Preamble645 is the wake-up sequence sent before every DL/T 645 frame.
var Preamble645 = []byte{0xFE, 0xFE, 0xFE, 0xFE}

// BusConfig sets the timing and queue of a bus owner.
type BusConfig struct {
	// Name identifies the bus in logs, errors and the queue-depth metric.
	Name string
	// FirstByteTimeout is the wait for the first reply byte after a request; 0 means 1 s.
	FirstByteTimeout time.Duration
	// InterByteTimeout is the longest pause inside a reply; 0 means 500 ms.
	InterByteTimeout time.Duration
	// Attempts is how often a request is written before it fails with ErrTimeout, retries
	// included; 0 means 2, and at most 4 are made.
	Attempts int
	// QueueSize bounds the requests waiting for the bus; 0 means 64.
	QueueSize int
	// Logger receives one line per retry and per caught error; nil means no logging.
	Logger *zap.Logger
	// Metrics receives the queue depth, frame and request counts; nil means none.
	Metrics *Metrics
}

// Exchange is one request on a bus: the frame to write and how to recognise its reply.
type Exchange struct {
	// Frame is the request as the codec built it, without preamble.
	Frame []byte
	// Preamble is written before Frame, such as Preamble645; nil for Modbus RTU.
	Preamble []byte
	// Baud switches the line speed for this request when the meter differs from the bus;
	// 0 keeps the current speed.
	Baud int
	// Spec cuts the reply out of the received bytes. Required unless Broadcast is set.
	Spec *protocol.FrameSpec
	// Accept, when set, rejects frames that are not the reply, such as a late reply from
	// another meter. An exact copy of Frame (an echo) is rejected in any case.
	Accept func(frame []byte) bool
	// Broadcast sends the frame and returns at once: no meter replies to a broadcast.
	Broadcast bool
	// FirstByteTimeout and InterByteTimeout override the bus defaults when non-zero.
	FirstByteTimeout time.Duration
	InterByteTimeout time.Duration
	// Attempts overrides the bus default when non-zero; 1 means no retry, as a
	// password-level command needs.
	Attempts int
	// Protocol and Kind label the metrics, such as "dlt645" and "read".
	Protocol string
	Kind     string
}

// Reply is the outcome of an Exchange.
type Reply struct {
	// Frame is the reply frame, owned by the caller.
	Frame []byte
	// Attempts counts the writes of the request.
	Attempts int
	// Noise counts received bytes that were neither preamble nor the reply.
	Noise int
}

type busJob struct {
	ctx  context.Context
	ex   Exchange
	done chan busResult
}

type busResult struct {
	reply Reply
	err   error
}

// Bus owns one RS-485 port or TCP link: a single goroutine writes requests and reads
// replies, one at a time, from a bounded queue, so that DL/T 645 and Modbus RTU meters can
// share the line. Do and Close are safe for concurrent use.
type Bus struct {
	cfg     BusConfig
	port    Port
	jobs    chan *busJob
	quit    chan struct{}
	stopped chan struct{}
	depth   atomic.Int64
	log     *zap.Logger
	metrics *Metrics
	once    sync.Once
	buf     []byte
}

// NewBus starts the owner goroutine of port. The bus closes port when it is closed.
func NewBus(port Port, cfg BusConfig) *Bus {
	if cfg.FirstByteTimeout <= 0 {
		cfg.FirstByteTimeout = defaultFirstByteTimeout
	}
	if cfg.InterByteTimeout <= 0 {
		cfg.InterByteTimeout = defaultInterByteTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 2
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	b := &Bus{
		cfg:     cfg,
		port:    port,
		jobs:    make(chan *busJob, cfg.QueueSize),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
		log:     cfg.Logger,
		metrics: cfg.Metrics,
		buf:     make([]byte, busReadChunk),
	}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	b.log = b.log.With(zap.String("bus", cfg.Name))
	if b.metrics == nil {
		b.metrics = discardMetrics()
	}
	go b.run()
	return b
}

// Do queues ex and waits for its reply. It fails with ErrQueueFull when the queue is at
// its bound, ErrTimeout when no reply came, ErrClosed after Close, or ctx's error as soon
// as ctx ends, whether the request is queued or running. It is safe for concurrent use,
// and requests run in the order they were queued.
func (b *Bus) Do(ctx context.Context, ex Exchange) (Reply, error) {
	if len(ex.Frame) == 0 || (ex.Spec == nil && !ex.Broadcast) {
		return Reply{}, &BusError{Kind: ErrInvalidRequest, Bus: b.cfg.Name,
			Err: errors.New("exchange needs a frame and, unless broadcast, a reply spec")}
	}
	job := &busJob{ctx: ctx, ex: ex, done: make(chan busResult, 1)}
	select {
	case <-b.quit:
		return Reply{}, &BusError{Kind: ErrClosed, Bus: b.cfg.Name}
	default:
	}
	select {
	case b.jobs <- job:
		b.setDepth(b.depth.Add(1))
	default:
		return Reply{}, &BusError{Kind: ErrQueueFull, Bus: b.cfg.Name}
	}
	select {
	case r := <-job.done:
		return r.reply, r.err
	case <-ctx.Done():
		// The owner skips the job if it has not started it, and otherwise finishes it
		// into the buffered done channel that nobody reads.
		return Reply{}, ctx.Err()
	case <-b.stopped:
		// The owner may have finished the job just before it stopped.
		select {
		case r := <-job.done:
			return r.reply, r.err
		default:
			return Reply{}, &BusError{Kind: ErrClosed, Bus: b.cfg.Name}
		}
	}
}

// QueueDepth returns the number of requests waiting, the running one excluded. It is safe
// for concurrent use.
func (b *Bus) QueueDepth() int { return int(b.depth.Load()) }

// Close closes the port, which ends the running request with ErrDisconnected, and stops
// the owner. Queued requests fail with ErrClosed. It is safe to call more than once and
// from any goroutine.
func (b *Bus) Close() error {
	var err error
	b.once.Do(func() {
		close(b.quit)
		err = b.port.Close()
		<-b.stopped
	})
	return err
}

func (b *Bus) setDepth(d int64) {
	b.metrics.busQueueDepth.WithLabelValues(b.cfg.Name).Set(float64(d))
}

func (b *Bus) run() {
	defer close(b.stopped)
	for {
		select {
		case <-b.quit:
			b.failQueued()
			return
		case job := <-b.jobs:
			b.setDepth(b.depth.Add(-1))
			if err := job.ctx.Err(); err != nil {
				job.done <- busResult{err: err}
				continue
			}
			start := time.Now()
			reply, err := b.exchange(job.ctx, &job.ex)
			b.observe(&job.ex, start, err)
			job.done <- busResult{reply: reply, err: err}
		}
	}
}

func (b *Bus) failQueued() {
	for {
		select {
		case job := <-b.jobs:
			b.setDepth(b.depth.Add(-1))
			job.done <- busResult{err: &BusError{Kind: ErrClosed, Bus: b.cfg.Name}}
		default:
			return
		}
	}
}

func (b *Bus) observe(ex *Exchange, start time.Time, err error) {
	kind := ex.Protocol + "_" + ex.Kind
	result := resultOK
	switch {
	case err == nil:
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrNoReply):
		result = resultTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		result = resultCancelled
	default:
		result = resultError
	}
	b.metrics.requests.WithLabelValues(kind, result).Inc()
	b.metrics.requestSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// exchange runs the attempts of one request on the owner goroutine.
func (b *Bus) exchange(ctx context.Context, ex *Exchange) (Reply, error) {
	attempts := ex.Attempts
	if attempts <= 0 {
		attempts = b.cfg.Attempts
	}
	attempts = min(attempts, maxAttempts)
	first := ex.FirstByteTimeout
	if first <= 0 {
		first = b.cfg.FirstByteTimeout
	}
	inter := ex.InterByteTimeout
	if inter <= 0 {
		inter = b.cfg.InterByteTimeout
	}
	out := make([]byte, 0, len(ex.Preamble)+len(ex.Frame))
	out = append(append(out, ex.Preamble...), ex.Frame...)

	var lastErr error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			// The frame is not logged: a relay command carries the meter password.
			b.log.Info("retrying bus request", zap.String("bus", b.cfg.Name),
				zap.Int("attempt", attempt), zap.Int("frame_bytes", len(ex.Frame)),
				zap.Error(lastErr))
		}
		// Bytes left over from an earlier request, such as a late reply, must never be
		// read as the reply to this one.
		if n := b.drain(); n > 0 {
			b.metrics.frameErrors.WithLabelValues(ex.Protocol, "stale_input").Add(float64(n))
		}
		if err := b.port.SetBaud(ex.Baud); err != nil {
			return Reply{Attempts: attempt}, &BusError{Kind: ErrClosed, Bus: b.cfg.Name,
				Attempts: attempt, Err: err}
		}
		if _, err := b.port.Write(out); err != nil {
			b.log.Warn("bus write failed", zap.Error(err))
			return Reply{Attempts: attempt}, &BusError{Kind: ErrDisconnected, Bus: b.cfg.Name,
				Attempts: attempt, Err: err}
		}
		b.metrics.frames.WithLabelValues(ex.Protocol, "sent", ex.Kind).Inc()
		if ex.Broadcast {
			return Reply{Attempts: attempt}, nil
		}
		frame, noise, err := b.readReply(ctx, ex, out, first, inter)
		if err == nil {
			b.metrics.frames.WithLabelValues(ex.Protocol, "received", ex.Kind).Inc()
			return Reply{Frame: frame, Attempts: attempt, Noise: noise}, nil
		}
		var be *BusError
		if errors.As(err, &be) {
			be.Attempts = attempt
		}
		lastErr = err
		if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrNoReply) {
			break
		}
	}
	return Reply{Attempts: attempts}, lastErr
}

// drain reads and drops input until the line is quiet, for at most maxDrain.
func (b *Bus) drain() int {
	total := 0
	deadline := time.Now().Add(maxDrain)
	for time.Now().Before(deadline) {
		n, err := b.port.ReadTimeout(b.buf, defaultDrainQuiet)
		if n == 0 || err != nil {
			return total
		}
		total += n
	}
	return total
}

// readReply reads until spec yields an accepted frame. While every byte received so far
// repeats the request, as an adapter echo or a reply header equal to the request's does,
// the first-byte deadline applies. After that, a pause longer than inter ends the attempt.
func (b *Bus) readReply(ctx context.Context, ex *Exchange, sent []byte, first,
	inter time.Duration) ([]byte, int, error) {
	framer := protocol.NewFramer(*ex.Spec, busMaxBuffered)
	framer.Accept = func(f []byte) bool {
		if bytes.Equal(f, ex.Frame) {
			return false
		}
		return ex.Accept == nil || ex.Accept(f)
	}
	deadline := time.Now().Add(first)
	echo := 0 // bytes of the current attempt that repeat sent
	echoing := true
	noise := 0
	var received []byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, noise, err
		}
		wait := inter
		if echoing {
			wait = time.Until(deadline)
			if wait <= 0 {
				if f := flushReply(framer, &noise); f != nil {
					return f, noise, nil
				}
				return nil, noise, &BusError{Kind: ErrTimeout, Bus: b.cfg.Name,
					Partial: partialReply(received, sent, ex)}
			}
		}
		wait = min(wait, 250*time.Millisecond+inter)
		n, err := b.port.ReadTimeout(b.buf, wait)
		if err != nil {
			return nil, noise, &BusError{Kind: ErrDisconnected, Bus: b.cfg.Name, Err: err}
		}
		if n == 0 {
			if echoing {
				continue
			}
			if f := flushReply(framer, &noise); f != nil {
				return f, noise, nil
			}
			return nil, noise, &BusError{Kind: ErrNoReply, Bus: b.cfg.Name,
				Partial: partialReply(received, sent, ex)}
		}
		chunk := b.buf[:n]
		if len(received) < busMaxBuffered {
			received = append(received, chunk...)
		}
		for _, c := range chunk {
			if !echoing {
				break
			}
			if c != sent[echo] {
				echoing = false
				break
			}
			echo++
			if echo == len(sent) {
				// A whole echo ended: the meter's reply time starts now.
				echo = 0
				deadline = time.Now().Add(first)
			}
		}
		framer.Write(chunk)
		res := framer.Next(false)
		noise += res.Noise
		if res.Noise > 0 && res.Err != nil {
			b.metrics.frameErrors.WithLabelValues(ex.Protocol, errorKind(res.Err)).Inc()
		}
		if res.Frame != nil {
			return bytes.Clone(res.Frame), noise, nil
		}
	}
}

// flushReply returns a whole reply still buffered behind an incomplete candidate, such as
// a truncated echo whose L field announces more bytes than ever came. The line has gone
// quiet, so the candidate can be given up.
func flushReply(framer *protocol.Framer, noise *int) []byte {
	res := framer.Next(true)
	*noise += res.Noise
	if res.Frame == nil {
		return nil
	}
	return bytes.Clone(res.Frame)
}

// stripEcho drops the copies of the request at the start of received, and received
// altogether when it is only a piece of the request: a request may carry a password, which
// must not reach an error message.
func stripEcho(received, sent []byte) []byte {
	for len(sent) > 0 && bytes.HasPrefix(received, sent) {
		received = received[len(sent):]
	}
	if bytes.HasPrefix(sent, received) {
		return nil
	}
	return received
}

// partialReply returns the bytes of a failed attempt that BusError.Partial may show: what
// received holds besides echoes of the request sent for ex, whole or damaged.
func partialReply(received, sent []byte, ex *Exchange) []byte {
	return dropEchoRuns(stripEcho(received, sent), ex.Frame, ex.Preamble)
}

// minEchoRun is the shortest run of request bytes that dropEchoRuns removes. A DL/T 645
// reply repeats the request's first eight bytes (68, the address, 68) and then differs in
// the control code, so the header of a cut-off reply stays; a password starts at the
// eleventh byte, so any echo that reaches it from the frame start is longer.
const minEchoRun = 9

// dropEchoRuns removes from received every run of at least minEchoRun bytes (or the whole
// frame, if shorter) that also occurs in frame, with the preamble bytes just before it.
// Echoes reach received imperfectly: after line noise, with preamble bytes lost, cut off or
// with a changed byte, and each of those still carries the request's data area. Preamble
// bytes alone are dropped too. It allocates only when it removes something.
func dropEchoRuns(received, frame, preamble []byte) []byte {
	minRun := min(minEchoRun, len(frame))
	if minRun == 0 || len(received) < minRun {
		return received
	}
	isPreamble := func(b byte) bool { return bytes.IndexByte(preamble, b) >= 0 }
	var out []byte
	removed := false
	kept := 0 // received[:kept] has been copied to out or dropped
	for i := 0; i < len(received); {
		n := longestRunIn(received[i:], frame)
		if n < minRun {
			i++
			continue
		}
		j := i
		for j > kept && isPreamble(received[j-1]) {
			j--
		}
		out = append(out, received[kept:j]...)
		i += n
		kept = i
		removed = true
	}
	if !removed {
		return received
	}
	out = append(out, received[kept:]...)
	for _, b := range out {
		if !isPreamble(b) {
			return out
		}
	}
	return nil
}

// longestRunIn returns the length of the longest prefix of b that occurs in frame.
func longestRunIn(b, frame []byte) int {
	best := 0
	for start := range frame {
		n := 0
		for n < len(b) && start+n < len(frame) && b[n] == frame[start+n] {
			n++
		}
		best = max(best, n)
	}
	return best
}

// errorKind returns the metric label of a codec error.
func errorKind(err error) string {
	if c := protocol.Code(err); c != "" {
		return c
	}
	return "other"
}
