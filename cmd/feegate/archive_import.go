package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func init() { fieldCommands = append(fieldCommands, newArchiveCommand) }

func newArchiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Manage the gateway's archive of terminals and meters (through the API)",
	}
	var (
		o      apiOptions
		merge  bool
		format string
	)
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an archive from a JSON or meters CSV file",
		Long: `Import an archive from a JSON file (terminals, buses, links, Modbus models and
meters) or a CSV file of meters. Without --merge the import replaces the whole archive; with --merge
it adds and updates entries. An import is all or nothing: a validation error names the row
and the field, and nothing changes.`,
		Example: `  feegate archive import fleet.json
  feegate archive import --merge new-meters.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			contentType, err := archiveContentType(path, format, data)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			defer c.close()
			q := url.Values{}
			if merge {
				q.Set("mode", "merge")
			}
			var raw json.RawMessage
			_, err = c.do(cmd.Context(), "PUT", "/v1/archive", q, bytes.NewReader(data),
				contentType, &raw)
			if err != nil {
				return fmt.Errorf("import %s failed: %w", path, err)
			}
			if o.asJSON {
				return printJSONLine(cmd.OutOrStdout(), raw)
			}
			var counts map[string]int
			if err := json.Unmarshal(raw, &counts); err != nil {
				return printJSONLine(cmd.OutOrStdout(), raw)
			}
			mode := "replaced"
			if merge {
				mode = "merged"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "archive %s from %s: %d terminals, %d meters, "+
				"%d buses, %d links, %d Modbus models\n", mode, filepath.Base(path),
				counts["terminals"], counts["meters"], counts["buses"], counts["links"],
				counts["modbus_models"])
			return err
		},
	}
	addAPIFlags(imp, &o)
	imp.Flags().BoolVar(&merge, "merge", false, "add and update entries instead of replacing "+
		"the archive")
	imp.Flags().StringVar(&format, "format", "", "file format: json or csv (default: from the "+
		"file name, else from the content)")
	cmd.AddCommand(imp)
	return cmd
}

// archiveContentType picks the Content-Type of an archive file from --format, the file
// extension or, failing both, the first non-blank byte ({ for JSON).
func archiveContentType(path, format string, data []byte) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			format = "json"
		case ".csv":
			format = "csv"
		default:
			format = "csv"
			if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
				format = "json"
			}
		}
	}
	switch format {
	case "json":
		return "application/json", nil
	case "csv":
		return "text/csv", nil
	}
	return "", fmt.Errorf("invalid --format %q: use json or csv", format)
}
