package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progressLogInterval is the shortest time between two progress lines when standard error
// is not a terminal, so that a long batch writes a few lines a minute to a log file.
const progressLogInterval = 5 * time.Second

// progress shows the progress of a long operation on standard error. On a terminal it
// redraws one line with \r. Elsewhere (a pipe or a log file) it prints a line when the text
// has changed and progressLogInterval has passed since the last line, and always prints the
// final text. A progress is used by one goroutine only.
type progress struct {
	w        io.Writer
	terminal bool
	interval time.Duration
	now      func() time.Time

	drawn   bool // a \r line is on the terminal and needs its newline
	width   int  // length of the line drawn last, which a shorter final line must cover
	last    string
	lastAt  time.Time
	printed bool
}

// newProgress returns a progress that writes to w, redrawing in place only when w is a
// terminal.
func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, terminal: ok && isTerminal(f), interval: progressLogInterval,
		now: time.Now}
}

// update shows text as the current progress.
func (p *progress) update(text string) {
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s ", text)
		p.drawn, p.width = true, len(text)+1
		return
	}
	now := p.now()
	if p.printed && (text == p.last || now.Sub(p.lastAt) < p.interval) {
		return
	}
	fmt.Fprintln(p.w, text)
	p.last, p.lastAt, p.printed = text, now, true
}

// finish shows text as the final progress and ends the line.
func (p *progress) finish(text string) {
	if p.terminal {
		pad := strings.Repeat(" ", max(p.width-len(text), 0))
		fmt.Fprintf(p.w, "\r%s%s\n", text, pad)
		p.drawn = false
		return
	}
	if !p.printed || text != p.last {
		fmt.Fprintln(p.w, text)
	}
	p.last, p.lastAt, p.printed = text, p.now(), true
}

// interrupt ends a drawn line so that an error message starts on a line of its own.
func (p *progress) interrupt() {
	if p.terminal && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
