package main

import (
	"flag"
	"net"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// failoverFlags are dial's flags for server redundancy (ua failover.go):
// alternate proxies, dual registration, the DNS server to resolve with and
// how fast to leave a silent server.
type failoverFlags struct {
	outbound, altProxy, altOutbound string
	dual                            bool
	dns                             string
	failoverAfter, probeInterval    time.Duration
}

func addFailoverFlags(fs *flag.FlagSet) *failoverFlags {
	f := &failoverFlags{}
	fs.StringVar(&f.outbound, "outbound", "", "outbound proxy URI (the same as -proxy)")
	fs.StringVar(&f.altProxy, "alt-proxy", "", "alternate registrar and proxy URI, tried once every target of -registrar failed (or registered with too, see -dual-register)")
	fs.StringVar(&f.altOutbound, "alt-outbound", "", "alternate outbound proxy URI, tried once every target of -proxy/-outbound failed")
	fs.BoolVar(&f.dual, "dual-register", false, "register with both the primary and the alternate (-alt-proxy / -alt-outbound) and keep both bindings")
	fs.StringVar(&f.dns, "dns", "", "DNS server host:port to resolve SIP domains with (NAPTR, SRV, A; default: /etc/resolv.conf)")
	fs.DurationVar(&f.failoverAfter, "failover-after", 0, "leave a server that sent nothing for this long for the next one (0: 4s; negative: wait for Timer B/F)")
	fs.DurationVar(&f.probeInterval, "probe-interval", 0, "how often to probe preferred servers after a failover (0: 30s; negative: never)")
	return f
}

// check reports contradictory flags.
func (f *failoverFlags) check(lines []ua.LineConfig) error {
	if f.dns != "" {
		if _, _, err := net.SplitHostPort(f.dns); err != nil {
			return cli.Usagef("-dns %q: want host:port: %v", f.dns, err)
		}
	}
	if (f.altProxy != "" || f.altOutbound != "" || f.dual || f.outbound != "") && len(lines) == 0 {
		return cli.Usagef("-outbound, -alt-proxy, -alt-outbound and -dual-register need a line (-aor)")
	}
	if f.dual && f.altProxy == "" && f.altOutbound == "" {
		return cli.Usagef("-dual-register needs -alt-proxy or -alt-outbound")
	}
	if f.outbound != "" && lines[0].OutboundProxy != "" && lines[0].OutboundProxy != f.outbound {
		return cli.Usagef("-outbound and -proxy differ: give one")
	}
	return nil
}

// apply puts the flags into cfg, whose lines are set.
func (f *failoverFlags) apply(cfg *ua.Config) error {
	if f.dns != "" {
		r, err := transport.NewDNSResolver(transport.DNSResolverConfig{Servers: []string{f.dns}})
		if err != nil {
			return cli.Usagef("-dns: %v", err)
		}
		cfg.Resolver = r
	}
	for i := range cfg.Lines {
		lc := &cfg.Lines[i]
		if f.outbound != "" {
			lc.OutboundProxy = f.outbound
		}
		lc.AlternateProxy, lc.AlternateOutboundProxy = f.altProxy, f.altOutbound
		lc.DualRegistration = f.dual
		lc.FailoverAfter, lc.ProbeInterval = f.failoverAfter, f.probeInterval
	}
	return nil
}
