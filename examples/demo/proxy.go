package main

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/transport"
)

// server is the demo's SIP server, the one both user agents register at
// and alice's INVITE goes to: package proxy's registrar and stateful
// proxy (the default), or the demo's own small registrar and redirect
// server (-redirect).
type server interface {
	// Addr is where it listens (UDP on 127.0.0.1).
	Addr() netip.AddrPort
	// Name is its name in the call flow.
	Name() string
	// Describe says in one line what it does.
	Describe() string
	// Close stops it; it may be called again.
	Close()
}

// proxyServer is package proxy's Server for the demo's domain: REGISTER
// with digest into an in-memory location service, and calls to a user of
// the domain proxied to the user's registered contact with a
// Record-Route, so that the whole dialog crosses it, as the call flow of
// RFC 3261 §4 shows.
type proxyServer struct {
	tp   *transport.Layer
	srv  *proxy.Server
	addr netip.AddrPort
}

// newProxyServer starts package proxy for domain on a UDP port of
// 127.0.0.1, for the given users and passwords.
func newProxyServer(ctx context.Context, domain string, users map[string]string, tracer transport.Tracer) (*proxyServer, error) {
	tp, err := transport.New(transport.Config{Tracer: tracer})
	if err != nil {
		return nil, err
	}
	accounts := proxy.UserTable{}
	for name, pw := range users {
		accounts[name] = proxy.User{Name: name, Password: pw}
	}
	srv, err := proxy.New(tp, proxy.Config{
		Domains: []string{domain}, Users: accounts,
		// The contacts are addresses on 127.0.0.1: nothing to look up in
		// the DNS.
		Resolver: transport.StaticResolver{},
	})
	if err != nil {
		_ = tp.Close()
		return nil, err
	}
	a, err := tp.Listen(ctx, transport.UDP, "127.0.0.1:0")
	if err != nil {
		_ = srv.Close()
		_ = tp.Close()
		return nil, err
	}
	p := &proxyServer{tp: tp, srv: srv, addr: netip.MustParseAddrPort(a.String())}
	srv.AddListener(transport.UDP, p.addr.String())
	return p, nil
}

// Addr implements server.
func (p *proxyServer) Addr() netip.AddrPort { return p.addr }

// Name implements server.
func (p *proxyServer) Name() string { return "proxy" }

// Describe implements server.
func (p *proxyServer) Describe() string {
	return fmt.Sprintf("proxy      sip:%s at %s (package proxy: registrar with digest auth, stateful proxy with Record-Route)", domain, p.addr)
}

// Close implements server.
func (p *proxyServer) Close() {
	_ = p.srv.Close()
	_ = p.tp.Close()
}

// Addr implements server.
func (r *registrar) Addr() netip.AddrPort { return r.addr }

// Name implements server.
func (r *registrar) Name() string { return "registrar" }

// Describe implements server.
func (r *registrar) Describe() string {
	return fmt.Sprintf("registrar  sip:%s at %s (digest auth; INVITEs redirected to registered contacts)", domain, r.addr)
}
