package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/spf13/cobra"
)

func init() { fieldCommands = append(fieldCommands, newMeterCommand) }

// meterOptions are the flags shared by the meter subcommands.
type meterOptions struct {
	link     meterLinkOptions
	address  string
	edition  int
	asJSON   bool
	level    int
	password string
	operator string
	validFor time.Duration
	verify   bool
}

func newMeterCommand() *cobra.Command {
	o := &meterOptions{}
	cmd := &cobra.Command{
		Use:   "meter",
		Short: "Talk DL/T 645 to a meter over a serial port or a TCP serial server",
		Long: `Talk DL/T 645 to meters directly, without the gateway: read values and status,
send relay commands with a plain password, and scan a bus for meters.

The line is an RS-485 port (--port, 8 data bits, even parity, 1 stop bit by default) or a
TCP serial server (--tcp). Relay commands are sent once and never retried, because wrong
passwords lock a meter's password level.`,
		Example: `  feegate meter read --port /dev/ttyUSB0 --address 000000000161
  feegate meter status --tcp 127.0.0.1:4001 --address 000000000161 --json
  FEEGATE_METER_PASSWORD=123456 feegate meter close --port /dev/ttyUSB0 --address 000000000161
  feegate meter scan --port /dev/ttyUSB0 --range 000000000001-000000000016`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.link.port, "port", "",
		"serial `DEVICE` of the RS-485 adapter, such as /dev/ttyUSB0")
	pf.IntVar(&o.link.baud, "baud", 2400, "line speed in bit/s")
	pf.StringVar(&o.link.parity, "parity", "E", "parity: E (even), O (odd) or N (none)")
	pf.StringVar(&o.link.tcp, "tcp", "", "TCP serial server `HOST:PORT` instead of a local port")
	pf.DurationVar(&o.link.timeout, "timeout", time.Second,
		"wait for the first reply byte (relay commands wait "+
			relayFirstByteTimeout.String()+" unless this is set)")
	pf.DurationVar(&o.link.interByte, "inter-byte-timeout", 500*time.Millisecond,
		"longest pause inside a reply")
	pf.StringVar(&o.address, "address", "", "meter address, 12 digits as printed on the meter")
	pf.IntVar(&o.edition, "edition", 2007, "DL/T 645 edition: 2007 or 1997")
	pf.BoolVar(&o.asJSON, "json", false, "print JSON, one object per meter")

	cmd.AddCommand(newMeterReadCommand(o), newMeterStatusCommand(o), newMeterScanCommand(o))
	for _, a := range meterRelayActions {
		cmd.AddCommand(newMeterRelayCommand(o, a))
	}
	return cmd
}

// checkEdition validates --edition.
func (o *meterOptions) checkEdition() (dlt645.Edition, error) {
	switch o.edition {
	case 2007:
		return dlt645.Edition2007, nil
	case 1997:
		return dlt645.Edition1997, nil
	}
	return 0, fmt.Errorf("invalid --edition %d: use 2007 or 1997", o.edition)
}

// meterAddress parses --address.
func (o *meterOptions) meterAddress() (protocol.MeterAddress, error) {
	if o.address == "" {
		return protocol.MeterAddress{}, errors.New("missing --address (12 digits as printed " +
			"on the meter; use meter scan to find it)")
	}
	a, err := protocol.ParseMeterAddress(o.address)
	if err != nil {
		return a, fmt.Errorf("invalid --address %q: %w", o.address, err)
	}
	return a, nil
}

// withLink opens the line, runs fn and closes the line.
func (o *meterOptions) withLink(cmd *cobra.Command,
	fn func(context.Context, meterConn) error) error {
	conn, err := openMeterLink(o.link)
	if err != nil {
		return err
	}
	defer conn.Close()
	return fn(cmd.Context(), conn)
}

// fail wraps err with the operation, the meter and what to check next.
func (o *meterOptions) fail(op string, addr protocol.MeterAddress, err error) *meterFailure {
	return &meterFailure{Op: op, Address: addr, Err: err, Hint: meterHint(err, o.link)}
}

