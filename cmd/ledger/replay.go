package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go/jetstream"
)

// runReplay rebuilds the read models from the log into a new file, on the
// auditor's side: it reads the stream itself (read-only) and recomputes every
// partner's tier history under the policy given (what-if) or the default.
func runReplay(e *env, args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	out := fs.String("out", "", "new read model file to write (required)")
	toSeq := fs.Uint64("to-seq", 0, "stop at this sequence (default: the log's last)")
	policyFile := fs.String("policy", "", "recompute tiers under this policy file (what-if; default: the embedded policy)")
	if _, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	}
	if *out == "" {
		return fail(e, exitError, usageError{"replay needs --out PATH"})
	}
	if fileExists(*out) {
		return fail(e, exitError, fmt.Errorf("%s exists: replay writes a new file", *out))
	}
	pol, err := loadPolicy(*policyFile)
	if err != nil {
		return fail(e, exitError, err)
	}
	nc, err := cf.dial(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(e, exitError, err)
	}
	es, err := eventstore.Open(ctx, js, eventstore.ReadOnly())
	if err != nil {
		return fail(e, exitError, err)
	}
	start := time.Now()
	prog := newProgress(e.stderr, "replay", "events", 0)
	d, err := ledger.Rebuild(ctx, es, *out, ledger.RebuildOptions{ToSeq: *toSeq, Policy: pol,
		Progress: func(seq, last uint64) { prog.set(int64(seq), int64(seq), int64(last)) }})
	prog.finish()
	if err != nil {
		os.Remove(*out)
		return fail(e, exitError, err)
	}
	took := time.Since(start)
	rate := float64(d.Checkpoint) / max(took.Seconds(), 1e-9)
	if cf.json {
		b, _ := json.Marshal(map[string]any{"out": *out, "checkpoint": d.Checkpoint, "digest": d.Sum, "tiers_digest": d.Tiers,
			"policy": d.Policy, "seconds": took.Seconds(), "events_per_s": int64(rate)})
		fmt.Fprintln(e.stdout, string(b))
		return exitOK
	}
	fmt.Fprintf(e.stdout, "replayed %d events into %s in %s (%.0f events/s)\n", d.Checkpoint, *out, took.Round(time.Millisecond), rate)
	fmt.Fprintf(e.stdout, "digest        %s\n", d.Sum)
	fmt.Fprintf(e.stdout, "tiers digest  %s (policy %s)\n", d.Tiers, d.Policy)
	return exitOK
}

// runVerify asks the ledger to rebuild its read models from the log and
// compare them with the live ones.
func runVerify(e *env, args []string) int {
	for _, a := range args {
		if a == "--log" || a == "-log" || strings.HasPrefix(a, "--log=") || strings.HasPrefix(a, "-log=") {
			return runVerifyLog(e, args)
		}
	}
	return runAdmin(e, args, "verify", func(raw []byte) (string, bool, error) {
		var r ledger.VerifyReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return "", false, err
		}
		if r.Equal {
			return fmt.Sprintf("read models verified: digest %s at sequence %d (rebuild %d ms, %d events/s)\n",
				r.LiveDigest, r.Checkpoint, r.RebuildMillis, r.EventsPerSec), true, nil
		}
		msg := fmt.Sprintf("READ MODELS DIFFER from a rebuild of the log at sequence %d\n  live     %s\n  rebuilt  %s\n",
			r.Checkpoint, r.LiveDigest, r.RebuiltDigest)
		for _, p := range r.PartnersDiffer {
			msg += "  partner differs: " + p + "\n"
		}
		if r.IndexDiffers {
			msg += "  the global index or counters differ\n"
		}
		return msg + "run 'ledger rebuild' to replace them with the rebuild\n", false, nil
	})
}

// runRebuild asks the ledger to rebuild its read models and swap them in.
func runRebuild(e *env, args []string) int {
	return runAdmin(e, args, "rebuild", func(raw []byte) (string, bool, error) {
		var r ledger.RebuildReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return "", false, err
		}
		return fmt.Sprintf("read models rebuilt and swapped in: digest %s at sequence %d (%d ms, %d events/s)\n",
			r.Digest, r.Checkpoint, r.Millis, r.EventsPerSec), true, nil
	})
}

// runAdmin calls an administrative endpoint; ok=false exits 1. The call
// can take minutes; meanwhile the ledger is checked every few seconds
// (rpc.DefaultWatch), and a ledger that restarted or stopped answering fails
// the call with code unavailable (exit 2) instead of a wait for an answer
// that cannot come.
func runAdmin(e *env, args []string, endpoint string, human func([]byte) (string, bool, error)) int {
	fs := flag.NewFlagSet(endpoint, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var cf clientFlags
	cf.register(fs)
	if pos, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	} else if len(pos) > 0 {
		return fail(e, exitError, usageError{endpoint + " takes no arguments"})
	}
	client, closeConn, err := cf.connect(e)
	if err != nil {
		return fail(e, exitError, err)
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	raw, err := client.CallWatched(ctx, endpoint, nil, rpc.DefaultWatch)
	if err != nil {
		if code := domain.CodeOf(err); code != "" {
			if cf.json {
				b, _ := json.Marshal(rpc.ErrorBody{Code: code, Error: err.Error()})
				fmt.Fprintln(e.stdout, string(b))
			}
			err = fmt.Errorf("%s: %w", code, err)
		}
		return fail(e, exitError, err)
	}
	msg, ok, err := human(raw)
	if err != nil {
		return fail(e, exitError, err)
	}
	if cf.json {
		fmt.Fprintln(e.stdout, string(raw))
	} else {
		fmt.Fprint(e.stdout, msg)
	}
	if !ok {
		return exitRejected
	}
	return exitOK
}
