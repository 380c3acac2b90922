package plan

import (
	"context"
	"strings"
	"sync"

	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/transport"
	"go.uber.org/zap"
)

// Lines is the Exchanger of meters on local RS-485 buses and on TCP links to serial
// servers. It opens each bus or link on its first request, from the archive row the
// meter's route names, and keeps it open until Close. It is safe for concurrent use.
type Lines struct {
	log     *zap.Logger
	metrics *transport.Metrics

	mu     sync.Mutex
	owners map[string]*transport.Bus // by "bus/NAME" or "link/NAME"
	closed bool
}

// NewLines returns an Exchanger for bus and link routes.
func NewLines(log *zap.Logger, metrics *transport.Metrics) *Lines {
	if log == nil {
		log = zap.NewNop()
	}
	return &Lines{log: log, metrics: metrics, owners: map[string]*transport.Bus{}}
}

// owner returns the bus owner of the meter's line, opening it on first use.
func (l *Lines) owner(m *gateway.MeterEntry) (*transport.Bus, error) {
	key := m.Route.Channel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, gateway.Fail(gateway.ReasonChannelError, nil, "gateway is stopping")
	}
	if b := l.owners[key]; b != nil {
		return b, nil
	}
	var b *transport.Bus
	switch {
	case m.Bus != nil:
		parity := "E"
		switch strings.ToLower(m.Bus.Parity) {
		case "odd":
			parity = "O"
		case "none":
			parity = "N"
		}
		port, err := transport.OpenSerial(transport.SerialConfig{Device: m.Bus.Device,
			Baud: m.Bus.Baud, Parity: parity})
		if err != nil {
			return nil, gateway.Fail(gateway.ReasonChannelError, &gateway.Evidence{
				Detail: err.Error()}, "cannot open bus %s on %s", m.Bus.Name, m.Bus.Device)
		}
		b = transport.NewBus(port, transport.BusConfig{Name: m.Bus.Name, Logger: l.log,
			Metrics: l.metrics})
		l.log.Info("bus opened", zap.String("bus", m.Bus.Name),
			zap.String("device", m.Bus.Device))
	case m.Link != nil:
		b = transport.NewLink(transport.LinkConfig{Address: m.Link.Address,
			Bus: transport.BusConfig{Name: m.Link.Name, Logger: l.log, Metrics: l.metrics}})
	default:
		return nil, gateway.Fail(gateway.ReasonInternal, nil,
			"meter %s names a bus or link that is not in the archive", m.Address)
	}
	l.owners[key] = b
	return b, nil
}

// Exchange sends one DL/T 645 frame on the meter's bus or link. Relay controls and
// security requests are written once: the engine decides whether to send again.
func (l *Lines) Exchange(ctx context.Context, m *gateway.MeterEntry, frame []byte,
	kind string) ([]byte, error) {
	b, err := l.owner(m)
	if err != nil {
		return nil, err
	}
	ex, err := transport.DLT645Exchange(frame, kind)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "request frame: %v", err)
	}
	ex.Baud = m.Route.Baud
	if kind == "relay_control" || kind == "security" {
		ex.Attempts = 1
	}
	reply, err := b.Do(ctx, ex)
	if err != nil {
		return nil, failTransport(ctx, err, true)
	}
	if ex.Broadcast {
		return nil, nil
	}
	return reply.Frame, nil
}

// Close closes every bus and link. It is safe to call more than once.
func (l *Lines) Close() {
	l.mu.Lock()
	owners := l.owners
	l.owners = map[string]*transport.Bus{}
	l.closed = true
	l.mu.Unlock()
	for _, b := range owners {
		_ = b.Close()
	}
}
