package transport

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the Prometheus collectors of the transport layer. No collector has a
// per-terminal or per-meter label: per-device detail lives in the diagnostics API.
// Its methods are safe for concurrent use.
type Metrics struct {
	terminalsOnline prometheus.Gauge
	logins          prometheus.Counter
	disconnects     *prometheus.CounterVec
	frames          *prometheus.CounterVec
	frameErrors     *prometheus.CounterVec
	lateReplies     *prometheus.CounterVec
	requestSeconds  *prometheus.HistogramVec
	requests        *prometheus.CounterVec
	busQueueDepth   *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg. A nil reg leaves them
// unregistered, which suits tests that do not read metrics. Registering twice with the
// same registry fails, so each server and bus set shares one Metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		terminalsOnline: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "feegate_terminals_online",
			Help: "Terminals with a logged-in session.",
		}),
		logins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "feegate_terminal_logins_total",
			Help: "Terminal logins (AFN02 F1) confirmed.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_terminal_disconnects_total",
			Help: "Terminal connections closed, by reason.",
		}, []string{"reason"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_frames_total",
			Help: "Frames received and sent, by protocol, direction and kind.",
		}, []string{"protocol", "direction", "kind"}),
		frameErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_frame_errors_total",
			Help: "Received bytes or frames rejected, by protocol and error kind.",
		}, []string{"protocol", "kind"}),
		lateReplies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_late_replies_total",
			Help: "Replies that matched no outstanding request and were dropped.",
		}, []string{"protocol"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feegate_request_duration_seconds",
			Help:    "Time from the first write of a request to its outcome, by request kind.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120},
		}, []string{"kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_requests_total",
			Help: "Requests by kind and result.",
		}, []string{"kind", "result"}),
		busQueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "feegate_bus_queue_depth",
			Help: "Requests waiting for an RS-485 bus or TCP link, by bus name.",
		}, []string{"bus"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.terminalsOnline, m.logins, m.disconnects,
		m.frames, m.frameErrors, m.lateReplies, m.requestSeconds, m.requests,
		m.busQueueDepth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// discardMetrics returns unregistered collectors for components built without Metrics.
func discardMetrics() *Metrics {
	m, _ := NewMetrics(nil)
	return m
}

// Result labels of feegate_requests_total.
const (
	resultOK           = "ok"
	resultTimeout      = "timeout"
	resultDenied       = "denied"
	resultOffline      = "offline"
	resultDisconnected = "disconnected"
	resultCancelled    = "cancelled"
	resultError        = "error"
)
