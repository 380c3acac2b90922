package gateway

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the engine's Prometheus collectors, registered on the registry given to
// Open. Per-meter and per-terminal detail lives in the API, never in labels.
type Metrics struct {
	commands        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	queueDepth      prometheus.Gauge
	active          *prometheus.GaugeVec
	interlockBlocks *prometheus.CounterVec
	submissions     prometheus.Counter
}

// Interlock rules, the rule label of feegate_interlock_blocks_total and the evidence
// detail of an interlock_blocked command.
const (
	ruleProtectedMeter  = "protected_meter"
	ruleProtectedWindow = "protected_window"
	ruleRateGuard       = "rate_guard"
	ruleBlastRadius     = "blast_radius"
)

var interlockRules = []string{ruleProtectedMeter, ruleProtectedWindow, ruleRateGuard,
	ruleBlastRadius}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_commands_total",
			Help: "Commands that reached a final state, by action, outcome (final state) " +
				"and reason code.",
		}, []string{"action", "outcome", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "feegate_command_duration_seconds",
			Help:    "Time from submission to final state, by action and outcome.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"action", "outcome"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "feegate_queue_depth",
			Help: "Commands waiting in channel queues, summed over all channels.",
		}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "feegate_commands_active",
			Help: "Commands not yet in a final state, by state.",
		}, []string{"state"}),
		interlockBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "feegate_interlock_blocks_total",
			Help: "Trips refused by an interlock, by rule.",
		}, []string{"rule"}),
		submissions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "feegate_command_submissions_total",
			Help: "Commands created and persisted.",
		}),
	}
	// Alert rules read these series, so each rule exists at 0 before its first block.
	for _, rule := range interlockRules {
		m.interlockBlocks.WithLabelValues(rule)
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.latency, m.queueDepth, m.active, m.interlockBlocks,
			m.submissions)
	}
	return m
}
