package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/feegate/feegate/api/node"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/transport"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/yaml.v3"
)

// serveFile is the YAML configuration file of feegate serve. docs/operations.md lists
// every option with its default and unit.
type serveFile struct {
	TerminalListen  string         `yaml:"terminal_listen"`
	APIListen       string         `yaml:"api_listen"`
	Store           string         `yaml:"store"`
	Tokens          []string       `yaml:"tokens"`
	LogFormat       string         `yaml:"log_format"`
	SecuritySecret  string         `yaml:"security_secret"`
	Operator        string         `yaml:"operator"`
	ShutdownTimeout time.Duration  `yaml:"shutdown_timeout"`
	ForwardTimeout  time.Duration  `yaml:"forward_timeout"`
	ForwardControl  time.Duration  `yaml:"forward_control_timeout"`
	ClockTolerance  time.Duration  `yaml:"clock_tolerance"`
	Engine          gateway.Config `yaml:"engine"`
	Terminal        terminalFile   `yaml:"terminal"`
}

// terminalFile holds the terminal-server options of the file.
type terminalFile struct {
	HeartbeatPeriod   time.Duration `yaml:"heartbeat_period"`
	OfflineFactor     float64       `yaml:"offline_factor"`
	LoginTimeout      time.Duration `yaml:"login_timeout"`
	RequestTimeout    time.Duration `yaml:"request_timeout"`
	ForwardMargin     time.Duration `yaml:"forward_margin"`
	Attempts          int           `yaml:"attempts"`
	MaxQueued         int           `yaml:"max_queued"`
	MaxConnsPerIP     int           `yaml:"max_conns_per_ip"`
	MaxProtocolErrors int           `yaml:"max_protocol_errors"`
	EventLoops        int           `yaml:"event_loops"`
	ReadEvents        bool          `yaml:"read_events"`
	ConfirmF1         bool          `yaml:"confirm_f1"`
}

type serveFlags struct {
	config, terminalListen, apiListen, store, logFormat string
	tokens                                              []string
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: terminal server, command engine and HTTP API",
		Long: "Run the gateway. Each setting is taken from its flag, else its environment " +
			"variable (FEEGATE_TOKEN, FEEGATE_TERMINAL_LISTEN, FEEGATE_API_LISTEN, " +
			"FEEGATE_STORE), else the --config file, else its default. Without any token " +
			"the API may only listen on a loopback address.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration file")
	fl.StringVar(&f.terminalListen, "terminal-listen", "",
		"terminal server listen address host:port (default \":9027\")")
	fl.StringVar(&f.apiListen, "api-listen", "",
		"HTTP API listen address host:port (default \"127.0.0.1:8080\")")
	fl.StringVar(&f.store, "store", "", "bbolt store file (default \"./feegate.db\")")
	fl.StringArrayVar(&f.tokens, "token", nil,
		"API bearer token; repeat the flag for several")
	fl.StringVar(&f.logFormat, "log-format", "", "log format: json (default) or console")
	return cmd
}

// pick returns the first non-empty value: flag, environment, file, default.
func pick(flag, env, file, def string) string {
	for _, v := range []string{flag, os.Getenv(env), file} {
		if v != "" {
			return v
		}
	}
	return def
}

// loadServeConfig resolves the node configuration from flags, environment and file.
func loadServeConfig(f serveFlags) (node.Config, string, error) {
	var file serveFile
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return node.Config{}, "", fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
			return node.Config{}, "", describeConfigError(f.config, err)
		}
	}
	cfg := node.Config{
		TerminalListen: pick(f.terminalListen, "FEEGATE_TERMINAL_LISTEN",
			file.TerminalListen, ":9027"),
		APIListen: pick(f.apiListen, "FEEGATE_API_LISTEN", file.APIListen,
			"127.0.0.1:8080"),
		StorePath:       pick(f.store, "FEEGATE_STORE", file.Store, "./feegate.db"),
		Engine:          file.Engine,
		SecuritySecret:  file.SecuritySecret,
		Operator:        file.Operator,
		ShutdownTimeout: file.ShutdownTimeout,
		ForwardTimeout:  file.ForwardTimeout,
	}
	cfg.ForwardControlTimeout = file.ForwardControl
	if file.ClockTolerance < 0 {
		return node.Config{}, "", fmt.Errorf("config %s: clock_tolerance %v is negative; "+
			"set a positive duration such as 10s, or leave it out for the default",
			f.config, file.ClockTolerance)
	}
	cfg.ClockTolerance = file.ClockTolerance
	switch {
	case len(f.tokens) > 0:
		cfg.Tokens = f.tokens
	case os.Getenv("FEEGATE_TOKEN") != "":
		cfg.Tokens = []string{os.Getenv("FEEGATE_TOKEN")}
	default:
		cfg.Tokens = file.Tokens
	}
	t := file.Terminal
	cfg.Terminal = transport.ServerConfig{HeartbeatPeriod: t.HeartbeatPeriod,
		OfflineFactor: t.OfflineFactor, LoginTimeout: t.LoginTimeout,
		RequestTimeout: t.RequestTimeout, ForwardMargin: t.ForwardMargin,
		Attempts: t.Attempts, MaxQueued: t.MaxQueued, MaxConnsPerIP: t.MaxConnsPerIP,
		MaxProtocolErrors: t.MaxProtocolErrors, EventLoops: t.EventLoops,
		ReadEvents: t.ReadEvents}
	if t.ConfirmF1 {
		cfg.Terminal.ConfirmStyle = transport.ConfirmAllUnits
	}
	format := pick(f.logFormat, "FEEGATE_LOG_FORMAT", file.LogFormat, "json")
	if format != "json" && format != "console" {
		return cfg, "", fmt.Errorf("invalid log format %q: use json or console", format)
	}
	return cfg, format, checkAPIExposure(cfg)
}

func newLogger(format string) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.OutputPaths = []string{"stderr"}
	zc.ErrorOutputPaths = []string{"stderr"}
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	if format == "console" {
		zc.Encoding = "console"
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	return zc.Build()
}

func runServe(cmd *cobra.Command, f serveFlags) error {
	cfg, format, err := loadServeConfig(f)
	if err != nil {
		return err
	}
	log, err := newLogger(format)
	if err != nil {
		return err
	}
	defer log.Sync()
	cfg.Logger = log
	n, err := node.Start(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: draining commands in flight")
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	drain, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.Close(drain)
}
