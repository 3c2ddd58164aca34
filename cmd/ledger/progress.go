package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress bar on a terminal (and nothing
// otherwise, so pipes and logs stay clean), with the rate so far.
type progress struct {
	w       io.Writer
	label   string
	total   int64
	done_   int64
	events  int
	start   time.Time
	last    time.Time
	enabled bool
}

func newProgress(w io.Writer, label string, total int64) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, label: label, total: total, start: time.Now(), enabled: ok && term.IsTerminal(int(f.Fd())) && total > 1<<20}
}

func (p *progress) advance(bytes, events int) {
	p.done_ += int64(bytes)
	p.events += events
	if !p.enabled || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	frac := float64(p.done_) / float64(max(p.total, 1))
	width := 30
	filled := min(width, int(frac*float64(width)))
	rate := float64(p.events) / max(time.Since(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d lines  %.0f lines/s ", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, p.events, rate)
}

func (p *progress) done() {
	if p.enabled {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
