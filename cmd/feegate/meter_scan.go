package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
	"github.com/spf13/cobra"
)

// maxScanAddresses bounds one scan: at the default 1 s timeout a silent address costs about
// a second, so a larger range would run for hours.
const maxScanAddresses = 1000

// scanResult is one meter found by scan.
type scanResult struct {
	Address string `json:"address"`
	Edition string `json:"edition"`
	// Probe is the request the meter replied to: read_address or read.
	Probe string `json:"probe"`
}

func newMeterScanCommand(o *meterOptions) *cobra.Command {
	var (
		list string
		rng  string
	)
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Find the meters on a bus",
		Long: `Find the meters on a bus.

Without --addresses or --range, scan sends read-address with the wildcard address
AAAAAAAAAAAA, which only works when a single meter is on the line. With a list or a range,
it reads the forward active energy of each address and reports the ones that reply.`,
		Example: `  feegate meter scan --port /dev/ttyUSB0
  feegate meter scan --port /dev/ttyUSB0 --range 000000000001-000000000032
  feegate meter scan --tcp 127.0.0.1:4001 --addresses 000000000161,000000000162`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ed, err := o.checkEdition()
			if err != nil {
				return err
			}
			addrs, err := scanAddresses(list, rng)
			if err != nil {
				return err
			}
			return o.withLink(cmd, func(ctx context.Context, conn meterConn) error {
				if len(addrs) == 0 {
					return scanWildcard(ctx, cmd, o, conn, ed)
				}
				return scanList(ctx, cmd, o, conn, ed, addrs)
			})
		},
	}
	cmd.Flags().StringVar(&list, "addresses", "", "comma-separated meter addresses to probe")
	cmd.Flags().StringVar(&rng, "range", "", "address range `FROM-TO` to probe, both included")
	return cmd
}

