package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/feegate/feegate/protocol"
	"github.com/spf13/cobra"
)

func init() { fieldCommands = append(fieldCommands, newCommandCommand) }

// commandView is the command object of the API, as the tables need it.
type commandView struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		Meter    string `json:"meter"`
		Terminal string `json:"terminal"`
		Turn     int    `json:"turn"`
	} `json:"target"`
	State  string `json:"state"`
	Reason *struct {
		Code     string          `json:"code"`
		Message  string          `json:"message"`
		Evidence json.RawMessage `json:"evidence"`
	} `json:"reason"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Batch     string    `json:"batch"`
	Result    *struct {
		Outcome string `json:"outcome"`
		Relay   *struct {
			State        string `json:"state"`
			CommandState string `json:"command_state"`
			Guarantee    bool   `json:"guarantee"`
			Alarm        bool   `json:"alarm"`
		} `json:"relay"`
		Readings map[string]struct {
			Value json.RawMessage `json:"value"`
			Unit  string          `json:"unit"`
		} `json:"readings"`
		SuspectedBypass bool `json:"suspected_bypass"`
	} `json:"result"`
	History []struct {
		At     time.Time `json:"at"`
		State  string    `json:"state"`
		Detail string    `json:"detail"`
	} `json:"history"`
}

// finalStates are the states a command never leaves.
var finalStates = map[string]bool{"succeeded": true, "failed": true, "expired": true,
	"cancelled": true}

// apiActions are the API's action names; the CLI accepts them in kebab case too.
var apiActions = []string{"read", "trip", "allow_close", "close", "alarm", "alarm_release",
	"guarantee", "guarantee_release", "sync_time", "ping"}

// apiAction converts an action written in kebab or snake case to the API's name.
func apiAction(s string) (string, error) {
	a := strings.ReplaceAll(strings.TrimSpace(s), "-", "_")
	for _, known := range apiActions {
		if a == known {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q: use one of %s", s, strings.Join(apiActions, ", "))
}

func (c commandView) target() string {
	if c.Target.Meter != "" {
		return "meter " + c.Target.Meter
	}
	return fmt.Sprintf("terminal %s turn %d", c.Target.Terminal, c.Target.Turn)
}

func newCommandCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "command",
		Short: "Submit, show and follow commands (through the API)",
	}
	cmd.AddCommand(newCommandSubmitCommand(), newCommandShowCommand(), newCommandWatchCommand())
	return cmd
}

// commandRequest is the body of POST /v1/commands.
type commandRequest struct {
	Target         map[string]any `json:"target"`
	Action         string         `json:"action"`
	Items          []string       `json:"items,omitempty"`
	Deadline       string         `json:"deadline,omitempty"`
	Operator       string         `json:"operator,omitempty"`
	Force          bool           `json:"force,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
}

// submitFlags are the flags of command submit.
type submitFlags struct {
	req      commandRequest
	meter    string
	terminal string
	turn     int
	action   string
	validFor time.Duration
	deadline string
}

// request validates the flags and builds the body of POST /v1/commands.
func (sf *submitFlags) request() (commandRequest, error) {
	req := sf.req
	var err error
	if req.Action, err = apiAction(sf.action); err != nil {
		return req, err
	}

	switch {
	case sf.meter != "" && sf.terminal != "":
		return req, errors.New("give either --meter or --terminal, not both")
	case sf.meter != "":
		if _, err := protocol.ParseMeterAddress(sf.meter); err != nil {
			return req, fmt.Errorf("invalid --meter %q: use the 12-digit address", sf.meter)
		}
		req.Target = map[string]any{"meter": sf.meter}
	case sf.terminal != "":
		if _, err := protocol.ParseTerminalAddress(sf.terminal); err != nil {
			return req, fmt.Errorf("invalid --terminal %q: use A1A2, such as 24495845",
				sf.terminal)
		}
		if sf.turn < 1 {
			return req, errors.New("missing --turn: a terminal command needs its control turn")
		}
		req.Target = map[string]any{"terminal": sf.terminal, "turn": sf.turn}
	default:
		return req, errors.New("missing --meter ADDRESS or --terminal A1A2 --turn N")
	}

	switch {
	case sf.deadline != "" && sf.validFor > 0:
		return req, errors.New("give either --deadline or --valid-for, not both")
	case sf.deadline != "":
		if _, err := time.Parse(time.RFC3339, sf.deadline); err != nil {
			return req, fmt.Errorf("invalid --deadline %q: use RFC 3339, such as "+
				"2026-03-01T18:00:00+08:00", sf.deadline)
		}
		req.Deadline = sf.deadline
	case sf.validFor > 0:
		req.Deadline = time.Now().Add(sf.validFor).Format(time.RFC3339)
	}
	return req, nil
}