// lookupReadItem finds the table row of name (a snake-case value name) or of an identifier
// written as hex digits, in edition ed. relay_state, as the API calls it, is status word 3.
func lookupReadItem(ed dlt645.Edition, name string) (*dlt645.Item, error) {
	if name == "relay_state" {
		name = "status_word_3"
	}
	if it, ok := dlt645.LookupName(ed, name); ok {
		return it, nil
	}
	for _, it := range dlt645.Items() {
		if it.Edition == ed && strings.EqualFold(it.DIString(), name) {
			return it, nil
		}
	}
	return nil, fmt.Errorf("unknown item %q for DL/T 645-%d: give a value name such as "+
		"energy_forward_total or a data identifier", name, int(ed))
}

// readValue reads one table row from the meter at addr.
func readValue(ctx context.Context, conn meterConn, addr protocol.MeterAddress,
	it *dlt645.Item) (dlt645.Value, error) {
	if it.Edition == dlt645.Edition1997 {
		di := dlt645.DI97(it.ID)
		reply, err := meterExchange(ctx, conn, dlt645.NewReadRequest97(addr, di), "read", 0)
		if err != nil {
			return dlt645.Value{}, err
		}
		v, _, err := dlt645.ReadValue97(reply, di)
		return v, err
	}
	di := dlt645.DI(it.ID)
	reply, err := meterExchange(ctx, conn, dlt645.NewReadRequest(addr, di), "read", 0)
	if err != nil {
		return dlt645.Value{}, err
	}
	v, _, err := dlt645.ReadValue(reply, di)
	return v, err
}

