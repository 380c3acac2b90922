package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
	"github.com/spf13/cobra"
)

// relayFirstByteTimeout is the default wait for the first byte of a relay command's reply.
// A meter running ESAM operations may take up to about 4 s to reply, and a loaded line adds
// to that, so the 1 s read default would report meters that acted as silent.
const relayFirstByteTimeout = 5 * time.Second

// meterRelayAction is one relay subcommand: its CLI name, N1 and the outcome on success.
type meterRelayAction struct {
	name    string
	action  dlt645.RelayAction
	short   string
	outcome string
}

// meterRelayActions are the relay subcommands, named as the API's actions in kebab case.
var meterRelayActions = []meterRelayAction{
	{"trip", dlt645.ActionTrip, "Open the meter relay (N1=1A)", "tripped"},
	{"allow-close", dlt645.ActionAllowClose,
		"Allow the customer to close the relay with the meter button (N1=1B)", "close_allowed"},
	{"close", dlt645.ActionClose, "Close the meter relay directly (N1=1C)", "closed"},
	{"guarantee", dlt645.ActionGuarantee,
		"Switch power guarantee on: the meter rejects trips (N1=3A)", "guarantee_on"},
	{"guarantee-release", dlt645.ActionGuaranteeRelease,
		"Switch power guarantee off (N1=3B)", "guarantee_off"},
}

func newMeterRelayCommand(o *meterOptions, a meterRelayAction) *cobra.Command {
	cmd := &cobra.Command{
		Use:   a.name,
		Short: a.short,
		Long: a.short + `.

The command is sent once with a plain password (level 02 or 04) and the meter's reply is
checked; then status word 3 is read back unless --verify=false. Meters that require
encrypted (PA=98) relay control reject it with a security error: use feegate serve for them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMeterRelay(cmd, o, a)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.level, "password-level", 2, "password level PA: 2 or 4")
	f.StringVar(&o.password, "password", "",
		"meter password, 6 hex digits (default: FEEGATE_METER_PASSWORD)")
	f.StringVar(&o.operator, "operator", "00000000", "operator code C0..C3, 8 digits")
	f.DurationVar(&o.validFor, "valid-for", 10*time.Minute,
		"validity of the command: the meter rejects it once its clock passes now + this")
	f.BoolVar(&o.verify, "verify", true, "read status word 3 after the command")
	return cmd
}

func runMeterRelay(cmd *cobra.Command, o *meterOptions, a meterRelayAction) error {
	if o.edition != 2007 {
		return errors.New("DL/T 645-1997 defines no relay command: 1997 meters are read-only")
	}
	addr, err := o.meterAddress()
	if err != nil {
		return err
	}
	var level byte
	switch o.level {
	case 2:
		level = dlt645.LevelPlain02
	case 4:
		level = dlt645.LevelPlain04
	default:
		return fmt.Errorf("invalid --password-level %d: use 2 or 4", o.level)
	}
	password, err := o.resolvePassword()
	if err != nil {
		return err
	}
	operator, err := dlt645.ParseOperatorCode(o.operator)
	if err != nil {
		return fmt.Errorf("invalid --operator %q: use 8 digits", o.operator)
	}
	if o.validFor <= 0 {
		return fmt.Errorf("invalid --valid-for %v: must be positive", o.validFor)
	}
	if !cmd.Flags().Changed("timeout") {
		o.link.timeout = relayFirstByteTimeout
	}
	rc := &dlt645.RelayCommand{Level: level, Password: password, Operator: operator,
		Action: a.action, Deadline: time.Now().Add(o.validFor)}
	request, err := dlt645.NewRelayRequest(addr, rc)
	if err != nil {
		return err
	}

	return o.withLink(cmd, func(ctx context.Context, conn meterConn) error {
		// One attempt: a lost reply is reported, never followed by a second password try.
		reply, err := meterExchange(ctx, conn, request, "relay_control", 1)
		if err != nil {
			return o.relayFail(a.name, addr, err)
		}
		status, err := dlt645.ParseRelayReply(reply)
		if err != nil {
			return o.fail(a.name, addr, err)
		}
		lead := dlt645.Object{{Name: "action", Value: a.name}, {Name: "outcome", Value: a.outcome}}
		if bits := status.Bits(); len(bits) > 0 {
			lead = append(lead, dlt645.Field{Name: "execution_status", Value: bits})
		}
		if !o.verify {
			if o.asJSON {
				obj := append(dlt645.Object{{Name: "address", Value: addr.String()}}, lead...)
				return writeJSONLine(cmd.OutOrStdout(), nil, obj)
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "meter %s: %s accepted (%s)\n", addr,
				a.name, a.outcome)
			return err
		}
		sw, err := readStatusWord3(ctx, conn, addr)
		if err != nil {
			return o.fail("read status word 3 after "+a.name, addr, err)
		}
		return printStatus(cmd.OutOrStdout(), addr, sw, o.asJSON, lead)
	})
}

// relayFail wraps the error of a relay command. Without a valid reply the meter may still
// have received and executed the command, so the hint requests a status read first.
func (o *meterOptions) relayFail(action string, addr protocol.MeterAddress,
	err error) *meterFailure {
	f := o.fail(action, addr, err)
	if errors.Is(err, transport.ErrTimeout) || errors.Is(err, transport.ErrNoReply) {
		// A failed status read prints the wiring and line-setting hints itself.
		f.Hint = fmt.Sprintf("no valid reply within %v, but the meter may have executed the "+
			"command: run feegate meter status --address %s to read the relay before "+
			"sending it again", o.link.timeout, addr)
	}
	return f
}
