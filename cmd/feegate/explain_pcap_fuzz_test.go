package main

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// FuzzExplainCapture runs the whole explain --pcap path (reader, reassembler, both framers
// and both decoders) on arbitrary files: it must report, never panic.
func FuzzExplainCapture(f *testing.F) {
	sc := writeSessionCapture(f)
	session, err := os.ReadFile(sc.path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(session)
	f.Add(session[:len(session)/2])
	f.Add([]byte("not a capture"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, asJSON := range []bool{false, true} {
			_, err := explainCapture(io.Discard, bytes.NewReader(data), explainOptions{}, asJSON)
			_ = err // a corrupt file is an error, which is fine
		}
	})
}

func TestExplainCaptureFromReader(t *testing.T) {
	sc := writeSessionCapture(t)
	data, err := os.ReadFile(sc.path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	failed, err := explainCapture(&out, bytes.NewReader(data), explainOptions{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("the session capture has noise bytes, so explain must report a failure")
	}
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 5 {
		t.Errorf("explained %d lines, want 5", n)
	}
}