func newCommandSubmitCommand() *cobra.Command {
	var (
		o     apiOptions
		sf    submitFlags
		watch bool
		wo    watchOptions
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit a command for a meter or a terminal control turn",
		Example: `  feegate command submit --meter 000000000161 --action trip --watch
  feegate command submit --meter 000000000161 --action read --item relay_state
  feegate command submit --terminal 24495845 --turn 1 --action allow-close`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := sf.request()
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()

			var raw json.RawMessage
			if _, err := c.doJSON(cmd.Context(), "POST", "/v1/commands", req, &raw); err != nil {
				return err
			}
			var cv commandView
			if err := json.Unmarshal(raw, &cv); err != nil {
				return fmt.Errorf("decode command: %w", err)
			}
			if !watch {
				return printCommand(cmd.OutOrStdout(), raw, cv, o.asJSON)
			}
			return watchCommand(cmd, c, cv.ID, o.asJSON, wo)
		},
	}
	addAPIFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&sf.meter, "meter", "", "target meter `ADDRESS` (12 digits)")
	f.StringVar(&sf.terminal, "terminal", "", "target terminal `A1A2` for a control-turn command")
	f.IntVar(&sf.turn, "turn", 0, "control turn of the terminal, from 1")
	f.StringVar(&sf.action, "action", "", "action: "+strings.Join(apiActions, ", ")+
		" (kebab case accepted)")
	f.StringArrayVar(&sf.req.Items, "item", nil, "read item, repeatable (read only)")
	f.StringVar(&sf.deadline, "deadline", "", "deadline in RFC 3339 (default: the gateway's)")
	f.DurationVar(&sf.validFor, "valid-for", 0, "deadline as a duration from now")
	f.StringVar(&sf.req.Operator, "operator", "", "operator recorded with the command")
	f.BoolVar(&sf.req.Force, "force", false, "override interlocks (protected meters and windows)")
	f.StringVar(&sf.req.IdempotencyKey, "idempotency-key", "",
		"key that makes a repeated submit return the first command")
	f.BoolVar(&watch, "watch", false, "follow the command until it reaches a final state")
	addWatchFlags(cmd, &wo)
	return cmd
}

func newCommandShowCommand() *cobra.Command {
	var o apiOptions
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a command with its reason, result and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			raw, cv, err := getCommand(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return printCommand(cmd.OutOrStdout(), raw, cv, o.asJSON)
		},
	}
	addAPIFlags(cmd, &o)
	return cmd
}

func getCommand(ctx context.Context, c *apiClient, id string) (json.RawMessage, commandView,
	error) {
	var raw json.RawMessage
	var cv commandView
	path := "/v1/commands/" + url.PathEscape(id)
	if _, err := c.do(ctx, "GET", path, nil, nil, "", &raw); err != nil {
		return nil, cv, err
	}
	if err := json.Unmarshal(raw, &cv); err != nil {
		return nil, cv, fmt.Errorf("decode command: %w", err)
	}
	return raw, cv, nil
}

func printCommand(out io.Writer, raw json.RawMessage, c commandView, asJSON bool) error {
	if asJSON {
		return printJSONLine(out, raw)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "command\t%s\n", c.ID)
	fmt.Fprintf(tw, "action\t%s\n", c.Action)
	fmt.Fprintf(tw, "target\t%s\n", c.target())
	fmt.Fprintf(tw, "state\t%s\n", c.State)
	if c.Reason != nil {
		fmt.Fprintf(tw, "reason\t%s: %s\n", c.Reason.Code, c.Reason.Message)
		if len(c.Reason.Evidence) > 0 && string(c.Reason.Evidence) != "null" {
			fmt.Fprintf(tw, "evidence\t%s\n", c.Reason.Evidence)
		}
	}
	fmt.Fprintf(tw, "attempts\t%d\n", c.Attempts)
	if c.Batch != "" {
		fmt.Fprintf(tw, "batch\t%s\n", c.Batch)
	}
	if r := c.Result; r != nil {
		fmt.Fprintf(tw, "outcome\t%s\n", r.Outcome)
		if r.Relay != nil {
			fmt.Fprintf(tw, "relay\t%s (command %s, guarantee %s, alarm %s)\n", r.Relay.State,
				orDash(r.Relay.CommandState), yesNo(r.Relay.Guarantee), yesNo(r.Relay.Alarm))
		}
		for _, line := range c.readingLines() {
			fmt.Fprintf(tw, "reading %s\t%s\n", line[0], line[1])
		}
		if r.SuspectedBypass {
			fmt.Fprintf(tw, "suspected bypass\tyes: power flows while the relay is open\n")
		}
	}
	for _, h := range c.History {
		fmt.Fprintf(tw, "history\t%s\n", strings.TrimSpace(h.At.Local().Format(time.RFC3339)+
			" "+h.State+" "+h.Detail))
	}
	return tw.Flush()
}

