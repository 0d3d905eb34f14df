package srtp

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pion/dtls logs through a logging.LoggerFactory, by default to stderr.
// Handshakes log through DTLSConfig.Logger instead, every message at debug
// level (failures reach the caller as errors), and nothing without one.
// pion logs no key material.

// slogFactory is a logging.LoggerFactory over a *slog.Logger (nil: none).
type slogFactory struct{ log *slog.Logger }

// NewLogger implements logging.LoggerFactory.
func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{log: f.log, scope: scope}
}

// slogLeveled is a logging.LeveledLogger writing at debug level.
type slogLeveled struct {
	log   *slog.Logger
	scope string
}

func (l slogLeveled) write(level string, msg string) {
	if l.log == nil || !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug("dtls: "+msg, "scope", l.scope, "pion_level", level)
}

func (l slogLeveled) writef(level, format string, args ...any) {
	if l.log == nil || !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.write(level, fmt.Sprintf(format, args...))
}

// The logging.LeveledLogger methods.
func (l slogLeveled) Trace(msg string)                  {}
func (l slogLeveled) Tracef(string, ...any)             {}
func (l slogLeveled) Debug(msg string)                  { l.write("debug", msg) }
func (l slogLeveled) Debugf(format string, args ...any) { l.writef("debug", format, args...) }
func (l slogLeveled) Info(msg string)                   { l.write("info", msg) }
func (l slogLeveled) Infof(format string, args ...any)  { l.writef("info", format, args...) }
func (l slogLeveled) Warn(msg string)                   { l.write("warn", msg) }
func (l slogLeveled) Warnf(format string, args ...any)  { l.writef("warn", format, args...) }
func (l slogLeveled) Error(msg string)                  { l.write("error", msg) }
func (l slogLeveled) Errorf(format string, args ...any) { l.writef("error", format, args...) }
