// Command proxy is a registrar and stateful proxy (or, with -redirect, a
// redirect server) for one domain, built on package proxy. Users come from
// -user flags or a -users file, one "name:password[:alias,…]" each;
// aliases are user parts in the domain ("+15551234") or URIs
// ("tel:+15551234").
//
//	proxy -domain example.test -listen 127.0.0.1:5060 -user alice:secret -user bob:secret:+15551234
//	proxy -domain example.test -listen 0.0.0.0:5060 -advertise 192.0.2.1:5060 -users users.txt -redirect
//
// It listens on UDP and TCP at -listen, and on TLS (-tls with -cert and
// -key) and WebSocket (-ws) when asked. -algorithms picks the digest
// algorithms offered (older phones, baresip 1.0 among them, need MD5
// alone). -trace logs every SIP message to
// stderr; -pcap writes them to a capture file (-quiet: no line per
// registration). Bindings live in memory
// unless -db names an SQLite file (they then survive a restart) or -pg a
// PostgreSQL database (several instances behind a SIP load balancer then
// share them: each reaches the users registered through the others).
// -metrics serves the Go runtime's and the process's figures (heap,
// goroutines, GC pauses, RSS, open descriptors) for Prometheus, as the
// soak samples them. It prints one line per listener and per registration
// to stdout, and stops on Ctrl-C.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/proxy/location/pgstore"
	"github.com/dialtone/dialtone/proxy/location/sqlitestore"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// options are the parsed flags.
type options struct {
	domain, listen, tlsAddr, wsAddr, cert, key, advertise string
	usersFile, pcap, db, pg, cpuProfile                   string
	users                                                 multi
	redirect, sequential, trace, quiet                    bool
	seqTimeout                                            time.Duration
	auth, algorithms                                      string
	t1                                                    time.Duration
	metrics                                               *cli.MetricsFlag
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.domain, "domain", "", "the domain served (required)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5060", "host:port for UDP and TCP")
	fs.StringVar(&o.tlsAddr, "tls", "", "host:port for TLS (needs -cert and -key)")
	fs.StringVar(&o.wsAddr, "ws", "", "host:port for SIP over WebSocket")
	fs.StringVar(&o.cert, "cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&o.key, "key", "", "TLS key file (PEM)")
	fs.StringVar(&o.advertise, "advertise", "", "host:port peers reach the proxy at, for Record-Route (default: the -listen address once bound)")
	fs.Var(&o.users, "user", "a user, name:password[:alias,…] (repeatable)")
	fs.StringVar(&o.usersFile, "users", "", "file of users, one name:password[:alias,…] a line, # for comments")
	fs.BoolVar(&o.redirect, "redirect", false, "redirect server: answer 302 with the bindings instead of proxying")
	fs.BoolVar(&o.sequential, "sequential", false, "fork sequentially (highest q first) instead of in parallel")
	fs.DurationVar(&o.seqTimeout, "sequential-timeout", 0, "with -sequential: how long each branch rings before the next is tried (0: 20 s)")
	fs.StringVar(&o.auth, "auth", "leaving", "which calls need proxy credentials: leaving (the domain), all, none")
	fs.StringVar(&o.algorithms, "algorithms", "SHA-256,MD5", "digest algorithms offered, strongest first (SHA-512-256, SHA-256, MD5)")
	fs.BoolVar(&o.trace, "trace", false, "log every SIP message to stderr")
	fs.BoolVar(&o.quiet, "quiet", false, "print no line per registration (for load measurements)")
	fs.StringVar(&o.pcap, "pcap", "", "write every SIP message to this capture file")
	fs.StringVar(&o.db, "db", "", "keep bindings in this SQLite file, so that they survive a restart")
	fs.StringVar(&o.pg, "pg", "", "keep bindings in this PostgreSQL database (a DSN such as postgres://user@host/db), shared with other instances")
	fs.DurationVar(&o.t1, "t1", 0, "RFC 3261 T1 (0: 500 ms)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until the proxy exits")
	o.metrics = cli.AddMetricsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.domain == "" {
		return o, errors.New("-domain is required")
	}
	if o.db != "" && o.pg != "" {
		return o, errors.New("-db and -pg are exclusive: one location store")
	}
	if o.tlsAddr != "" && (o.cert == "" || o.key == "") {
		return o, errors.New("-tls needs -cert and -key")
	}
	if o.seqTimeout < 0 {
		return o, errors.New("-sequential-timeout: want a duration of 0 or more")
	}
	return o, nil
}