// reading is one read value in the shape of the API's readings: {value, unit}.
type reading struct {
	Value any    `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// readingOf converts a decoded value to its JSON form: numbers as exact decimals, times
// as YYYY-MM-DDThh:mm:ss, blocks as an object of their members.
func readingOf(v dlt645.Value) reading {
	r := reading{Unit: v.Item.Unit}
	switch d := v.Data.(type) {
	case time.Time:
		r.Value = d.Format("2006-01-02T15:04:05")
	case []dlt645.Value:
		members := dlt645.Object{}
		for _, m := range d {
			members = append(members, dlt645.Field{Name: m.Item.Name, Value: readingOf(m)})
		}
		r.Value = members
	default:
		r.Value = v.Data
	}
	return r
}

// textOf formats a reading for the table.
func textOf(v dlt645.Value) string {
	switch d := v.Data.(type) {
	case nil:
		return "-"
	case time.Time:
		return d.Format("2006-01-02 15:04:05")
	case []dlt645.Value:
		parts := make([]string, len(d))
		for i, m := range d {
			parts[i] = m.Item.Name + "=" + textOf(m)
		}
		return strings.Join(parts, " ")
	case dlt645.StatusWord:
		var set []string
		for _, f := range d.Fields() {
			switch val := f.Value.(type) {
			case bool:
				if val {
					set = append(set, f.Name)
				}
			case string:
				set = append(set, f.Name+"="+val)
			}
		}
		return strings.Join(set, " ")
	}
	return fmt.Sprint(v.Data)
}

func newMeterReadCommand(o *meterOptions) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "read",
		Short: "Read values from a meter",
		Example: `  feegate meter read --port /dev/ttyUSB0 --address 000000000161 \
      --item energy_forward_total --item voltage --item 04000503`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ed, err := o.checkEdition()
			if err != nil {
				return err
			}
			addr, err := o.meterAddress()
			if err != nil {
				return err
			}
			if len(names) == 0 {
				names = []string{"energy_forward_total"}
			}
			var items []*dlt645.Item
			for _, n := range names {
				it, err := lookupReadItem(ed, n)
				if err != nil {
					return err
				}
				items = append(items, it)
			}
			return o.withLink(cmd, func(ctx context.Context, conn meterConn) error {
				values := make([]dlt645.Value, 0, len(items))
				for _, it := range items {
					v, err := readValue(ctx, conn, addr, it)
					if err != nil {
						return o.fail("read "+it.Name+" (DI "+it.DIString()+")", addr, err)
					}
					values = append(values, v)
				}
				return printReadings(cmd.OutOrStdout(), addr, values, o.asJSON)
			})
		},
	}
	cmd.Flags().StringArrayVar(&names, "item", nil,
		"value `NAME` or data identifier to read; repeatable (default energy_forward_total)")
	return cmd
}

func printReadings(out io.Writer, addr protocol.MeterAddress, values []dlt645.Value,
	asJSON bool) error {
	if asJSON {
		readings := dlt645.Object{}
		for _, v := range values {
			readings = append(readings, dlt645.Field{Name: v.Item.Name, Value: readingOf(v)})
		}
		return writeJSONLine(out, nil, dlt645.Object{
			{Name: "address", Value: addr.String()},
			{Name: "readings", Value: readings},
		})
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "METER\tITEM\tDI\tVALUE\tUNIT\n")
	for _, v := range values {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", addr, v.Item.Name, v.Item.DIString(), textOf(v),
			v.Item.Unit)
	}
	return tw.Flush()
}

// readStatusWord3 reads status word 3, the relay evidence of a 2007 meter.
func readStatusWord3(ctx context.Context, conn meterConn, addr protocol.MeterAddress) (
	dlt645.StatusWord, error) {
	it, err := lookupReadItem(dlt645.Edition2007, "status_word_3")
	if err != nil {
		return dlt645.StatusWord{}, err
	}
	v, err := readValue(ctx, conn, addr, it)
	if err != nil {
		return dlt645.StatusWord{}, err
	}
	sw, ok := v.Data.(dlt645.StatusWord)
	if !ok {
		return dlt645.StatusWord{}, fmt.Errorf("status word 3 decoded as %T", v.Data)
	}
	return sw, nil
}

func newMeterStatusCommand(o *meterOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Read the relay state of a meter (status word 3)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.edition != 2007 {
				return errors.New("meter status reads status word 3, which only " +
					"DL/T 645-2007 meters have")
			}
			addr, err := o.meterAddress()
			if err != nil {
				return err
			}
			return o.withLink(cmd, func(ctx context.Context, conn meterConn) error {
				sw, err := readStatusWord3(ctx, conn, addr)
				if err != nil {
					return o.fail("read status word 3", addr, err)
				}
				return printStatus(cmd.OutOrStdout(), addr, sw, o.asJSON, nil)
			})
		},
	}
}

// printStatus prints status word 3, after the fields of a relay command when lead is set.
func printStatus(out io.Writer, addr protocol.MeterAddress, sw dlt645.StatusWord, asJSON bool,
	lead dlt645.Object) error {
	if asJSON {
		obj := append(dlt645.Object{{Name: "address", Value: addr.String()}}, lead...)
		obj = append(obj, dlt645.Field{Name: "status_word_3", Value: sw})
		return writeJSONLine(out, nil, obj)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "meter\t%s\n", addr)
	for _, f := range lead {
		value := fmt.Sprint(f.Value)
		if names, ok := f.Value.([]string); ok {
			value = strings.Join(names, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\n", f.Name, value)
	}
	fmt.Fprintf(tw, "relay\t%s\n", openClosed(sw.RelayOpen()))
	fmt.Fprintf(tw, "relay_command\t%s\n", openClosed(sw.RelayCommandOpen()))
	fmt.Fprintf(tw, "guarantee\t%v\n", sw.Guarantee())
	fmt.Fprintf(tw, "pre_trip_alarm\t%v\n", sw.PreTripAlarm())
	fmt.Fprintf(tw, "status_word_3\t0x%04X\n", sw.Raw)
	return tw.Flush()
}

func openClosed(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

// resolvePassword returns the password from --password or FEEGATE_METER_PASSWORD.
func (o *meterOptions) resolvePassword() (dlt645.Password, error) {
	s := o.password
	if s == "" {
		s = os.Getenv("FEEGATE_METER_PASSWORD")
	}
	if s == "" {
		return dlt645.Password{}, errors.New("missing --password (6 hex digits as written " +
			"on the meter's documents) or FEEGATE_METER_PASSWORD")
	}
	p, err := dlt645.ParsePassword(s)
	if err != nil {
		// The value itself stays out of the message: it is a secret.
		return p, errors.New("invalid --password: use 6 hex digits")
	}
	return p, nil
}
