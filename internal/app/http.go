package app

import (
	"context"
	"time"

	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/httpapi"
	"github.com/benefits-ledger/ledger/internal/metrics"
)

// httpCloseWait bounds how long closing waits for HTTP requests in flight:
// a submission's deadline (30s) and a little.
const httpCloseWait = 40 * time.Second

// startHTTP starts the HTTP listener on cfg.HTTP (none when empty): the
// role tokens under DATA/credentials, the metrics, the API.
func (l *Ledger) startHTTP() error {
	cfg := l.cfg
	if cfg.HTTP == "" {
		return nil
	}
	dir := CredentialsDir(cfg.DataDir)
	tokens, issued, err := auth.ProvisionTokens(dir, l.log.With("component", "auth"))
	if err != nil {
		return err
	}
	if len(issued) > 0 {
		l.log.Info("HTTP tokens issued", "dir", dir, "roles", issued)
	}
	l.http, err = httpapi.Start(httpapi.Config{Addr: cfg.HTTP, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey,
		Tokens: tokens, Writer: l.writer, Queries: l.q, Metrics: l.metrics,
		Logger: l.log.With("component", "http"), Settings: cfg.HTTPSettings})
	if err != nil {
		return err
	}
	l.log.Info("HTTP listening", "url", l.http.URL())
	return nil
}

// stopHTTP stops taking HTTP requests and waits for those in flight.
func (l *Ledger) stopHTTP() {
	if l.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpCloseWait)
	defer cancel()
	l.http.Close(ctx)
}

// projectionLag is the lag the metrics report: events in the log not yet
// folded, and how long the oldest of them has been stored.
func (l *Ledger) projectionLag() (uint64, float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := l.q.Stats(ctx)
	if err != nil || st.ProjectionLag == 0 {
		return 0, 0, err
	}
	rec, err := l.es.GetMsg(ctx, st.Checkpoint+1)
	if err != nil {
		return st.ProjectionLag, 0, nil // the age is unknown, the count is not
	}
	return st.ProjectionLag, max(0, time.Since(rec.Stored).Seconds()), nil
}

// HTTPURL is the HTTP listener's base URL ("" when it is off).
func (l *Ledger) HTTPURL() string {
	if l.http == nil {
		return ""
	}
	return l.http.URL()
}

// Metrics are the ledger's metrics.
func (l *Ledger) Metrics() *metrics.Metrics { return l.metrics }
