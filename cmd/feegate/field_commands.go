package main

import "github.com/spf13/cobra"

// fieldCommands lists the constructors of the field-tool subcommands (replay, meter and the
// API clients). Each file appends its own in init, so newRootCommand needs one line for all.
var fieldCommands []func() *cobra.Command

// newFieldCommands builds every field-tool subcommand.
func newFieldCommands() []*cobra.Command {
	cmds := make([]*cobra.Command, 0, len(fieldCommands))
	for _, newCommand := range fieldCommands {
		cmds = append(cmds, newCommand())
	}
	return cmds
}
