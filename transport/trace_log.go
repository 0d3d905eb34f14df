package transport

import (
	"bytes"
	"context"
	"log/slog"
)

// LogTracerMaxLine bounds each text attribute LogTracer takes from a
// message (first line, Call-ID, CSeq); longer ones are cut.
const LogTracerMaxLine = 256

// LogTracerConfig configures a LogTracer.
type LogTracerConfig struct {
	// Level is the level of the records. The zero value is
	// slog.LevelInfo; slog.LevelDebug keeps traces out of ordinary logs.
	Level slog.Level
	// FullMessage adds the whole message as the "message" attribute. Off,
	// a record has the first line, Call-ID and CSeq only: whole messages
	// carry credentials and personal data, and this is the one place
	// that logs them, on request (STYLE.md §3.6).
	FullMessage bool
}

// LogTracer is a Tracer that logs one record per message sent or received,
// with the attributes direction ("in" or "out"), transport, laddr, raddr,
// conn (stream flows), size (bytes), first_line, call_id and cseq, and
// message when LogTracerConfig.FullMessage is set. Its message is
// "sip sent" or "sip received". It is safe for concurrent use.
type LogTracer struct {
	logger *slog.Logger
	level  slog.Level
	full   bool
}

// NewLogTracer returns a tracer that logs through l; a nil l logs nothing.
func NewLogTracer(l *slog.Logger, cfg LogTracerConfig) *LogTracer {
	return &LogTracer{logger: l, level: cfg.Level, full: cfg.FullMessage}
}

// Trace implements Tracer. It returns at once when l is not enabled for
// the level.
func (t *LogTracer) Trace(ev TraceEvent) {
	if t == nil || t.logger == nil {
		return
	}
	ctx := context.Background()
	if !t.logger.Enabled(ctx, t.level) {
		return
	}
	msg, dir := "sip received", "in"
	if ev.Direction == Out {
		msg, dir = "sip sent", "out"
	}
	first, callID, cseq := logTracerSummary(ev.Data)
	var buf [10]slog.Attr
	attrs := append(buf[:0],
		slog.String("direction", dir),
		slog.String("transport", string(ev.Flow.Network)),
		slog.String("laddr", ev.Flow.Local.String()),
		slog.String("raddr", ev.Flow.Remote.String()),
	)
	if ev.Flow.Conn != 0 {
		attrs = append(attrs, slog.Uint64("conn", ev.Flow.Conn))
	}
	attrs = append(attrs,
		slog.Int("size", len(ev.Data)),
		slog.String("first_line", first),
		slog.String("call_id", callID),
		slog.String("cseq", cseq),
	)
	if t.full {
		attrs = append(attrs, slog.String("message", string(ev.Data)))
	}
	t.logger.LogAttrs(ctx, t.level, msg, attrs...)
}

// logTracerSummary returns a message's first line and its Call-ID and CSeq
// values, without parsing the rest. A keepalive gives empty strings.
func logTracerSummary(b []byte) (first, callID, cseq string) {
	line, rest, _ := bytes.Cut(b, []byte{'\n'})
	first = logTracerText(line)
	for len(rest) > 0 && (callID == "" || cseq == "") {
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break // end of headers
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case callID == "" && (bytes.EqualFold(name, []byte("Call-ID")) || bytes.EqualFold(name, []byte("i"))):
			callID = logTracerText(value)
		case cseq == "" && bytes.EqualFold(name, []byte("CSeq")):
			cseq = logTracerText(value)
		}
	}
	return first, callID, cseq
}

// logTracerText trims and bounds one attribute value.
func logTracerText(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > LogTracerMaxLine {
		b = b[:LogTracerMaxLine]
	}
	return string(b)
}
