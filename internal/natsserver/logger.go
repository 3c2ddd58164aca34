package natsserver

import (
	"context"
	"fmt"
	"log/slog"
)

// slogAdapter implements server.Logger on top of log/slog.
//
// The server's routine chatter (notices, debug, trace) goes to the ledger's
// log at debug level so that it does not drown the ledger's own lines;
// warnings and errors keep their level because they mean something is wrong
// with storage or the network. Fatal lines must not exit the process the way
// the server's default logger does: they are reported to Start, which turns
// them into an error (for example "address already in use").
type slogAdapter struct {
	log   *slog.Logger
	fatal chan<- error // buffered; Start reads the first fatal error
}

func (l *slogAdapter) logf(level slog.Level, format string, v ...any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, fmt.Sprintf(format, v...), "component", "nats-server")
}

// Noticef logs a server notice at debug level.
func (l *slogAdapter) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v...) }

// Warnf logs a server warning at warn level.
func (l *slogAdapter) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v...) }

// Errorf logs a server error at error level, except a client's refused
// credentials or permissions (warn level: the server is fine, a client is
// not; see clientRefused).
func (l *slogAdapter) Errorf(format string, v ...any) {
	level := slog.LevelError
	if clientRefused(format, v...) {
		level = slog.LevelWarn
	}
	l.logf(level, format, v...)
}

// Debugf logs a server debug line at debug level.
func (l *slogAdapter) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v...) }

// Tracef logs a server trace line at debug level.
func (l *slogAdapter) Tracef(format string, v ...any) { l.logf(slog.LevelDebug, format, v...) }

// Fatalf logs at error level and hands the error to Start instead of exiting.
func (l *slogAdapter) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	l.log.Error(err.Error(), "component", "nats-server", "fatal", true)
	select {
	case l.fatal <- err:
	default: // Start already has one fatal error; later ones are only logged.
	}
}
