//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device. NOTE: outside Linux this also counts
// /dev/null and other devices as terminals, where the \r redraws are harmless.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
