package transport_test

import (
	"context"
	"testing"

	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// The resolver on the hot path of every request (issue 13): a numeric
// next hop costs no DNS and no allocation beyond the one-target list; a
// name whose answers are cached costs no query, and fewer allocations
// than building the request it routes (BenchmarkBuildRequest).
func BenchmarkResolve(b *testing.B) {
	srv := newResolveTestServer(b,
		"example.test. 300 IN NAPTR 10 50 \"s\" \"SIP+D2U\" \"\" _sip._udp.example.test.",
		"_sip._udp.example.test. 300 IN SRV 10 0 5060 a.example.test.",
		"_sip._udp.example.test. 300 IN SRV 20 60 5060 b.example.test.",
		"_sip._udp.example.test. 300 IN SRV 20 40 5060 c.example.test.",
		"a.example.test. 300 IN A 192.0.2.1",
		"b.example.test. 300 IN A 192.0.2.2",
		"c.example.test. 300 IN A 192.0.2.3",
	)
	r := srv.resolver(b, transport.DNSResolverConfig{})
	ctx := context.Background()
	for _, bc := range []struct{ name, uri string }{
		{"numeric", "sip:bob@192.0.2.1:5060"},
		{"numeric without port", "sip:bob@192.0.2.1"},
		{"cached NAPTR SRV A", "sip:bob@example.test"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			u, err := sip.ParseURI(bc.uri)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.Resolve(ctx, u); err != nil { // fills the cache
				b.Fatal(err)
			}
			before := srv.total()
			b.ReportAllocs()
			for b.Loop() {
				ts, err := r.Resolve(ctx, u)
				if err != nil || len(ts) == 0 {
					b.Fatal(err)
				}
			}
			if srv.total() != before {
				b.Fatalf("%d DNS queries on the hot path", srv.total()-before)
			}
		})
	}
	b.Run("ResolveNumeric", func(b *testing.B) {
		u, err := sip.ParseURI("sip:bob@192.0.2.1:5060;transport=tcp")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := r.ResolveNumeric(u, ""); !ok {
				b.Fatal("not numeric")
			}
		}
	})
}

// BenchmarkBuildRequest is what a request costs to build, the yardstick
// of a cached lookup.
func BenchmarkBuildRequest(b *testing.B) {
	u, err := sip.ParseURI("sip:bob@example.test")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := sip.NewRequest(sip.INVITE, u)
		req.SetFrom(sip.Address{URI: u, Params: sip.Params(";tag=" + sip.NewTag())})
		req.Set("Contact", "<sip:alice@192.0.2.9:5060>")
		req.SetBody([]byte("v=0\r\n"), "application/sdp")
		_ = req.AppendTo(nil)
	}
}
