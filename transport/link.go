package transport

import (
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
)

// LinkConfig sets a TCP link to a serial server that carries a meter bus transparently.
type LinkConfig struct {
	// Bus names the link in logs, errors and metrics; its timing fields apply as on a bus.
	Bus BusConfig
	// Address is host:port of the serial server.
	Address string
	// DialTimeout bounds one connection attempt; 0 means 5 s.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed connection attempts, which
	// doubles from MinBackoff (0 means 500 ms) to MaxBackoff (0 means 30 s).
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// NewLink returns a bus owner over a TCP connection to a serial server. The connection is
// made on the first request and made again after an I/O error. While the backoff after a
// failed attempt runs, requests fail at once with ErrDisconnected instead of waiting.
func NewLink(cfg LinkConfig) *Bus {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Bus.Name == "" {
		cfg.Bus.Name = cfg.Address
	}
	log := cfg.Bus.Logger
	if log == nil {
		log = zap.NewNop()
	}
	p := &redialPort{cfg: cfg, log: log.With(zap.String("link", cfg.Address))}
	return NewBus(p, cfg.Bus)
}

// errBackoff means the link waits before its next connection attempt.
var errBackoff = errors.New("serial server unreachable; waiting before the next attempt")

// redialPort is a Port that connects lazily and reconnects with exponential backoff.
type redialPort struct {
	cfg     LinkConfig
	log     *zap.Logger
	mu      sync.Mutex // guards conn and closed against Close from another goroutine
	conn    net.Conn
	closed  bool
	backoff time.Duration
	retryAt time.Time
	fails   int
}

func (p *redialPort) current() (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if p.conn != nil {
		return p.conn, nil
	}
	if time.Now().Before(p.retryAt) {
		return nil, errBackoff
	}
	c, err := net.DialTimeout("tcp", p.cfg.Address, p.cfg.DialTimeout)
	if err != nil {
		p.fails++
		if p.backoff == 0 {
			p.backoff = p.cfg.MinBackoff
		} else {
			p.backoff = min(2*p.backoff, p.cfg.MaxBackoff)
		}
		p.retryAt = time.Now().Add(p.backoff)
		// Log the first failure and then every tenth, so a dead server does not flood.
		if p.fails == 1 || p.fails%10 == 0 {
			p.log.Warn("serial server connect failed", zap.Int("failures", p.fails),
				zap.Duration("backoff", p.backoff), zap.Error(err))
		}
		return nil, err
	}
	if p.fails > 0 {
		p.log.Info("serial server reconnected", zap.Int("failures", p.fails))
	} else {
		p.log.Info("serial server connected")
	}
	p.conn, p.fails, p.backoff = c, 0, 0
	return c, nil
}

func (p *redialPort) drop(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.log.Warn("serial server connection lost", zap.Error(err))
		_ = p.conn.Close()
		p.conn = nil
	}
}

func (p *redialPort) Write(b []byte) (int, error) {
	c, err := p.current()
	if err != nil {
		return 0, err
	}
	n, err := NewConnPort(c).Write(b)
	if err != nil {
		p.drop(err)
	}
	return n, err
}

func (p *redialPort) ReadTimeout(b []byte, d time.Duration) (int, error) {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		// Not connected: nothing to read, as a silent line.
		if d > 0 {
			time.Sleep(min(d, 10*time.Millisecond))
		}
		return 0, nil
	}
	n, err := NewConnPort(c).ReadTimeout(b, d)
	if err != nil {
		p.drop(err)
	}
	return n, err
}

func (p *redialPort) SetBaud(int) error { return nil }

func (p *redialPort) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.conn != nil {
		err := p.conn.Close()
		p.conn = nil
		return err
	}
	return nil
}
