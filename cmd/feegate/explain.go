package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/feegate/feegate/protocol"
	"github.com/spf13/cobra"
)

// explainOptions are the flags that change how a frame is decoded or shown.
type explainOptions struct {
	// edition forces the DL/T 645 edition (1997 or 2007); 0 detects it from the function code.
	edition int
	// showSecrets prints passwords instead of masking them.
	showSecrets bool
}

// explanation is one decoded frame: the JSON object of the explain contract and the
// person-readable breakdown with offsets, raw bytes and meaning.
type explanation struct {
	object any
	text   string
}

func newExplainCommand() *cobra.Command {
	var (
		opt     explainOptions
		asJSON  bool
		pcap    string
		edition string
	)
	cmd := &cobra.Command{
		Use:   "explain [HEX ...| -]",
		Short: "Decode DL/T 645 and Q/GDW 376.1 frames given as hex, or from a capture",
		Long: `Decode frames and print every field with its offset, raw bytes and meaning.

Each HEX argument is one frame; spaces inside it are allowed. "-" reads one frame per line
from standard input. --pcap reads a pcap or pcapng capture and decodes each TCP stream,
reassembled per direction. The exit status is 1 when any frame failed to decode.`,
		Example: `  feegate explain '68 01 00 00 00 00 00 68 91 08 33 33 34 33 59 B3 55 44 DC 16'
  feegate explain --json - < frames.txt
  feegate explain --pcap terminal.pcapng`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch edition {
			case "":
			case "1997":
				opt.edition = 1997
			case "2007":
				opt.edition = 2007
			default:
				return fmt.Errorf("invalid --edition %q: use 1997 or 2007", edition)
			}
			out := cmd.OutOrStdout()
			failed := false
			if pcap != "" {
				if len(args) > 0 {
					return fmt.Errorf("--pcap reads frames from the capture: give no HEX arguments")
				}
				f, err := explainPcap(out, pcap, opt, asJSON)
				if err != nil {
					return err
				}
				failed = f
			} else {
				if len(args) == 0 {
					return fmt.Errorf("no frames given: pass HEX arguments, - for stdin, or --pcap FILE")
				}
				for _, arg := range args {
					var f bool
					var err error
					if arg == "-" {
						f, err = explainLines(out, cmd.InOrStdin(), opt, asJSON)
					} else {
						f, err = explainHex(out, arg, opt, asJSON, nil)
					}
					if err != nil {
						return err
					}
					failed = failed || f
				}
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per frame, one per line")
	cmd.Flags().StringVar(&pcap, "pcap", "", "read frames from a pcap or pcapng `FILE`")
	cmd.Flags().StringVar(&edition, "edition", "", "DL/T 645 edition: 1997 or 2007 (default: detect from the function code)")
	cmd.Flags().BoolVar(&opt.showSecrets, "show-secrets", false, "print passwords instead of masking them")
	return cmd
}

// explainLines decodes one frame per non-empty line of r.
func explainLines(out io.Writer, r io.Reader, opt explainOptions, asJSON bool) (bool, error) {
	failed := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f, err := explainHex(out, line, opt, asJSON, nil)
		if err != nil {
			return failed, err
		}
		failed = failed || f
	}
	if err := sc.Err(); err != nil {
		return failed, fmt.Errorf("read standard input: %w", err)
	}
	return failed, nil
}

// explainHex decodes the frame written as hex in input and prints it. extra fields (such as a
// capture's time and addresses) go first in the JSON object. It reports whether the frame
// failed to decode; the error is for output failures only.
func explainHex(out io.Writer, input string, opt explainOptions, asJSON bool, extra []field) (bool, error) {
	digits := strings.Join(strings.Fields(input), "")
	raw, err := hex.DecodeString(digits)
	if err != nil {
		return true, printExplainError(out, input, newHexInputError(input, digits, err), asJSON,
			extra)
	}
	return explainBytes(out, raw, opt, asJSON, extra)
}

// hexInputError is explain input that is not a frame written in hex. It matches
// protocol.ErrInvalidValue with errors.Is, so its JSON code is invalid_value.
type hexInputError struct {
	Input  string
	Reason string
}

func (e *hexInputError) Error() string { return "invalid hex input: " + e.Reason }

func (e *hexInputError) Unwrap() error { return protocol.ErrInvalidValue }

// newHexInputError describes what is wrong with input, whose digits without spaces failed
// to decode with err.
func newHexInputError(input, digits string, err error) *hexInputError {
	var bad hex.InvalidByteError
	if errors.As(err, &bad) {
		// The decoder reports a byte. Find the character that contains it, which is the
		// first invalid one, because the input is decoded in order.
		idx := max(strings.IndexByte(input, byte(bad)), 0)
		char, _ := utf8.DecodeRuneInString(input[idx:])
		pos := utf8.RuneCountInString(input[:idx]) + 1
		return &hexInputError{Input: input, Reason: fmt.Sprintf("character %q at position %d "+
			"is not a hex digit: write the frame as hex bytes such as 68 AA 01, spaces allowed",
			char, pos)}
	}
	if errors.Is(err, hex.ErrLength) {
		return &hexInputError{Input: input, Reason: fmt.Sprintf("%d hex digits, an odd count: "+
			"each byte needs two digits, so a digit is missing or extra", len(digits))}
	}
	return &hexInputError{Input: input, Reason: err.Error()}
}

// explainBytes decodes one frame and prints it; see explainHex.
func explainBytes(out io.Writer, raw []byte, opt explainOptions, asJSON bool, extra []field) (bool, error) {
	e, err := explainFrame(raw, opt)
	if err != nil {
		return true, printExplainError(out, fmt.Sprintf("% X", raw), err, asJSON, extra)
	}
	if asJSON {
		return false, writeJSONLine(out, extra, e.object)
	}
	for _, f := range extra {
		if _, err := fmt.Fprintf(out, "%s: %v\n", f.name, f.value); err != nil {
			return false, err
		}
	}
	_, err = fmt.Fprintln(out, e.text)
	return false, err
}

// explainFrame detects the protocol of raw and decodes it. A Q/GDW 376.1 frame starts with
// 68 L L 68 (the two L fields equal); anything else is tried as DL/T 645.
func explainFrame(raw []byte, opt explainOptions) (explanation, error) {
	if looksLikeGW376(raw) {
		return explainGW376(raw, opt)
	}
	return explainDLT645(raw, opt)
}

func looksLikeGW376(b []byte) bool {
	return len(b) >= 6 && b[0] == 0x68 && b[5] == 0x68 && b[1] == b[3] && b[2] == b[4]
}

// field is one name and value placed before a frame's own fields in its JSON object.
type field struct {
	name  string
	value any
}

// writeJSONLine writes obj as one JSON line with extra fields first.
func writeJSONLine(out io.Writer, extra []field, obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for _, f := range extra {
		k, _ := json.Marshal(f.name)
		v, err := json.Marshal(f.value)
		if err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
		sb.Write(k)
		sb.WriteByte(':')
		sb.Write(v)
		sb.WriteByte(',')
	}
	rest := strings.TrimPrefix(string(body), "{")
	if rest == "}" && len(extra) > 0 {
		s := sb.String()
		sb.Reset()
		sb.WriteString(strings.TrimSuffix(s, ","))
	}
	sb.WriteString(rest)
	sb.WriteByte('\n')
	_, err = io.WriteString(out, sb.String())
	return err
}

// printExplainError prints a frame that failed to decode: in JSON as
// {"input", "error": {"code", "message"}}.
func printExplainError(out io.Writer, input string, err error, asJSON bool, extra []field) error {
	code := protocol.Code(err)
	if code == "" {
		code = "invalid_frame"
	}
	if asJSON {
		return writeJSONLine(out, extra, map[string]any{
			"input": strings.ToUpper(strings.Join(strings.Fields(input), "")),
			"error": map[string]string{"code": code, "message": err.Error()},
		})
	}
	for _, f := range extra {
		if _, werr := fmt.Fprintf(out, "%s: %v\n", f.name, f.value); werr != nil {
			return werr
		}
	}
	_, werr := fmt.Fprintf(out, "%s\n  error (%s): %v\n\n", input, code, err)
	return werr
}
