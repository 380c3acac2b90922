package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/feegate/feegate/protocol"
	"github.com/spf13/cobra"
)

func init() { fieldCommands = append(fieldCommands, newBatchCommand) }

// batchView is the batch object of the API.
type batchView struct {
	ID     string         `json:"id"`
	Action string         `json:"action"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

// finished returns the number of commands of b in a final state.
func (b batchView) finished() int {
	n := 0
	for s := range finalStates {
		n += b.Counts[s]
	}
	return n
}

// batchRequest is the body of POST /v1/batches.
type batchRequest struct {
	Action         string   `json:"action"`
	Meters         []string `json:"meters"`
	Items          []string `json:"items,omitempty"`
	Deadline       string   `json:"deadline,omitempty"`
	Operator       string   `json:"operator,omitempty"`
	Force          bool     `json:"force,omitempty"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
}

// resultColumns is the header of the result CSV.
var resultColumns = []string{"address", "command", "state", "reason", "message", "outcome",
	"relay", "suspected_bypass"}

func newBatchCommand() *cobra.Command {
	var (
		o        apiOptions
		req      batchRequest
		file     string
		output   string
		validFor time.Duration
		poll     time.Duration
		wait     time.Duration
		noWait   bool
	)
	cmd := &cobra.Command{
		Use:   "batch --action ACTION --file meters.csv",
		Short: "Submit one action for many meters from a CSV file and collect the results",
		Long: `Submit one action for every meter listed in a CSV file, follow the batch with a
progress bar on standard error, and write one result row per meter as CSV.

The input has one meter address per row: the column named "address" when the first row is a
header (such as the archive's meters CSV), else the first column. The result CSV has the
columns ` + strings.Join(resultColumns, ",") + `. The exit status is 1 when any command did
not succeed.`,
		Example: `  feegate batch --action trip --file arrears.csv --output trip-results.csv
  feegate batch --action read --item energy_forward_total --file meters.csv --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if req.Action, err = apiAction(req.Action); err != nil {
				return err
			}
			if file == "" {
				return errors.New("missing --file: a CSV file of meter addresses")
			}
			if req.Meters, err = readMeterList(file); err != nil {
				return err
			}
			if validFor > 0 {
				req.Deadline = time.Now().Add(validFor).Format(time.RFC3339)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			ctx := cmd.Context()
			var b batchView
			if _, err := c.doJSON(ctx, "POST", "/v1/batches", req, &b); err != nil {
				return err
			}
			progress := cmd.ErrOrStderr()
			fmt.Fprintf(progress, "batch %s: %s for %d meters\n", b.ID, b.Action, b.Total)
			if noWait {
				return printBatch(cmd.OutOrStdout(), b, o.asJSON)
			}
			waitCtx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			if b, err = followBatch(waitCtx, c, b, poll, progress); err != nil {
				return err
			}
			cmds, err := listBatchCommands(waitCtx, c, b.ID, poll)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			ok, err := writeBatchResults(out, cmds, o.asJSON)
			if err != nil {
				return err
			}
			if !ok {
				return exitError{code: 1}
			}
			return nil
		},
	}
	addAPIFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&req.Action, "action", "", "action, as the API names it: "+
		strings.Join(apiActions, ", "))
	f.StringVar(&file, "file", "", "CSV `FILE` of meter addresses")
	f.StringVar(&output, "output", "", "write the result CSV to `FILE` (default: standard output)")
	f.StringArrayVar(&req.Items, "item", nil, "read item, repeatable (read only)")
	f.DurationVar(&validFor, "valid-for", 0,
		"deadline as a duration from now (default: the gateway's)")
	f.StringVar(&req.Operator, "operator", "", "operator recorded with each command")
	f.BoolVar(&req.Force, "force", false, "override interlocks (protected meters and windows)")
	f.StringVar(&req.IdempotencyKey, "idempotency-key", "",
		"key that makes a repeated submit return the first batch")
	f.DurationVar(&poll, "poll-interval", time.Second, "interval between progress polls")
	f.DurationVar(&wait, "wait-timeout", time.Hour, "stop following the batch after this long")
	f.BoolVar(&noWait, "no-wait", false, "print the batch and return without following it")
	return cmd
}

// readMeterList reads the meter addresses of a CSV file, rejecting invalid and repeated
// addresses with their line number.
func readMeterList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	r.TrimLeadingSpace = true

	col := 0
	seen := map[string]int{}
	var meters []string
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if first {
			if i := indexOf(rec, "address"); i >= 0 {
				col = i
				continue
			}
		}
		if len(rec) <= col || strings.TrimSpace(rec[col]) == "" {
			continue
		}
		s := strings.TrimSpace(rec[col])
		a, err := protocol.ParseMeterAddress(s)
		if err != nil || a.IsWildcard() || a.IsBroadcast() {
			return nil, fmt.Errorf("%s line %d: invalid meter address %q: use 12 digits", path,
				line, s)
		}
		if prev, ok := seen[a.String()]; ok {
			return nil, fmt.Errorf("%s line %d: meter %s repeats line %d", path, line, a, prev)
		}
		seen[a.String()] = line
		meters = append(meters, a.String())
	}

	if len(meters) == 0 {
		return nil, fmt.Errorf("%s: no meter addresses", path)
	}
	return meters, nil
}

func indexOf(rec []string, name string) int {
	for i, s := range rec {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return i
		}
	}
	return -1
}

// followBatch polls the batch until every command is final, showing its counts on w: a
// redrawn bar on a terminal, else a line per change at most every progressLogInterval.
func followBatch(ctx context.Context, c *apiClient, b batchView, interval time.Duration,
	w io.Writer) (batchView, error) {
	bar := newProgress(w)
	for {
		if b.Total > 0 && b.finished() >= b.Total {
			bar.finish(progressText(b))
			return b, nil
		}
		bar.update(progressText(b))
		if err := sleepContext(ctx, interval); err != nil {
			bar.interrupt()
			return b, fmt.Errorf("batch %s has %d of %d commands final: %w (its commands go "+
				"on; read it later with GET /v1/batches/%s)", b.ID, b.finished(), b.Total, err,
				b.ID)
		}
		var next batchView
		if _, err := c.do(ctx, "GET", "/v1/batches/"+url.PathEscape(b.ID), nil, nil, "",
			&next); err != nil {
			bar.interrupt()
			return b, err
		}
		b = next
	}
}

const progressWidth = 30

// progressText returns the bar and counts of b.
func progressText(b batchView) string {
	done := b.finished()
	filled := 0
	if b.Total > 0 {
		filled = min(done*progressWidth/b.Total, progressWidth)
	}
	bar := strings.Repeat("#", filled) + strings.Repeat("-", progressWidth-filled)
	return fmt.Sprintf("[%s] %d/%d  succeeded %d  failed %d  expired %d  cancelled %d", bar,
		done, b.Total, b.Counts["succeeded"], b.Counts["failed"], b.Counts["expired"],
		b.Counts["cancelled"])
}

func printBatch(out io.Writer, b batchView, asJSON bool) error {
	if asJSON {
		return writeJSONLine(out, nil, b)
	}
	_, err := fmt.Fprintf(out, "batch %s: %s, %d meters, %d final\n", b.ID, b.Action, b.Total,
		b.finished())
	return err
}

// batchCommand is one command of a batch as listed, kept raw for --json.
type batchCommand struct {
	raw json.RawMessage
	cv  commandView
}

// listBatchCommands lists the commands of batch id until every one is final. The batch
// counts can reach the total a moment before the last command's final state is listed, so
// a listing with commands still in flight is read again after interval, until ctx ends.
func listBatchCommands(ctx context.Context, c *apiClient, id string,
	interval time.Duration) ([]batchCommand, error) {
	q := url.Values{"batch": {id}}
	for {
		var cmds []batchCommand
		pending := 0
		err := c.list(ctx, "/v1/commands", q, 0, func(raw json.RawMessage) error {
			var cv commandView
			if err := json.Unmarshal(raw, &cv); err != nil {
				return fmt.Errorf("decode command: %w", err)
			}
			if !finalStates[cv.State] {
				pending++
			}
			cmds = append(cmds, batchCommand{raw: raw, cv: cv})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if pending == 0 {
			return cmds, nil
		}
		if err := sleepContext(ctx, interval); err != nil {
			// Report what is known: the rows show the commands still in flight.
			return cmds, nil
		}
	}
}

// writeBatchResults writes one row per command and reports whether all of them succeeded.
func writeBatchResults(out io.Writer, cmds []batchCommand, asJSON bool) (bool, error) {
	allOK := true
	if asJSON {
		for _, bc := range cmds {
			allOK = allOK && bc.cv.State == "succeeded"
			if err := printJSONLine(out, bc.raw); err != nil {
				return false, err
			}
		}
		return allOK, nil
	}
	cw := csv.NewWriter(out)
	if err := cw.Write(resultColumns); err != nil {
		return false, err
	}
	for _, bc := range cmds {
		allOK = allOK && bc.cv.State == "succeeded"
		if err := cw.Write(resultRow(bc.cv)); err != nil {
			return false, err
		}
	}
	cw.Flush()
	return allOK, cw.Error()
}

func resultRow(cv commandView) []string {
	row := []string{cv.Target.Meter, cv.ID, cv.State, "", "", "", "", ""}
	if cv.Reason != nil {
		row[3], row[4] = cv.Reason.Code, cv.Reason.Message
	}
	if r := cv.Result; r != nil {
		row[5] = r.Outcome
		if r.Relay != nil {
			row[6] = r.Relay.State
		}
		row[7] = fmt.Sprint(r.SuspectedBypass)
	}
	return row
}
