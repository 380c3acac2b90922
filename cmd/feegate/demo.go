package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/feegate/feegate/api/node"
	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/simulator"
)

// demoOptions size the demo's fleet and bound its run.
type demoOptions struct {
	terminals         int
	metersPerTerminal int
	serial            int
	metersPerBus      int
	modbus            int
	latency           string
	meterDelay        string
	seed              uint64
	regionTerminals   int
	verifyWindow      time.Duration
	loginTimeout      time.Duration
	timeout           time.Duration
	keep              bool
	asJSON            bool
	// sabotage names a meter fault switched on, unannounced, on the first meter of the
	// tripped region. The demo does not expect it, so it must then exit non-zero; the tests
	// use it to prove that the demo's checks can fail.
	sabotage string
}

func newDemoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run an embedded gateway and a simulated fleet through the main job",
		Long: `Start a gateway (temporary store, loopback ports) and a simulated fleet, then, through
the HTTP API only: import the fleet's archive, wait for the logins, read every meter, trip a
region in one batch with verification, allow close and close a few meters as after a
payment, show guarantee refusing a trip, inject faults and show the reason each produced,
and diagnose a terminal taken offline. Every outcome is checked against the physical state
that the simulator's control API reports. The exit status is 0 only if all of them match.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, o.timeout)
			defer cancel()
			ok, err := runDemo(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if !ok {
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.terminals, "terminals", 200, "simulated terminals")
	f.IntVar(&o.metersPerTerminal, "meters-per-terminal", 20, "meters behind each terminal")
	f.IntVar(&o.serial, "serial", 1, "pty RS-485 buses")
	f.IntVar(&o.metersPerBus, "meters-per-bus", 3, "meters on each bus")
	f.IntVar(&o.modbus, "modbus", 3, "Modbus TCP meters")
	f.StringVar(&o.latency, "latency", "100ms-300ms", "channel latency per forward, MIN-MAX")
	f.StringVar(&o.meterDelay, "meter-delay", "20ms-60ms", "meter reply delay, MIN-MAX")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the fleet's addresses")
	f.IntVar(&o.regionTerminals, "region-terminals", 10,
		"terminals whose meters form the region tripped in one batch")
	f.DurationVar(&o.verifyWindow, "verify-window", 20*time.Second,
		"how long the gateway verifies a relay command before verify_mismatch")
	f.DurationVar(&o.loginTimeout, "login-timeout", 60*time.Second,
		"how long to wait for every terminal to log in")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound of the whole demo")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary folder with the store and the logs")
	f.BoolVar(&o.asJSON, "json", false, "print the summary as one JSON object")
	f.StringVar(&o.sabotage, "sabotage", "", "switch this meter fault on unannounced (tests)")
	_ = f.MarkHidden("sabotage")
	return cmd
}

// demoCheck is one command of the demo with the outcome it must reach and the physical
// state the simulator must then report.
type demoCheck struct {
	phase  string
	action string
	meter  string
	// wantState is the final state; wantOutcome (succeeded) or wantReason (otherwise) the
	// detail that must match.
	wantState   string
	wantOutcome string
	wantReason  string
	wantBypass  bool
	// physical checks the simulator's meter after the command, or is nil.
	physical func(m simMeterState) string

	id       string
	got      commandView
	problems []string
}

// simMeterState is the part of the simulator's meter state the demo checks.
type simMeterState struct {
	Address      string `json:"address"`
	Relay        string `json:"relay"`
	CommandState string `json:"command_state"`
	CloseAllowed bool   `json:"close_allowed"`
	Guarantee    bool   `json:"guarantee"`
	Operations   struct {
		Trip       int `json:"trip"`
		AllowClose int `json:"allow_close"`
		Close      int `json:"close"`
		Guarantee  int `json:"guarantee"`
		Rejected   int `json:"rejected"`
	} `json:"operations"`
}

// demo is one run: the gateway's API client, the simulator's control API, the archive and
// every check made so far.
type demo struct {
	o       demoOptions
	out     io.Writer
	log     io.Writer
	api     *apiClient
	control string
	http    *http.Client
	archive *archive.Archive
	results *demoResults
}

// demoResults collects the checks and notes of every phase, which may run concurrently.
type demoResults struct {
	mu     sync.Mutex
	checks []*demoCheck
	notes  []string
}

// withLog returns a copy of d that writes its progress to w, so that phases running at the
// same time do not interleave their lines.
func (d *demo) withLog(w io.Writer) *demo {
	c := *d
	c.log = w
	return &c
}

func runDemo(ctx context.Context, o demoOptions, out, progress io.Writer) (bool, error) {
	started := time.Now()
	latency, err := simulator.ParseRange(o.latency)
	if err != nil {
		return false, fmt.Errorf("invalid --latency: %w", err)
	}
	meterDelay, err := simulator.ParseRange(o.meterDelay)
	if err != nil {
		return false, fmt.Errorf("invalid --meter-delay: %w", err)
	}
	if o.terminals < 2 || o.metersPerTerminal < 8 {
		return false, fmt.Errorf("the demo needs at least 2 terminals and 8 meters per " +
			"terminal to have a region, payments, guarantee and faults")
	}

	dir, err := os.MkdirTemp("", "feegate-demo-")
	if err != nil {
		return false, err
	}
	ok := false
	defer func() {
		if o.keep || !ok {
			fmt.Fprintf(progress, "store and logs kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	logger, closeLog, err := demoLogger(filepath.Join(dir, "feegate.log"))
	if err != nil {
		return false, err
	}
	defer closeLog()

	token := randomToken()
	engine := gateway.DefaultConfig()
	engine.VerifyInterval = time.Second
	engine.VerifyWindow = o.verifyWindow
	engine.DefaultDeadline = 5 * time.Minute
	gw, err := node.Start(node.Config{
		TerminalListen: "127.0.0.1:0",
		APIListen:      "127.0.0.1:0",
		StorePath:      filepath.Join(dir, "feegate.db"),
		Tokens:         []string{token},
		Engine:         engine,
		Logger:         logger.Named("gateway"),
	})
	if err != nil {
		return false, fmt.Errorf("start the gateway: %w", err)
	}
	var fleet *simulator.Fleet
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		gw.Close(closeCtx)
		if fleet != nil {
			fleet.Close()
		}
	}()
	fmt.Fprintf(progress, "gateway: terminals on %s, API on http://%s\n", gw.TerminalAddr(),
		gw.APIAddr())

	fleet, err = simulator.New(simulator.Options{
		Gateway:           gw.TerminalAddr(),
		Terminals:         o.terminals,
		MetersPerTerminal: o.metersPerTerminal,
		Serial:            o.serial,
		MetersPerBus:      o.metersPerBus,
		Modbus:            o.modbus,
		Latency:           latency,
		MeterDelay:        meterDelay,
		Heartbeat:         30 * time.Second,
		Control:           "127.0.0.1:0",
		Seed:              o.seed,
		Logger:            logger.Named("sim"),
	})
	if err != nil {
		return false, fmt.Errorf("build the fleet: %w", err)
	}
	if err := fleet.Start(ctx); err != nil {
		return false, fmt.Errorf("start the fleet: %w", err)
	}

	base, _ := url.Parse("http://" + gw.APIAddr())
	d := &demo{
		o: o, out: out, log: progress,
		api: &apiClient{base: base, token: token,
			http: &http.Client{Timeout: 30 * time.Second}},
		control: "http://" + fleet.Ready().Control,
		http:    &http.Client{Timeout: 10 * time.Second},
		archive: fleet.Archive(),
		results: &demoResults{},
	}
	fmt.Fprintf(progress, "simulator: %d terminals × %d meters, %d bus meters, %d Modbus "+
		"meters, control API on %s\n", o.terminals, o.metersPerTerminal,
		o.serial*o.metersPerBus, o.modbus, d.control)

	// Each group's sequences run at the same time: the region's terminals trip while the
	// guarantee and fault phases use meters behind other terminals.
	groups := [][]demoSequence{
		{{{"import the archive", (*demo).importArchive}}},
		{{{"wait for the logins", (*demo).waitLogins}}},
		{{{"read every meter", (*demo).readAll}}},
		{
			{{"trip a region", (*demo).tripRegion},
				{"allow close and close after payment", (*demo).payments}},
			{{"guarantee refuses a trip", (*demo).guarantee}, {"faults", (*demo).faults}},
		},
		{{{"terminal taken offline", (*demo).offlineTerminal}}},
	}
	for _, g := range groups {
		if err := d.runGroup(ctx, g); err != nil {
			return false, err
		}
	}
	ok = d.summary(time.Since(started))
	return ok, nil
}

// demoStep is one named phase of the demo.
type demoStep struct {
	name string
	run  func(*demo, context.Context) error
}

// demoSequence is a list of phases that run one after the other.
type demoSequence []demoStep

// runGroup runs the sequences of a group at the same time. The first sequence writes its
// progress as it goes; the others are buffered and printed after it, in order.
func (d *demo) runGroup(ctx context.Context, g []demoSequence) error {
	buffers := make([]*bytes.Buffer, len(g))
	errs := make([]error, len(g))
	var wg sync.WaitGroup
	for i, seq := range g {
		sd := d
		if i > 0 {
			buffers[i] = &bytes.Buffer{}
			sd = d.withLog(buffers[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sd.runSequence(ctx, seq)
		}()
	}
	wg.Wait()
	for i := 1; i < len(g); i++ {
		_, _ = d.log.Write(buffers[i].Bytes())
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) runSequence(ctx context.Context, seq demoSequence) error {
	for _, s := range seq {
		stepStart := time.Now()
		fmt.Fprintf(d.log, "== %s\n", s.name)
		if err := s.run(d, ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(d.log, "   done in %s\n", time.Since(stepStart).Round(10*time.Millisecond))
	}
	return nil
}

// demoLogger writes the gateway's and the simulator's JSON logs to path.
func demoLogger(path string) (*zap.Logger, func(), error) {
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{path}
	cfg.ErrorOutputPaths = []string{path}
	cfg.Sampling = nil
	logger, err := cfg.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("open the demo log: %w", err)
	}
	return logger, func() { _ = logger.Sync() }, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (d *demo) importArchive(ctx context.Context) error {
	var body bytes.Buffer
	if err := archive.EncodeJSON(&body, d.archive); err != nil {
		return err
	}
	if _, err := d.api.do(ctx, http.MethodPut, "/v1/archive", nil, &body, "application/json",
		nil); err != nil {
		return err
	}
	fmt.Fprintf(d.log, "   %d terminals and %d meters imported through PUT /v1/archive\n",
		len(d.archive.Terminals), len(d.archive.Meters))
	return nil
}

func (d *demo) waitLogins(ctx context.Context) error {
	want := len(d.archive.Terminals)
	deadline := time.Now().Add(d.o.loginTimeout)
	bar := newProgress(d.log)
	for {
		online := 0
		err := d.api.list(ctx, "/v1/terminals", url.Values{"online": {"true"},
			"limit": {"1000"}}, 0, func(json.RawMessage) error {
			online++
			return nil
		})
		if err != nil {
			bar.interrupt()
			return err
		}
		text := loginsText(online, want)
		if online >= want {
			bar.finish(text)
			return nil
		}
		if time.Now().After(deadline) {
			bar.finish(text)
			return fmt.Errorf("%d of %d terminals logged in within %s", online, want,
				d.o.loginTimeout)
		}
		bar.update(text)
		if err := sleepContext(ctx, 250*time.Millisecond); err != nil {
			bar.interrupt()
			return err
		}
	}
}

// loginsText draws the login progress as a bar with counts.
func loginsText(done, total int) string {
	filled := 0
	if total > 0 {
		filled = done * progressWidth / total
	}
	return fmt.Sprintf("   logins [%s%s] %d/%d", strings.Repeat("#", filled),
		strings.Repeat("-", progressWidth-filled), done, total)
}

// meters returns the archive's meters that pass keep, in archive order.
func (d *demo) meters(keep func(archive.Meter) bool) []archive.Meter {
	var out []archive.Meter
	for _, m := range d.archive.Meters {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func hasRelay(m archive.Meter) bool { return m.Protocol != archive.ProtocolDLT645v1997 }

func (d *demo) readAll(ctx context.Context) error {
	var addrs []string
	checks := map[string]*demoCheck{}
	for _, m := range d.archive.Meters {
		addrs = append(addrs, m.Address)
		checks[m.Address] = &demoCheck{phase: "read", action: "read", meter: m.Address,
			wantState: "succeeded", wantOutcome: "read"}
	}
	return d.runBatch(ctx, "read", addrs, []string{"energy_forward_total"}, checks)
}

// region returns the relay meters behind the first regionTerminals terminals.
func (d *demo) region() []archive.Meter {
	inRegion := map[string]bool{}
	for i, t := range d.archive.Terminals {
		if i < d.o.regionTerminals {
			inRegion[t.Address] = true
		}
	}
	return d.meters(func(m archive.Meter) bool {
		return hasRelay(m) && inRegion[m.Route.Terminal] && m.Route.Terminal != ""
	})
}

func (d *demo) tripRegion(ctx context.Context) error {
	region := d.region()
	if len(region) == 0 {
		return fmt.Errorf("no relay meters behind the first %d terminals", d.o.regionTerminals)
	}
	if d.o.sabotage != "" {
		if err := d.setFault(ctx, region[0].Address, d.o.sabotage, nil); err != nil {
			return fmt.Errorf("sabotage: %w", err)
		}
	}
	var addrs []string
	checks := map[string]*demoCheck{}
	for _, m := range region {
		addrs = append(addrs, m.Address)
		checks[m.Address] = &demoCheck{phase: "region trip", action: "trip", meter: m.Address,
			wantState: "succeeded", wantOutcome: "tripped", physical: relayIs("open", 1)}
	}
	fmt.Fprintf(d.log, "   %d relay meters behind %d terminals\n", len(addrs),
		d.o.regionTerminals)
	return d.runBatch(ctx, "trip", addrs, nil, checks)
}

// relayIs checks the relay position and, when trips > 0, that the meter accepted exactly
// that many trips: a command executed twice shows as a second operation.
func relayIs(relay string, trips int) func(simMeterState) string {
	return func(m simMeterState) string {
		if m.Relay != relay {
			return fmt.Sprintf("simulator shows relay %s, want %s", m.Relay, relay)
		}
		if trips > 0 && m.Operations.Trip != trips {
			return fmt.Sprintf("simulator counted %d accepted trips, want %d",
				m.Operations.Trip, trips)
		}
		return ""
	}
}

func (d *demo) payments(ctx context.Context) error {
	region := d.region()
	if len(region) < 4 {
		return fmt.Errorf("the region has %d relay meters; payments need 4", len(region))
	}
	var allow, closeNow []*demoCheck
	for i, m := range region[len(region)-4:] {
		c := &demoCheck{phase: "payment", meter: m.Address, wantState: "succeeded"}
		if i < 2 {
			c.action, c.wantOutcome = "allow_close", "close_allowed"
			c.physical = func(s simMeterState) string {
				if !s.CloseAllowed || s.Relay != "open" {
					return fmt.Sprintf("simulator shows relay %s, close allowed %v; want open "+
						"and allowed until the button is pressed", s.Relay, s.CloseAllowed)
				}
				return ""
			}
			allow = append(allow, c)
		} else {
			c.action, c.wantOutcome = "close", "closed"
			c.physical = relayIs("closed", 0)
			closeNow = append(closeNow, c)
		}
	}
	if err := d.runEach(ctx, append(append([]*demoCheck{}, allow...), closeNow...)); err != nil {
		return err
	}
	// The customer presses the button: the relay whose close was allowed closes.
	for _, c := range allow {
		if err := d.controlDo(ctx, http.MethodPost, "/meters/"+c.meter+"/button", nil,
			nil); err != nil {
			return err
		}
		m, err := d.simMeter(ctx, c.meter)
		if err != nil {
			return err
		}
		if m.Relay != "closed" {
			c.problems = append(c.problems, "relay still "+m.Relay+" after the button press")
		} else {
			d.note(fmt.Sprintf("meter %s closed when its button was pressed", c.meter))
		}
	}
	return nil
}

// outsideRegion returns relay meters behind terminals outside the region, of the kind
// given ("" for any), skipping those already used.
func (d *demo) outsideRegion(kind string, used map[string]bool, n int) []archive.Meter {
	inRegion := map[string]bool{}
	for i, t := range d.archive.Terminals {
		if i < d.o.regionTerminals {
			inRegion[t.Address] = true
		}
	}
	picked := d.meters(func(m archive.Meter) bool {
		return hasRelay(m) && m.Route.Terminal != "" && !inRegion[m.Route.Terminal] &&
			(kind == "" || m.Kind == kind) && !used[m.Address] &&
			m.Protocol == archive.ProtocolDLT645v2007
	})
	if len(picked) > n {
		picked = picked[:n]
	}
	for _, m := range picked {
		used[m.Address] = true
	}
	return picked
}

func (d *demo) guarantee(ctx context.Context) error {
	used := d.usedMeters()
	ms := d.outsideRegion(archive.KindCostControl, used, 1)
	if len(ms) == 0 {
		return fmt.Errorf("no cost-control meter outside the region")
	}
	addr := ms[0].Address
	on := &demoCheck{phase: "guarantee", action: "guarantee", meter: addr,
		wantState: "succeeded", wantOutcome: "guarantee_on"}
	if err := d.runEach(ctx, []*demoCheck{on}); err != nil {
		return err
	}
	trip := &demoCheck{phase: "guarantee", action: "trip", meter: addr, wantState: "failed",
		wantReason: "meter_guarantee_active", physical: relayIs("closed", 0)}
	if err := d.runEach(ctx, []*demoCheck{trip}); err != nil {
		return err
	}
	release := &demoCheck{phase: "guarantee", action: "guarantee_release", meter: addr,
		wantState: "succeeded", wantOutcome: "guarantee_off"}
	return d.runEach(ctx, []*demoCheck{release})
}

// usedMeters returns the meters that earlier phases changed.
func (d *demo) usedMeters() map[string]bool {
	used := map[string]bool{}
	d.results.mu.Lock()
	defer d.results.mu.Unlock()
	for _, c := range d.results.checks {
		if c.action != "read" {
			used[c.meter] = true
		}
	}
	return used
}

// demoFault is one fault of the simulator's fault table with the command it disturbs and
// the outcome the gateway must report.
type demoFault struct {
	fault      string
	kind       string
	params     map[string]any
	action     string
	wantState  string
	wantReason string
	wantBypass bool
	relay      string
}

func (d *demo) faults(ctx context.Context) error {
	table := []demoFault{
		{fault: "silent", kind: archive.KindCostControl, action: "trip", wantState: "failed",
			wantReason: "meter_timeout", relay: "closed"},
		{fault: "relay_stuck", kind: archive.KindCostControl, action: "trip",
			wantState: "failed", wantReason: "verify_mismatch", relay: "closed"},
		{fault: "wrong_password", kind: archive.KindPlain, action: "trip", wantState: "failed",
			wantReason: "meter_password_rejected", relay: "closed"},
		{fault: "security_failure", kind: archive.KindCostControl, action: "trip",
			wantState: "failed", wantReason: "security_failed", relay: "closed"},
		{fault: "bypass", kind: archive.KindCostControl, action: "trip",
			wantState: "succeeded", wantBypass: true, relay: "open"},
		{fault: "clock_skew", kind: archive.KindCostControl, action: "trip",
			params: map[string]any{"offset": "240h"}, wantState: "failed",
			wantReason: "meter_rejected", relay: "closed"},
	}
	used := d.usedMeters()
	var checks []*demoCheck
	for _, f := range table {
		ms := d.outsideRegion(f.kind, used, 1)
		if len(ms) == 0 {
			d.note(fmt.Sprintf("fault %s skipped: no %s meter left outside the region", f.fault,
				f.kind))
			continue
		}
		addr := ms[0].Address
		if err := d.setFault(ctx, addr, f.fault, f.params); err != nil {
			return err
		}
		c := &demoCheck{phase: "fault " + f.fault, action: f.action, meter: addr,
			wantState: f.wantState, wantReason: f.wantReason, wantBypass: f.wantBypass,
			physical: relayIs(f.relay, 0)}
		if f.wantState == "succeeded" {
			c.wantOutcome = "tripped"
		}
		checks = append(checks, c)
	}
	return d.runEach(ctx, checks)
}

func (d *demo) offlineTerminal(ctx context.Context) error {
	t := d.archive.Terminals[len(d.archive.Terminals)-1].Address
	body := map[string]any{"on": false}
	if err := d.controlDo(ctx, http.MethodPost, "/terminals/"+t+"/power", body,
		nil); err != nil {
		return err
	}
	// Wait until the gateway reports the terminal offline.
	var view terminalView
	for i := 0; ; i++ {
		if _, err := d.api.do(ctx, http.MethodGet, "/v1/terminals/"+t, nil, nil, "",
			&view); err != nil {
			return err
		}
		if !view.Online {
			break
		}
		if i > 100 {
			return fmt.Errorf("terminal %s still online 10 s after its power was cut", t)
		}
		if err := sleepContext(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.log, "   terminal %s powered off; the gateway's diagnosis:\n", t)
	if err := printTerminalDiagnosis(&indentWriter{w: d.log}, view); err != nil {
		return err
	}
	var m archive.Meter
	for _, x := range d.archive.Meters {
		if x.Route.Terminal == t {
			m = x
			break
		}
	}
	check := &demoCheck{phase: "terminal offline", action: "read", meter: m.Address,
		wantState: "failed", wantReason: "terminal_offline"}
	return d.runEach(ctx, []*demoCheck{check})
}

// indentWriter indents each line written through it by three spaces. Writes may end in
// the middle of a line, as tabwriter's do.
type indentWriter struct {
	w       io.Writer
	midLine bool
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	var sb strings.Builder
	for _, c := range p {
		if !iw.midLine {
			sb.WriteString("   ")
			iw.midLine = true
		}
		sb.WriteByte(c)
		if c == '\n' {
			iw.midLine = false
		}
	}
	if _, err := io.WriteString(iw.w, sb.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// runBatch submits one batch, follows it and checks each of its commands.
func (d *demo) runBatch(ctx context.Context, action string, meters, items []string,
	checks map[string]*demoCheck) error {
	var b batchView
	req := map[string]any{"action": action, "meters": meters}
	if len(items) > 0 {
		req["items"] = items
	}
	if _, err := d.api.doJSON(ctx, http.MethodPost, "/v1/batches", req, &b); err != nil {
		return err
	}
	b, err := followBatch(ctx, d.api, b, 250*time.Millisecond, d.log)
	if err != nil {
		return err
	}
	err = d.api.list(ctx, "/v1/commands", url.Values{"batch": {b.ID}, "limit": {"1000"}}, 0,
		func(raw json.RawMessage) error {
			var cv commandView
			if err := json.Unmarshal(raw, &cv); err != nil {
				return err
			}
			c := checks[cv.Target.Meter]
			if c == nil {
				return fmt.Errorf("batch %s has a command for meter %s that was not submitted",
					b.ID, cv.Target.Meter)
			}
			c.id, c.got = cv.ID, cv
			return nil
		})
	if err != nil {
		return err
	}
	list := make([]*demoCheck, 0, len(checks))
	for _, m := range meters {
		list = append(list, checks[m])
	}
	return d.verify(ctx, list)
}

// runEach submits each check's command on its own, waits until all are final and checks
// them.
func (d *demo) runEach(ctx context.Context, checks []*demoCheck) error {
	for _, c := range checks {
		var cv commandView
		req := map[string]any{"target": map[string]any{"meter": c.meter}, "action": c.action}
		if c.action == "read" {
			req["items"] = []string{"energy_forward_total"}
		}
		if _, err := d.api.doJSON(ctx, http.MethodPost, "/v1/commands", req, &cv); err != nil {
			return fmt.Errorf("%s on meter %s: %w", c.action, c.meter, err)
		}
		c.id = cv.ID
	}
	for _, c := range checks {
		for {
			_, cv, err := getCommand(ctx, d.api, c.id)
			if err != nil {
				return err
			}
			if finalStates[cv.State] {
				c.got = cv
				break
			}
			if err := sleepContext(ctx, 200*time.Millisecond); err != nil {
				return fmt.Errorf("command %s is still %s: %w", c.id, cv.State, err)
			}
		}
	}
	return d.verify(ctx, checks)
}

// verify compares each finished command with its expectation and the simulator's oracle.
func (d *demo) verify(ctx context.Context, checks []*demoCheck) error {
	for _, c := range checks {
		if c == nil {
			continue
		}
		got := c.got
		if c.id == "" {
			c.problems = append(c.problems, "no command was created")
		}
		if got.State != c.wantState {
			c.problems = append(c.problems, fmt.Sprintf("state %s, want %s%s", got.State,
				c.wantState, reasonSuffix(got)))
		}
		if c.wantOutcome != "" && (got.Result == nil || got.Result.Outcome != c.wantOutcome) {
			outcome := "none"
			if got.Result != nil {
				outcome = got.Result.Outcome
			}
			c.problems = append(c.problems, fmt.Sprintf("outcome %s, want %s", outcome,
				c.wantOutcome))
		}
		if c.wantReason != "" && (got.Reason == nil || got.Reason.Code != c.wantReason) {
			c.problems = append(c.problems, fmt.Sprintf("reason %s, want %s",
				reasonCode(got), c.wantReason))
		}
		if c.wantBypass && (got.Result == nil || !got.Result.SuspectedBypass) {
			c.problems = append(c.problems, "suspected_bypass not set")
		}
		if c.physical != nil {
			m, err := d.simMeter(ctx, c.meter)
			if err != nil {
				return err
			}
			if p := c.physical(m); p != "" {
				c.problems = append(c.problems, p)
			}
		}
		d.results.mu.Lock()
		d.results.checks = append(d.results.checks, c)
		d.results.mu.Unlock()
		if len(c.problems) > 0 || c.phase != "read" && c.phase != "region trip" {
			d.report(c)
		}
	}
	return nil
}

func reasonCode(cv commandView) string {
	if cv.Reason == nil {
		return "none"
	}
	return cv.Reason.Code
}

func reasonSuffix(cv commandView) string {
	if cv.Reason == nil {
		return ""
	}
	return " (" + cv.Reason.Code + ": " + cv.Reason.Message + ")"
}

// report prints one line per individually shown command.
func (d *demo) report(c *demoCheck) {
	detail := c.got.State
	if c.got.Result != nil && c.got.Result.Outcome != "" {
		detail += " " + c.got.Result.Outcome
		if c.got.Result.SuspectedBypass {
			detail += ", suspected_bypass"
		}
	}
	if c.got.Reason != nil {
		detail += " " + c.got.Reason.Code
	}
	mark := "ok "
	if len(c.problems) > 0 {
		mark = "BAD"
	}
	fmt.Fprintf(d.log, "   %s %-22s %-17s meter %s → %s\n", mark, c.phase, c.action, c.meter,
		detail)
	for _, p := range c.problems {
		fmt.Fprintf(d.log, "       %s\n", p)
	}
}

func (d *demo) note(s string) {
	d.results.mu.Lock()
	d.results.notes = append(d.results.notes, s)
	d.results.mu.Unlock()
	fmt.Fprintf(d.log, "   %s\n", s)
}

func (d *demo) setFault(ctx context.Context, meter, fault string, params map[string]any) error {
	body := map[string]any{"target": map[string]any{"meter": meter}, "fault": fault}
	if params != nil {
		body["params"] = params
	}
	return d.controlDo(ctx, http.MethodPut, "/faults", body, nil)
}

func (d *demo) simMeter(ctx context.Context, address string) (simMeterState, error) {
	var m simMeterState
	err := d.controlDo(ctx, http.MethodGet, "/meters/"+address, nil, &m)
	return m, err
}

// controlDo calls the simulator's control API.
func (d *demo) controlDo(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.control+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("simulator control API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("simulator control API %s %s returned %d: %s", method, path,
			resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// demoSummary is the summary printed at the end, also as JSON with --json.
type demoSummary struct {
	Passed   bool                    `json:"passed"`
	Duration string                  `json:"duration"`
	Commands int                     `json:"commands"`
	Outcomes map[string]int          `json:"outcomes"`
	Reasons  map[string]int          `json:"reasons"`
	Latency  map[string]latencyStats `json:"latency_ms"`
	Failures []string                `json:"mismatches"`
	Notes    []string                `json:"notes,omitempty"`
}

// latencyStats are the command latencies of one action, from submission to final state.
type latencyStats struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50"`
	P95   int64 `json:"p95"`
}

