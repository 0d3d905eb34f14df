// Package cli holds what the example programs share: the flags of one
// registered line and the one-line-per-event printer.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// LineFlags are the flags of one line: -aor, -user, -pass, -registrar,
// -proxy and -transport, and those of reach.go (-tls-ca, -tls-cert,
// -tls-key, -tls-insecure, -stun, -keepalive). The first five default to
// the environment variables PREFIX_AOR, PREFIX_USER, PREFIX_PASS,
// PREFIX_REGISTRAR and PREFIX_PROXY.
type LineFlags struct {
	aor, user, pass, registrar, proxy, network *string
	reach                                      reachFlags
}

// AddLineFlags defines the line flags on fs; envPrefix names the
// environment variables ("DIAL" reads DIAL_AOR, …).
func AddLineFlags(fs *flag.FlagSet, envPrefix string) *LineFlags {
	env := func(name string) string { return os.Getenv(envPrefix + "_" + name) }
	return &LineFlags{
		aor:       fs.String("aor", env("AOR"), "address of record of the line (sip:alice@example.com); empty: no line"),
		user:      fs.String("user", env("USER"), "digest user name (default: the AOR's user)"),
		pass:      fs.String("pass", env("PASS"), "digest password"),
		registrar: fs.String("registrar", env("REGISTRAR"), "registrar URI; empty: no registration"),
		proxy:     fs.String("proxy", env("PROXY"), "outbound proxy URI"),
		network:   fs.String("transport", "", "transport for the line's requests: udp, tcp, tls, ws, wss (default: as the registrar's URI says)"),
		reach:     addReachFlags(fs),
	}
}

// Lines returns the configured line, or none when -aor is empty.
func (l *LineFlags) Lines() []ua.LineConfig {
	if *l.aor == "" {
		return nil
	}
	return []ua.LineConfig{{
		AOR: *l.aor, Username: *l.user, Password: *l.pass, Registrar: *l.registrar,
		OutboundProxy: *l.proxy, Transport: transport.Network(strings.ToLower(*l.network)),
		STUNServer: *l.reach.stun, Keepalive: *l.reach.keepalive,
	}}
}

// Printer writes one line per event to w, each starting with the time,
// from any number of goroutines.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Printf writes one line.
func (p *Printer) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

// Listeners returns UDP and TCP listeners on one host:port, as every
// example program takes with -listen.
func Listeners(addr string) []ua.ListenConfig {
	return []ua.ListenConfig{
		{Network: transport.UDP, Addr: addr},
		{Network: transport.TCP, Addr: addr},
	}
}

// MediaIP parses the -media-ip flag: empty is the zero address (the rtp
// default, the SIP Contact address).
func MediaIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("-media-ip: %w", err)
	}
	return ip, nil
}

// ServeOptions are the optional parts of Serve.
type ServeOptions struct {
	// Metrics serves the UA's metrics when it has an address (-metrics).
	Metrics *MetricsFlag
	// Drain, when given, drains the UA before it stops (-drain) and ends
	// its CallContext when the drain is over.
	Drain *DrainFlag
}

// Serve runs a user agent that only answers: it starts it, prints its
// listeners and the URI to call (user at the first listener), serves its
// metrics (opt.Metrics), waits for ctx to end, drains (opt.Drain), then
// hangs up and unregisters (Stop).
func Serve(ctx context.Context, cfg ua.Config, user string, printf func(string, ...any), opt ServeOptions) error {
	u, err := ua.New(cfg)
	if err != nil {
		return err
	}
	defer u.Close()
	stop, err := opt.Metrics.Start(u, printf)
	if err != nil {
		return err
	}
	defer stop()
	PrintListening(u, user, printf)
	<-ctx.Done()
	opt.Drain.run(u, printf)
	return Stop(u, printf)
}

// Stop shuts u down gracefully: it unregisters every line and hangs up
// every call, waiting for the answers (at most Limits.CloseTimeout, which
// the examples set to ShutdownTimeout), then stops the user agent.
//
// It uses Close rather than Shutdown on purpose: Shutdown also lets every
// transaction run out its timers (Timer L and M keep a UDP INVITE
// transaction for 64·T1, 32 s), so a program would wait that long, or
// until its bound, after every call.
func Stop(u *ua.UA, printf func(string, ...any)) error {
	printf("stopping: hanging up and unregistering")
	if err := u.Close(); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	printf("stopped")
	return nil
}

// Limits returns the user agent limits of the examples: the defaults,
// with a shutdown bounded by ShutdownTimeout.
func Limits() ua.Limits { return ua.Limits{CloseTimeout: ShutdownTimeout} }
