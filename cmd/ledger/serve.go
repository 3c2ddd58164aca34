package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/httpapi"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
)

func runServe(e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "ledger-data", "data directory: JetStream store and read models")
	natsURL := fs.String("nats-url", "", "use this NATS server instead of the embedded one")
	listen := fs.String("listen", "127.0.0.1:4222", "address of the embedded NATS server")
	policyFile := fs.String("policy", "", "policy file (default: the embedded policy)")
	httpAddr := fs.String("http", httpapi.DefaultAddr, `HTTP listener (API, /metrics, /healthz, /readyz); "" turns it off`)
	verbose := fs.Bool("v", false, "log at debug level")
	maxStore := fs.Int64("max-store", natsserver.DefaultMaxStore, "JetStream file storage limit in bytes (max_store) of the embedded server; appends beyond it answer storage_full")
	minFree := fs.Int64("min-free-disk", natsserver.DefaultMinFreeDisk, "bytes kept free on the data directory's disk; appends that would leave less answer storage_full (negative: no reserve)")
	queryCache := fs.Int64("query-cache-bytes", ledger.DefaultQueryCacheBytes, "budget of the query cache of compiled partner views, in bytes (0 or less: no cache)")
	var in intake.Settings
	fs.Int64Var(&in.MaxBytes, "intake-max-bytes", intake.DefaultMaxBytes, "the intake's limit on queued bytes; a full intake refuses publishes (JetStream's error)")
	fs.Int64Var(&in.MaxMsgs, "intake-max-msgs", intake.DefaultMaxMsgs, "the intake's limit on queued messages")
	maxMsgSize := fs.Int("intake-max-msg-size", int(intake.DefaultMaxMsgSize), "the largest message the intake takes (bytes)")
	fs.DurationVar(&in.OutcomesMaxAge, "outcomes-max-age", intake.DefaultOutcomesMaxAge, "how long outcomes are kept")
	fs.DurationVar(&in.AckWait, "intake-ack-wait", intake.DefaultAckWait, "how long a ledger may hold an intake event undecided before it is redelivered (the takeover time after a crash)")
	fs.DurationVar(&in.PinnedTTL, "intake-pinned-ttl", intake.DefaultPinnedTTL, "how long the intake stays pinned to a ledger that stopped pulling before another ledger takes over")
	drain := fs.Bool("intake-drain", true, "decide the intake's events (false: this ledger serves, publishes queue up for the ledgers that drain)")
	var sec serveSecurity
	sec.register(fs)
	var cl serveCluster
	cl.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return fail(e, exitError, err)
	}
	in.MaxMsgSize = int32(min(*maxMsgSize, 1<<30))
	cfg := app.Config{DataDir: *data, NATSURL: *natsURL, Listen: *listen, MaxStore: *maxStore, MinFreeDisk: *minFree, HTTP: *httpAddr, Intake: in, NoDrain: !*drain,
		QueryCacheBytes: *queryCache}
	if *queryCache <= 0 {
		cfg.QueryCacheBytes = -1
	}
	if err := sec.apply(&cfg); err != nil {
		return fail(e, exitError, err)
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if err := cl.apply(&cfg, explicit); err != nil {
		return fail(e, exitError, err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	pol, err := loadPolicy(*policyFile)
	if err != nil {
		return fail(e, exitError, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Policy, cfg.Logger = pol, log
	l, err := app.Start(ctx, cfg)
	if err != nil {
		return fail(e, exitError, fmt.Errorf("serve: %w", err))
	}
	fmt.Fprintf(e.stdout, "ledger ready: %s (data %s, policy %s)\n", l.ClientURL(), *data, pol.Version)
	if u := l.HTTPURL(); u != "" {
		fmt.Fprintf(e.stdout, "http: %s\n", u)
	}
	select {
	case <-ctx.Done():
	case err := <-l.ProjectorFailed():
		log.Error("the read models stopped following the log; queries answer log_damaged until it is repaired", "err", err)
		<-ctx.Done()
	}
	log.Info("stopping: finishing in-flight requests")
	if err := l.Close(); err != nil {
		return fail(e, exitError, err)
	}
	log.Info("stopped")
	return exitOK
}

func loadPolicy(path string) (*domain.Policy, error) {
	if path == "" {
		return domain.DefaultPolicy(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return domain.ParsePolicy(b)
}