// collectSummary counts the checks by outcome and reason, computes the latency
// percentiles per action and lists every mismatch.
func (d *demo) collectSummary(elapsed time.Duration) demoSummary {
	s := demoSummary{Passed: true, Duration: elapsed.Round(100 * time.Millisecond).String(),
		Outcomes: map[string]int{}, Reasons: map[string]int{},
		Latency: map[string]latencyStats{}, Notes: d.results.notes}

	byAction := map[string][]time.Duration{}
	for _, c := range d.results.checks {
		s.Commands++
		key := c.got.State
		if c.got.Result != nil && c.got.Result.Outcome != "" {
			key += "/" + c.got.Result.Outcome
		}
		s.Outcomes[key]++
		if c.got.Reason != nil {
			s.Reasons[c.got.Reason.Code]++
		}
		if !c.got.CreatedAt.IsZero() {
			byAction[c.action] = append(byAction[c.action], c.got.UpdatedAt.Sub(c.got.CreatedAt))
		}
		if len(c.problems) > 0 {
			s.Passed = false
			s.Failures = append(s.Failures, fmt.Sprintf("%s %s meter %s: %s", c.phase, c.action,
				c.meter, strings.Join(c.problems, "; ")))
		}
	}

	for action, ds := range byAction {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		s.Latency[action] = latencyStats{Count: len(ds), P50: percentile(ds, 50).Milliseconds(),
			P95: percentile(ds, 95).Milliseconds()}
	}
	return s
}

