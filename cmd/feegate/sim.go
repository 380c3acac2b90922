package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/simulator"
)

func init() { fieldCommands = append(fieldCommands, newSimCommand) }

// simFlags are the flags of feegate sim.
type simFlags struct {
	gateway           string
	terminals         int
	metersPerTerminal int
	region            int
	serial            int
	metersPerBus      int
	modbus            int
	latency           string
	control           string
	scenario          string
	seed              uint64
	exportArchive     string
	readyFile         string
	heartbeat         time.Duration
	logFormat         string
}

func newSimCommand() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated fleet of terminals, meters, pty buses and Modbus meters",
		Long: `Run a simulated fleet: 376.1 terminals that connect to the gateway, log in,
heartbeat and forward DL/T 645 frames to their meters; RS-485 buses on pseudo-terminals;
Modbus TCP meters. When the fleet is up it writes the archive to --export-archive, writes
{"control", "serial", "modbus"} to --ready-file and prints the same line on stdout, then runs
until interrupted. The control API (GET /terminals, /meters, PUT/DELETE /faults, ...) reports
the physical state of every relay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.gateway, "gateway", "", "gateway terminal server HOST:PORT (required when --terminals > 0)")
	fl.IntVar(&f.terminals, "terminals", simulator.DefaultTerminals, "number of 376.1 terminals")
	fl.IntVar(&f.metersPerTerminal, "meters-per-terminal", simulator.DefaultMetersPerTerminal, "meters behind each terminal")
	fl.IntVar(&f.region, "region", simulator.DefaultRegion, "region code A1 of every terminal (4 digits)")
	fl.IntVar(&f.serial, "serial", 0, "number of RS-485 buses on pseudo-terminals")
	fl.IntVar(&f.metersPerBus, "meters-per-bus", simulator.DefaultMetersPerBus, "meters on each bus")
	fl.IntVar(&f.modbus, "modbus", 0, "number of Modbus TCP meters on one server, one unit id each")
	fl.StringVar(&f.latency, "latency", "100ms-300ms", "channel latency per forward, MIN-MAX")
	fl.StringVar(&f.control, "control", "127.0.0.1:0", "control API listen address")
	fl.StringVar(&f.scenario, "scenario", "", "scenario file (YAML or JSON): fleet size, timing and faults")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of addresses and meter parameters")
	fl.StringVar(&f.exportArchive, "export-archive", "", "write the fleet's archive (JSON) to this file")
	fl.StringVar(&f.readyFile, "ready-file", "", "write the ready JSON to this file when the fleet is up")
	fl.DurationVar(&f.heartbeat, "heartbeat", time.Minute, "terminal heartbeat period")
	fl.StringVar(&f.logFormat, "log-format", "", "log format: json (default) or console")
	return cmd
}

func runSim(cmd *cobra.Command, f simFlags) error {
	log, err := newLogger(f.logFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	latency, err := simulator.ParseRange(f.latency)
	if err != nil {
		return fmt.Errorf("--latency: %w", err)
	}
	if f.region < 0 || f.region > 9999 {
		return fmt.Errorf("--region %d: want 4 decimal digits", f.region)
	}
	opts := simulator.Options{
		Gateway: f.gateway, Terminals: f.terminals, MetersPerTerminal: f.metersPerTerminal,
		Region: uint16(f.region), Serial: f.serial, MetersPerBus: f.metersPerBus,
		Modbus: f.modbus, Latency: latency, Control: f.control, Seed: f.seed,
		Heartbeat: f.heartbeat, Logger: log,
	}
	var scenario *simulator.Scenario
	if f.scenario != "" {
		scenario, err = simulator.LoadScenario(f.scenario)
		if err != nil {
			return err
		}
		scenario.Apply(&opts, cmd.Flags().Changed)
	}
	fleet, err := simulator.New(opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fleet.Start(ctx); err != nil {
		return err
	}
	defer fleet.Close()
	if scenario != nil {
		if err := scenario.ApplyFaults(fleet); err != nil {
			return err
		}
	}
	if f.exportArchive != "" {
		if err := writeArchive(f.exportArchive, fleet.Archive()); err != nil {
			return err
		}
	}
	ready, err := json.Marshal(fleet.Ready())
	if err != nil {
		return err
	}
	if f.readyFile != "" {
		if err := os.WriteFile(f.readyFile, append(ready, '\n'), 0o644); err != nil {
			return fmt.Errorf("--ready-file: %w", err)
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(ready))
	log.Info("simulator ready", zap.ByteString("ready", ready))
	<-ctx.Done()
	log.Info("simulator stopping")
	return nil
}

// writeArchive writes the archive as JSON through a temporary file, so a reader never
// sees half of it.
func writeArchive(path string, a *archive.Archive) error {
	tmp := path + ".tmp"
	file, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("--export-archive: %w", err)
	}
	if err := archive.EncodeJSON(file, a); err != nil {
		_ = file.Close()
		return fmt.Errorf("--export-archive: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("--export-archive: %w", err)
	}
	return os.Rename(tmp, path)
}
