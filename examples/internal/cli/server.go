package cli

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/dialtone/dialtone/ua"
)

// ServerFlags are the flags every answering media program takes (echobot,
// conference): -listen, the line's (AddLineFlags), -trace and -pcap,
// -metrics, -drain, the media flags (AddMediaFlags), -media-ip, -max-call
// and -t1.
type ServerFlags struct {
	listen, mediaIP *string
	line            *LineFlags
	trace           *TraceFlags
	metrics         *MetricsFlag
	drain           *DrainFlag
	media           *MediaFlags
	maxCall, t1     *time.Duration
}

// AddServerFlags defines the server flags on fs: envPrefix names the
// line's environment variables (AddLineFlags), listen and maxCall are the
// defaults of -listen and -max-call.
func AddServerFlags(fs *flag.FlagSet, envPrefix, listen string, maxCall time.Duration) *ServerFlags {
	return &ServerFlags{
		listen:  fs.String("listen", listen, "host:port to listen on (UDP and TCP; port 0 picks one)"),
		line:    AddLineFlags(fs, envPrefix),
		trace:   AddTraceFlags(fs),
		metrics: AddMetricsFlag(fs),
		drain:   AddDrainFlag(fs),
		media:   AddMediaFlags(fs),
		mediaIP: fs.String("media-ip", "", "local RTP address to bind and announce (default: the SIP Contact address)"),
		maxCall: fs.Duration("max-call", maxCall, "hang up calls that last longer than this"),
		t1:      fs.Duration("t1", 0, "RFC 3261 T1 (0: 500 ms)"),
	}
}

// MaxCall is -max-call.
func (f *ServerFlags) MaxCall() time.Duration { return *f.maxCall }

// Server is what the server flags start: the tracer and the base of the
// user agent's configuration. Close it when the user agent is closed.
type Server struct {
	flags   *ServerFlags
	tracing *Tracing
	// Config is the user agent's configuration as the flags set it:
	// Listen, the tracer, T1, UserAgent, Media and Limits (Limits()). The
	// program adds its callbacks.
	Config ua.Config
}

// Start checks the flags (-max-call positive), completes media with
// -media-ip and the media flags, and opens what -trace and -pcap ask for.
func (f *ServerFlags) Start(stderr io.Writer, userAgent string, media ua.MediaConfig) (*Server, error) {
	if *f.maxCall <= 0 {
		return nil, Usagef("-max-call %s: want a positive duration", *f.maxCall)
	}
	var err error
	if media.IP, err = MediaIP(*f.mediaIP); err != nil {
		return nil, err
	}
	if err := f.media.Apply(&media); err != nil {
		return nil, err
	}
	tracing, err := f.trace.Start(stderr)
	if err != nil {
		return nil, err
	}
	return &Server{flags: f, tracing: tracing, Config: ua.Config{
		Listen:      Listeners(*f.listen),
		Transport:   ua.TransportConfig{Tracer: tracing.Tracer()},
		Transaction: ua.TransactionConfig{Timers: ua.Timers{T1: *f.t1}},
		UserAgent:   userAgent,
		Media:       media,
		Limits:      Limits(),
	}}, nil
}

// CallContext is the context the program's calls run under (DrainFlag's
// CallContext): it outlives ctx while -drain lets the calls finish. Call
// it once, before Serve.
func (s *Server) CallContext(ctx context.Context) context.Context {
	return s.flags.drain.CallContext(ctx)
}

// Serve adds the line of the flags to s.Config and serves it (the
// package's Serve, with -metrics and -drain) until ctx ends; user names
// the URI printed to call.
func (s *Server) Serve(ctx context.Context, user string, stderr io.Writer, printf func(string, ...any)) error {
	if err := s.flags.line.Configure(&s.Config, stderr); err != nil {
		return err
	}
	return Serve(ctx, s.Config, user, printf, ServeOptions{Metrics: s.flags.metrics, Drain: s.flags.drain})
}

// Close closes the tracer.
func (s *Server) Close() error { return s.tracing.Close() }