// loadUsers reads the users of the flags and file into a table and their
// aliases into an alias table.
func loadUsers(o options) (proxy.UserTable, *proxy.AliasTable, error) {
	specs := append([]string(nil), o.users...)
	if o.usersFile != "" {
		f, err := os.Open(o.usersFile)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				specs = append(specs, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, nil, err
		}
	}
	if len(specs) == 0 {
		return nil, nil, errors.New("no users: give -user or -users")
	}
	users := proxy.UserTable{}
	aliases := &proxy.AliasTable{}
	for _, spec := range specs {
		u, as, err := proxy.ParseUser(spec, []string{o.domain})
		if err != nil {
			return nil, nil, fmt.Errorf("user %q: %w", strings.SplitN(spec, ":", 2)[0], err)
		}
		users[u.Name] = u
		for _, a := range as {
			if err := aliases.Add(a, "sip:"+u.Name+"@"+o.domain); err != nil {
				return nil, nil, fmt.Errorf("alias %q: %w", a, err)
			}
		}
	}
	return users, aliases, nil
}

// run is the program: it serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	users, aliases, err := loadUsers(o)
	if err != nil {
		return err
	}
	stopProfile, err := cli.StartCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	var outMu sync.Mutex
	printf := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}
	tcfg := transport.Config{}
	var tracers multiTracer
	if o.trace {
		tracers = append(tracers, transport.NewLogTracer(slog.New(slog.NewTextHandler(stderr, nil)),
			transport.LogTracerConfig{FullMessage: true}))
	}
	if o.pcap != "" {
		f, err := os.Create(o.pcap)
		if err != nil {
			return err
		}
		defer f.Close()
		pt, err := transport.NewPcapTracer(f)
		if err != nil {
			return err
		}
		defer pt.Close()
		tracers = append(tracers, pt)
	}
	if len(tracers) > 0 {
		tcfg.Tracer = tracers
	}
	if o.tlsAddr != "" {
		cert, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return err
		}
		tcfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	tp, err := transport.New(tcfg)
	if err != nil {
		return err
	}
	defer tp.Close()
	stopMetrics, err := o.metrics.StartHandler(cli.RuntimeMetricsHandler(), printf)
	if err != nil {
		return err
	}
	defer stopMetrics()
	pcfg := proxy.Config{
		Domains: []string{o.domain}, Users: users, Aliases: aliases,
		Transaction: transaction.Config{Timers: transaction.Timers{T1: o.t1}},
		OnRegister: func(aor string, bs []proxy.Binding) {
			cts := make([]string, 0, len(bs))
			for _, b := range bs {
				cts = append(cts, b.Contact.String())
			}
			printf("registered aor=%s contacts=%d %s", aor, len(bs), strings.Join(cts, " "))
		},
	}
	if o.quiet {
		pcfg.OnRegister = nil
	}
	for a := range strings.SplitSeq(o.algorithms, ",") {
		alg, err := digest.ParseAlgorithm(strings.TrimSpace(a))
		if err != nil {
			return fmt.Errorf("-algorithms %q: %w", a, err)
		}
		pcfg.Algorithms = append(pcfg.Algorithms, alg)
	}
	switch o.auth {
	case "leaving":
	case "all":
		pcfg.CallAuth = proxy.AuthAll
	case "none":
		pcfg.CallAuth = proxy.AuthNone
	default:
		return fmt.Errorf("-auth %q: want leaving, all or none", o.auth)
	}
	if o.redirect {
		pcfg.Mode = proxy.ModeRedirect
	}
	if o.sequential {
		pcfg.Forking = proxy.Sequential
		pcfg.SequentialTimeout = o.seqTimeout
	}
	if o.advertise != "" {
		pcfg.Self = []string{o.advertise}
	}
	loc, closeLoc, err := openLocation(ctx, o)
	if err != nil {
		return err
	}
	defer closeLoc()
	pcfg.Location = loc
	srv, err := proxy.New(tp, pcfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	listen := func(n transport.Network, addr string) (net.Addr, error) {
		a, err := tp.Listen(ctx, n, addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s %s: %w", n, addr, err)
		}
		if ap, err := netip.ParseAddrPort(selfAddr(a)); err == nil && ap.Addr().IsUnspecified() {
			// Peers cannot route to 0.0.0.0: the Record-Route is
			// -advertise's (on every transport).
			if o.advertise == "" {
				return nil, fmt.Errorf("listen %s %s: a wildcard address needs -advertise", n, addr)
			}
		} else {
			srv.AddListener(n, selfAddr(a))
		}
		printf("listening %s %s", n, a)
		return a, nil
	}
	udpAddr, err := dualPort(o.listen)
	if err != nil {
		return err
	}
	a, err := listen(transport.UDP, udpAddr)
	if err != nil {
		return err
	}
	// TCP on the port UDP got, so that -listen host:0 gives one address.
	if _, err := listen(transport.TCP, selfAddr(a)); err != nil {
		return err
	}
	if o.tlsAddr != "" {
		if _, err := listen(transport.TLS, o.tlsAddr); err != nil {
			return err
		}
	}
	if o.wsAddr != "" {
		if _, err := listen(transport.WS, o.wsAddr); err != nil {
			return err
		}
	}
	mode := "proxy"
	if o.redirect {
		mode = "redirect"
	}
	printf("ready domain=%s mode=%s users=%d location=%s", o.domain, mode, len(users), locationName(o))
	<-ctx.Done()
	return nil
}

