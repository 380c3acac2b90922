// Command feegate is the front-end gateway of a remote prepaid-electricity fee-control
// system, with its simulator and field tools, as one binary.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit status out of a subcommand that has already printed its
// own output, such as explain with a frame that failed to decode.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "feegate",
		Short:         "Front-end gateway for remote prepaid electricity fee control",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newExplainCommand(), newServeCommand(),
		newDemoCommand())
	root.AddCommand(newFieldCommands()...)
	return root
}

func main() {
	if err := newRootCommand().Execute(); err != nil {
		if e, ok := err.(exitError); ok {
			os.Exit(e.code)
		}
		fmt.Fprintln(os.Stderr, "feegate:", err)
		os.Exit(2)
	}
}
