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
// otherwise, so pipes and logs stay clean), with the rate so far. Work is
// counted in units (bytes of input, or sequences of the log) and items
// (lines, events) for the rate.
type progress struct {
	w            io.Writer
	label, items string
	total, done  int64
	count        int64
	start, last  time.Time
	enabled      bool
}

func newProgress(w io.Writer, label, items string, total int64) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, label: label, items: items, total: total, start: time.Now(),
		enabled: ok && term.IsTerminal(int(f.Fd()))}
}

// add records units and items done.
func (p *progress) add(units, items int64) { p.set(p.done+units, p.count+items, p.total) }

// set records absolute progress.
func (p *progress) set(done, count, total int64) {
	p.done, p.count, p.total = done, count, total
	if !p.enabled || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	frac := float64(p.done) / float64(max(p.total, 1))
	width := 30
	filled := max(0, min(width, int(frac*float64(width))))
	rate := float64(p.count) / max(time.Since(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%%  %d %s  %.0f %s/s ", p.label, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), frac*100, p.count, p.items, rate, p.items)
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p.enabled && p.count > 0 {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