// readingLines returns the name and text of each reading of the result, sorted by name.
func (c commandView) readingLines() [][2]string {
	if c.Result == nil {
		return nil
	}
	names := make([]string, 0, len(c.Result.Readings))
	for name := range c.Result.Readings {
		names = append(names, name)
	}
	sort.Strings(names)
	lines := make([][2]string, 0, len(names))
	for _, name := range names {
		v := c.Result.Readings[name]
		text := jsonValueText(v.Value)
		if v.Unit != "" {
			text += " " + v.Unit
		}
		lines = append(lines, [2]string{name, text})
	}
	return lines
}

// watchOptions set how command watch follows a command.
type watchOptions struct {
	timeout time.Duration
	poll    time.Duration
	noSSE   bool
	// still is how long a command may stay unchanged before watch prints that it is still
	// in its state; 0 turns these lines off.
	still time.Duration
}

func addWatchFlags(cmd *cobra.Command, w *watchOptions) {
	f := cmd.Flags()
	f.DurationVar(&w.timeout, "watch-timeout", 10*time.Minute,
		"stop watching after this long")
	f.DurationVar(&w.poll, "poll-interval", time.Second,
		"interval between polls when the event stream is unavailable")
	f.BoolVar(&w.noSSE, "poll", false, "poll the command instead of following the event stream")
	f.DurationVar(&w.still, "still-interval", 30*time.Second,
		"print a line when the command stays unchanged this long, such as while the gateway "+
			"retries a silent terminal (0: never)")
}

