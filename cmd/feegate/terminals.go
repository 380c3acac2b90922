package main

import (
	"encoding/json"
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

func init() {
	fieldCommands = append(fieldCommands, newTerminalsCommand, newTerminalCommand)
}

// terminalView is the terminal diagnosis of the API, as the tables need it.
type terminalView struct {
	Address          string         `json:"address"`
	Online           bool           `json:"online"`
	OnlineSince      *time.Time     `json:"online_since"`
	LastFrameAt      *time.Time     `json:"last_frame_at"`
	RemoteAddr       string         `json:"remote_addr"`
	HeartbeatPeriodS int            `json:"heartbeat_period_s"`
	Logins24h        int            `json:"logins_24h"`
	Disconnects24h   map[string]int `json:"disconnects_24h"`
	LastDisconnect   *struct {
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	} `json:"last_disconnect"`
	LastError string `json:"last_error"`
	Flapping  bool   `json:"flapping"`
}

func newTerminalsCommand() *cobra.Command {
	var (
		o      apiOptions
		online bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "terminals",
		Short: "List terminals with their connection state (through the API)",
		Example: `  feegate terminals --online
  FEEGATE_API=http://127.0.0.1:8080 FEEGATE_TOKEN=... feegate terminals --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			q := url.Values{}
			if cmd.Flags().Changed("online") {
				q.Set("online", fmt.Sprint(online))
			}
			out := cmd.OutOrStdout()
			var rows []terminalView
			err = c.list(cmd.Context(), "/v1/terminals", q, limit, func(raw json.RawMessage) error {
				if o.asJSON {
					return printJSONLine(out, raw)
				}
				var t terminalView
				if err := json.Unmarshal(raw, &t); err != nil {
					return fmt.Errorf("decode terminal: %w", err)
				}
				rows = append(rows, t)
				return nil
			})
			if err != nil || o.asJSON {
				return err
			}
			return printTerminalTable(out, rows)
		},
	}
	addAPIFlags(cmd, &o)
	cmd.Flags().BoolVar(&online, "online", false, "list only online terminals "+
		"(--online=false lists only offline ones)")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most N terminals (0: all)")
	return cmd
}

func printTerminalTable(out io.Writer, rows []terminalView) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TERMINAL\tONLINE\tSINCE\tLAST FRAME\tREMOTE\tLOGINS/24H\t"+
		"DISCONNECTS/24H\tFLAPPING")
	for _, t := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Address, yesNo(t.Online),
			timeOrDash(t.OnlineSince), timeOrDash(t.LastFrameAt), orDash(t.RemoteAddr),
			t.Logins24h, disconnectSummary(t.Disconnects24h), yesNo(t.Flapping))
	}
	return tw.Flush()
}

func newTerminalCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "terminal",
		Short: "Diagnose one terminal (through the API)",
	}
	var o apiOptions
	show := &cobra.Command{
		Use:     "show A1A2",
		Short:   "Show why a terminal is offline or unstable: sessions, disconnects, errors",
		Example: "  feegate terminal show 24495845",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := protocol.ParseTerminalAddress(args[0])
			if err != nil {
				return fmt.Errorf("invalid terminal address %q: write A1A2 as 4 digits and "+
					"4 hex digits, such as 24495845", args[0])
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			var raw json.RawMessage
			path := "/v1/terminals/" + url.PathEscape(addr.String())
			if _, err := c.do(cmd.Context(), "GET", path, nil, nil, "", &raw); err != nil {
				return err
			}
			if o.asJSON {
				return printJSONLine(cmd.OutOrStdout(), raw)
			}
			var t terminalView
			if err := json.Unmarshal(raw, &t); err != nil {
				return fmt.Errorf("decode terminal: %w", err)
			}
			return printTerminalDiagnosis(cmd.OutOrStdout(), t)
		},
	}
	addAPIFlags(show, &o)
	cmd.AddCommand(show)
	return cmd
}

func printTerminalDiagnosis(out io.Writer, t terminalView) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "terminal\t%s\n", t.Address)
	fmt.Fprintf(tw, "online\t%s\n", yesNo(t.Online))
	fmt.Fprintf(tw, "online since\t%s\n", timeOrDash(t.OnlineSince))
	fmt.Fprintf(tw, "last frame\t%s\n", timeOrDash(t.LastFrameAt))
	fmt.Fprintf(tw, "remote address\t%s\n", orDash(t.RemoteAddr))
	fmt.Fprintf(tw, "heartbeat period\t%ds\n", t.HeartbeatPeriodS)
	fmt.Fprintf(tw, "logins in 24 h\t%d\n", t.Logins24h)
	fmt.Fprintf(tw, "disconnects in 24 h\t%s\n", disconnectSummary(t.Disconnects24h))
	last := "-"
	if t.LastDisconnect != nil {
		last = t.LastDisconnect.At.Local().Format(time.RFC3339) + " " + t.LastDisconnect.Reason
	}
	fmt.Fprintf(tw, "last disconnect\t%s\n", last)
	fmt.Fprintf(tw, "last error\t%s\n", orDash(t.LastError))
	fmt.Fprintf(tw, "flapping\t%s\n", yesNo(t.Flapping))
	return tw.Flush()
}

// disconnectSummary writes disconnect counts as "reason=n" pairs, largest first.
func disconnectSummary(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	reasons := make([]string, 0, len(m))
	for r := range m {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if m[reasons[i]] != m[reasons[j]] {
			return m[reasons[i]] > m[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s=%d", r, m[r])
	}
	return strings.Join(parts, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}