// openLocation opens the location store the flags ask for: nil (the
// Server's in-memory one) without -db or -pg.
func openLocation(ctx context.Context, o options) (proxy.Location, func(), error) {
	switch {
	case o.db != "":
		s, err := sqlitestore.Open(ctx, o.db)
		if err != nil {
			return nil, nil, fmt.Errorf("-db: %w", err)
		}
		return s, func() { _ = s.Close() }, nil
	case o.pg != "":
		s, err := pgstore.Open(ctx, o.pg, pgstore.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("-pg: %w", err)
		}
		return s, func() { _ = s.Close() }, nil
	}
	return nil, func() {}, nil
}

func locationName(o options) string {
	switch {
	case o.db != "":
		return "sqlite"
	case o.pg != "":
		return "postgres"
	}
	return "memory"
}

// selfAddr is the host:port of a bound listener.
func selfAddr(a net.Addr) string {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().String()
	case *net.TCPAddr:
		return a.AddrPort().String()
	}
	return a.String()
}

// multiTracer sends each trace event to several tracers.
type multiTracer []transport.Tracer

func (m multiTracer) Trace(ev transport.TraceEvent) {
	for _, t := range m {
		t.Trace(ev)
	}
}

// dualPort turns a "host:0" listen address into one whose port is free
// for UDP and TCP alike, so that UDP and TCP share it (the UDP port the
// system picks may be taken for TCP). Other addresses are returned as
// they are.
func dualPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, nil // a fixed port, or a bad address Listen reports
	}
	for range maxDualPortTries {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", fmt.Errorf("listen udp %s: %w", addr, err)
		}
		got := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", got)
		_ = pc.Close()
		if err == nil {
			_ = ln.Close()
			return got, nil
		}
	}
	return "", fmt.Errorf("listen %s: no port free for both UDP and TCP in %d tries", addr, maxDualPortTries)
}

// maxDualPortTries bounds dualPort's search for a port free on both
// transports.
const maxDualPortTries = 20