func newCommandWatchCommand() *cobra.Command {
	var (
		o  apiOptions
		wo watchOptions
	)
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a command until it reaches a final state",
		Long: `Follow a command until it reaches a final state, printing each state change.

The command follows the API's event stream and falls back to polling when the stream is
unavailable. The exit status is 0 when the command succeeded and 1 when it failed, expired
or was cancelled.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			return watchCommand(cmd, c, args[0], o.asJSON, wo)
		},
	}
	addAPIFlags(cmd, &o)
	addWatchFlags(cmd, &wo)
	return cmd
}

// watchCommand prints each new state of command id until it is final. It subscribes to the
// event stream before it reads the command, so no change falls between the two.
func watchCommand(cmd *cobra.Command, c *apiClient, id string, asJSON bool,
	wo watchOptions) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), wo.timeout)
	defer cancel()
	p := &watchPrinter{out: cmd.OutOrStdout(), asJSON: asJSON, still: wo.still, now: time.Now}
	last := ""
	show := func(raw json.RawMessage, cv commandView) (bool, error) {
		last = cv.State
		if err := p.show(raw, cv); err != nil {
			return false, err
		}
		return finalStates[cv.State], p.stillLine()
	}

	if wo.noSSE {
		return pollCommand(ctx, c, id, wo.poll, show)
	}
	var tick <-chan time.Time
	if wo.still > 0 {
		ticker := time.NewTicker(min(wo.still, time.Second))
		defer ticker.Stop()
		tick = ticker.C
	}

	type update struct {
		raw json.RawMessage
		cv  commandView
	}
	opened := make(chan struct{})
	updates := make(chan update, 16)
	done := make(chan error, 1)
	streamCtx, stopStream := context.WithCancel(ctx)
	defer func() {
		stopStream()
		<-done
	}()
	go func() {
		done <- c.events(streamCtx, "", func() { close(opened) }, func(ev sseEvent) (bool, error) {
			if ev.Type != "command" {
				return false, nil
			}
			var cv commandView
			if json.Unmarshal(ev.Data, &cv) != nil || cv.ID != id {
				return false, nil
			}
			select {
			case updates <- update{raw: append(json.RawMessage(nil), ev.Data...), cv: cv}:
			case <-streamCtx.Done():
				return true, nil
			}
			return finalStates[cv.State], nil
		})
	}()

	select {
	case <-opened:
	case err := <-done:
		done <- err // for the deferred receive
		return pollCommand(ctx, c, id, wo.poll, show)
	}
	raw, cv, err := getCommand(ctx, c, id)
	if err != nil {
		return err
	}
	if final, err := show(raw, cv); err != nil || final {
		if err != nil {
			return err
		}
		return commandExit(cv)
	}
	for {
		select {
		case u := <-updates:
			final, err := show(u.raw, u.cv)
			if err != nil {
				return err
			}
			if final {
				return commandExit(u.cv)
			}
		case <-tick:
			if err := p.stillLine(); err != nil {
				return err
			}
		case err := <-done:
			done <- err
			// The stream ended early (a proxy timeout or a restart): keep going by polling.
			return pollCommand(ctx, c, id, wo.poll, show)
		case <-ctx.Done():
			return fmt.Errorf("command %s is still %s: %w", id, last, ctx.Err())
		}
	}
}

// pollCommand reads command id every interval until it is final.
func pollCommand(ctx context.Context, c *apiClient, id string, interval time.Duration,
	show func(json.RawMessage, commandView) (bool, error)) error {
	for {
		raw, cv, err := getCommand(ctx, c, id)
		if err != nil {
			return err
		}
		final, err := show(raw, cv)
		if err != nil {
			return err
		}
		if final {
			return commandExit(cv)
		}
		if err := sleepContext(ctx, interval); err != nil {
			return fmt.Errorf("command %s is still %s: %w", id, cv.State, err)
		}
	}
}

// commandExit returns exit status 1 for a command that did not succeed.
func commandExit(cv commandView) error {
	if cv.State == "succeeded" {
		return nil
	}
	return exitError{code: 1}
}

// watchPrinter prints a followed command. It prints each history entry once as it arrives,
// or the state change of an object without new entries. On the final state it prints one
// line with the reason or outcome, followed by the values read.
type watchPrinter struct {
	out     io.Writer
	asJSON  bool
	still   time.Duration
	now     func() time.Time
	state   string
	history int
	prefix  string    // command id and target of the text lines
	since   time.Time // when the command was first seen in its current state
	printed time.Time // when the last text line was printed
}

// stillLine prints that the command is still in its state when nothing was printed for
// p.still, so that a long retry does not look like a hung watch.
func (p *watchPrinter) stillLine() error {
	now := p.now()
	if p.asJSON || p.still <= 0 || p.state == "" || finalStates[p.state] ||
		now.Sub(p.printed) < p.still {
		return nil
	}
	p.printed = now
	_, err := fmt.Fprintf(p.out, "%s %s still %s after %v\n", now.Local().Format("15:04:05"),
		p.prefix, p.state, now.Sub(p.since).Round(time.Second))
	return err
}

func (p *watchPrinter) show(raw json.RawMessage, cv commandView) error {
	changed := cv.State != p.state || len(cv.History) > p.history
	if cv.State != p.state {
		p.since = p.now()
	}
	p.state = cv.State
	if !changed {
		return nil
	}
	p.printed = p.now()
	if p.asJSON {
		p.history = max(p.history, len(cv.History))
		return printJSONLine(p.out, raw)
	}

	p.prefix = cv.ID + " " + cv.target() + ":"
	final := finalStates[cv.State]
	printed, err := p.printHistory(cv, final)
	if err != nil || (printed > 0 && !final) {
		return err
	}
	return p.printState(cv, final)
}

// printHistory prints the history entries of cv not printed yet and returns their number.
// On the final state it leaves out the final entry, which printState stands for.
func (p *watchPrinter) printHistory(cv commandView, final bool) (int, error) {
	fresh := cv.History[min(p.history, len(cv.History)):]
	p.history = max(p.history, len(cv.History))
	if final {
		for len(fresh) > 0 && fresh[len(fresh)-1].State == cv.State {
			fresh = fresh[:len(fresh)-1]
		}
	}
	for _, h := range fresh {
		line := strings.TrimSpace(fmt.Sprintf("%s %s %s %s", h.At.Local().Format("15:04:05"),
			p.prefix, h.State, h.Detail))
		if _, err := fmt.Fprintln(p.out, line); err != nil {
			return 0, err
		}
	}
	return len(fresh), nil
}

// printState prints the state of cv with its reason and outcome, and after the final state
// the values read.
func (p *watchPrinter) printState(cv commandView, final bool) error {
	at := cv.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	line := fmt.Sprintf("%s %s %s", at.Local().Format("15:04:05"), p.prefix, cv.State)
	if cv.Reason != nil {
		line += fmt.Sprintf(" (%s: %s)", cv.Reason.Code, cv.Reason.Message)
	}
	if cv.Result != nil && cv.Result.Outcome != "" {
		line += " outcome " + cv.Result.Outcome
	}
	if _, err := fmt.Fprintln(p.out, line); err != nil {
		return err
	}
	if !final {
		return nil
	}

	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	for _, r := range cv.readingLines() {
		fmt.Fprintf(tw, "  %s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}