// scanAddresses parses --addresses and --range.
func scanAddresses(list, rng string) ([]protocol.MeterAddress, error) {
	var out []protocol.MeterAddress
	if list != "" {
		for _, s := range strings.Split(list, ",") {
			a, err := protocol.ParseMeterAddress(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("invalid address %q in --addresses: %w", s, err)
			}
			out = append(out, a)
		}
	}
	if rng != "" {
		from, to, ok := strings.Cut(rng, "-")
		if !ok {
			return nil, fmt.Errorf("invalid --range %q: use FROM-TO, such as "+
				"000000000001-000000000032", rng)
		}
		lo, err1 := parseAddressNumber(from)
		hi, err2 := parseAddressNumber(to)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("invalid --range %q: %w", rng, err)
		}
		if hi < lo || hi-lo >= maxScanAddresses {
			return nil, fmt.Errorf("invalid --range %q: give FROM <= TO and at most %d "+
				"addresses", rng, maxScanAddresses)
		}
		for n := lo; n <= hi; n++ {
			a, err := protocol.ParseMeterAddress(fmt.Sprintf("%012d", n))
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if len(out) > maxScanAddresses {
		return nil, fmt.Errorf("%d addresses to probe: at most %d per scan", len(out),
			maxScanAddresses)
	}
	return out, nil
}

func parseAddressNumber(s string) (uint64, error) {
	a, err := protocol.ParseMeterAddress(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if a.IsWildcard() || a.IsBroadcast() {
		return 0, fmt.Errorf("address %s is not a single meter", a)
	}
	var n uint64
	if _, err := fmt.Sscanf(a.String(), "%d", &n); err != nil {
		return 0, err
	}
	return n, nil
}

// scanWildcard reads the address of the only meter on the line.
func scanWildcard(ctx context.Context, cmd *cobra.Command, o *meterOptions, conn meterConn,
	ed dlt645.Edition) error {
	var request *dlt645.Frame
	probe := "read_address"
	if ed == dlt645.Edition1997 {
		// DL/T 645-1997 has no read-address command; a read with the wildcard address
		// returns the meter's address in the reply header.
		it, err := lookupReadItem(ed, "energy_forward_total")
		if err != nil {
			return err
		}
		request = dlt645.NewReadRequest97(protocol.WildcardMeterAddress, dlt645.DI97(it.ID))
		probe = "read"
	} else {
		request = dlt645.NewRequest(protocol.WildcardMeterAddress, dlt645.FuncReadAddress, nil)
	}
	reply, err := meterExchange(ctx, conn, request, probe, 0)
	if err != nil {
		f := o.fail("scan with the wildcard address", protocol.WildcardMeterAddress, err)
		var busErr *transport.BusError
		garbled := errors.Is(err, transport.ErrNoReply) ||
			(errors.As(err, &busErr) && len(busErr.Partial) > 0)
		stale := staleReply(busErr)
		switch {
		case stale != nil:
			f.Hint = fmt.Sprintf("the only complete frame on the line was a reply of meter %s "+
				"to another request (function %02X), probably a late reply to an earlier "+
				"command, and no meter replied to the wildcard: run the scan again",
				stale.Address, byte(stale.Control.Function()))
		case garbled:
			// Every meter replies to the wildcard, so on a shared bus the replies overlap.
			f.Hint = fmt.Sprintf("bytes arrived but formed no valid frame: most likely "+
				"several meters answered at once, because a wildcard read works only on a "+
				"single-meter link. Probe each meter with --addresses or --range. If only one "+
				"meter is connected, check the line setting (now %d %s)", o.link.baud,
				lineSetting(o.link.parity))
		case errors.Is(err, transport.ErrTimeout):
			f.Hint += "; on a bus with several meters, probe them with --addresses or --range"
		}
		return f
	}
	return printScan(cmd, o, []scanResult{{Address: reply.Address.String(),
		Edition: editionName(ed), Probe: probe}})
}

// scanList probes each address with a read of the forward active energy.
func scanList(ctx context.Context, cmd *cobra.Command, o *meterOptions, conn meterConn,
	ed dlt645.Edition, addrs []protocol.MeterAddress) error {
	it, err := lookupReadItem(ed, "energy_forward_total")
	if err != nil {
		return err
	}
	bar := newProgress(cmd.ErrOrStderr())
	var found []scanResult
	for i, a := range addrs {
		if bar.terminal {
			bar.update(fmt.Sprintf("probing %s (%d/%d), %d found", a, i+1, len(addrs),
				len(found)))
		} else {
			bar.update(fmt.Sprintf("probed %d of %d addresses, %d found", i, len(addrs),
				len(found)))
		}
		_, err := readValue(ctx, conn, a, it)
		var meterErr *dlt645.MeterError
		switch {
		case err == nil, errors.As(err, &meterErr):
			// An abnormal reply still proves that a meter replies at this address.
			found = append(found, scanResult{Address: a.String(), Edition: editionName(ed),
				Probe: "read"})
		case errors.Is(err, transport.ErrTimeout), errors.Is(err, transport.ErrNoReply):
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			bar.interrupt()
			return o.fail("scan", a, err)
		}
	}
	bar.finish(fmt.Sprintf("%d of %d addresses replied", len(found), len(addrs)))
	return printScan(cmd, o, found)
}

func printScan(cmd *cobra.Command, o *meterOptions, found []scanResult) error {
	out := cmd.OutOrStdout()
	if o.asJSON {
		for _, r := range found {
			if err := writeJSONLine(out, nil, r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tEDITION\tPROBE")
	for _, r := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Address, r.Edition, r.Probe)
	}
	return tw.Flush()
}

func editionName(ed dlt645.Edition) string {
	if ed == dlt645.Edition1997 {
		return "dlt645-1997"
	}
	return "dlt645-2007"
}

// staleReply returns a valid reply frame among the stray bytes of busErr that does not
// answer read-address, such as a late relay reply, or nil when there is none. Colliding
// wildcard replies form no valid frame, so such a frame points to another cause.
func staleReply(busErr *transport.BusError) *dlt645.Frame {
	if busErr == nil || len(busErr.Partial) == 0 {
		return nil
	}
	fr := dlt645.NewFramer(0, true)
	fr.Write(busErr.Partial)
	for res := fr.Next(true); res.Frame != nil; res = fr.Next(true) {
		f, err := dlt645.Decode(res.Frame)
		if err == nil && f.Control.Function() != dlt645.FuncReadAddress {
			return f
		}
	}
	return nil
}