// summary prints the summary and reports whether every check passed.
func (d *demo) summary(elapsed time.Duration) bool {
	s := d.collectSummary(elapsed)
	if d.o.asJSON {
		_ = writeJSONLine(d.out, nil, s)
		return s.Passed
	}
	w := d.out
	fmt.Fprintf(w, "\nfeegate demo summary (%s, %d commands)\n", s.Duration, s.Commands)
	fmt.Fprintln(w, "  outcomes:")
	for _, k := range sortedKeys(s.Outcomes) {
		fmt.Fprintf(w, "    %-28s %6d\n", k, s.Outcomes[k])
	}
	if len(s.Reasons) > 0 {
		fmt.Fprintln(w, "  failure reasons:")
		for _, k := range sortedKeys(s.Reasons) {
			fmt.Fprintf(w, "    %-28s %6d\n", k, s.Reasons[k])
		}
	}
	fmt.Fprintln(w, "  latency from submission to final state:")
	for _, k := range sortedKeys(s.Latency) {
		l := s.Latency[k]
		fmt.Fprintf(w, "    %-18s n=%-6d p50 %6d ms   p95 %6d ms\n", k, l.Count, l.P50, l.P95)
	}
	if s.Passed {
		fmt.Fprintln(w, "  every outcome matches the simulator: PASS")
	} else {
		fmt.Fprintf(w, "  %d commands do not match what the simulator reports: FAIL\n",
			len(s.Failures))
		for _, f := range s.Failures {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	return s.Passed
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
