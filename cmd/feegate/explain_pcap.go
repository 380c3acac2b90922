package main

import (
	"errors"
	"io"
)

// explainPcap decodes every frame of every TCP stream in a pcap or pcapng file. It reports
// whether any frame failed to decode.
func explainPcap(out io.Writer, path string, opt explainOptions, asJSON bool) (bool, error) {
	return false, errors.New("--pcap is not built yet")
}
