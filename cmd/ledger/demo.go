package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/benefits-ledger/ledger/internal/gen"
)

// runDemo writes a synthetic, realistic input log (internal/gen) as NDJSON,
// ready for `ledger submit -`.
func runDemo(e *env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	events := fs.Int("events", 100000, "approximate number of events (±5%)")
	partners := fs.Int("partners", 0, fmt.Sprintf("number of partners (default events/%d)", gen.DefaultEventsPerPartner))
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same log, byte for byte")
	out := fs.String("out", "", "write the log to FILE instead of stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return fail(e, exitError, err)
	}
	if len(pos) > 0 {
		return fail(e, exitError, usageError{"demo takes no arguments"})
	}
	var w io.Writer = e.stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			return fail(e, exitError, err)
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err = gen.Generate(gen.Config{Events: *events, Partners: *partners, Seed: *seed}, func(line []byte) error {
		if _, err := bw.Write(line); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
	if err == nil {
		err = bw.Flush()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fail(e, exitError, err)
	}
	return exitOK
}
