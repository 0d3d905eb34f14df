package proxy_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/dialtone/dialtone/proxy"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// deadTransport sends nothing: every request fails as unreachable.
type deadTransport struct{}

func (deadTransport) SendRequest(context.Context, *sip.Request, transport.Target) (transport.Flow, error) {
	return transport.Flow{}, transport.ErrUnreachable
}
func (deadTransport) SendResponse(context.Context, *sip.Response, transport.Flow) error { return nil }
func (deadTransport) SendOn(context.Context, sip.Message, transport.Flow) error         { return nil }
func (deadTransport) Serve(transport.Handler) error                                     { return nil }

// recordWriter is a ResponseWriter that keeps the responses.
type recordWriter struct {
	mu  sync.Mutex
	res []*sip.Response
}

func (w *recordWriter) Respond(res *sip.Response) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.res) > 0 && w.res[len(w.res)-1].StatusCode >= 200 && !res.IsSuccess() {
		return errors.New("final already sent")
	}
	w.res = append(w.res, res)
	return nil
}

func (w *recordWriter) Flow() transport.Flow { return transport.Flow{Network: transport.UDP} }

// FuzzServeSIP feeds parsed requests straight to the server's handler:
// whatever they hold, it must not panic and must answer each with one
// final response.
func FuzzServeSIP(f *testing.F) {
	for _, s := range []string{
		"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.test>\r\nFrom: <sip:alice@example.test>;tag=1\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
		"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK2\r\nMax-Forwards: 70\r\nTo: <sip:alice@example.test>\r\nFrom: <sip:alice@example.test>;tag=1\r\nCall-ID: b\r\nCSeq: 1 REGISTER\r\nContact: *\r\nExpires: 0\r\nAuthorization: Digest username=\"alice\", realm=\"example.test\", nonce=\"x\", uri=\"sip:example.test\", response=\"00\"\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:x@192.0.2.9:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bKdt00000000.0011223344556677.x\r\nRoute: <sip:192.0.2.1:5060;lr>, <sip:192.0.2.7;lr>\r\nMax-Forwards: 1\r\nTo: <sip:x@example.test>;tag=2\r\nFrom: <sip:alice@example.test>;tag=1\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		"MESSAGE tel:+1-555-1234 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK3\r\nMax-Forwards: 70\r\nTo: <tel:+1-555-1234>\r\nFrom: <sip:alice@example.test>;tag=1\r\nCall-ID: d\r\nCSeq: 1 MESSAGE\r\nProxy-Authorization: Digest username=\"alice\"\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	aliases := &proxy.AliasTable{}
	if err := aliases.Add("tel:+15551234", "sip:bob@example.test"); err != nil {
		f.Fatal(err)
	}
	srv, err := proxy.New(deadTransport{}, proxy.Config{
		Domains: []string{domain}, Self: []string{proxyAddr}, Users: users, Aliases: aliases,
		Resolver: transport.StaticResolver{},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sip.Parse(b)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok || req.Method == sip.ACK || req.Method == sip.CANCEL {
			return
		}
		w := &recordWriter{}
		srv.ServeSIP(context.Background(), w, req)
		finals := 0
		for _, r := range w.res {
			if r.StatusCode >= 200 {
				finals++
			}
		}
		if finals != 1 {
			t.Fatalf("%d final responses to\n%s", finals, b)
		}
	})
}

// FuzzParseUser: user specs and AOR keys never panic, and a parsed
// alias is an AOR.
func FuzzParseUser(f *testing.F) {
	for _, s := range []string{"alice:secret", "bob:pw:+15551234,tel:+1-555-1234", "x:y:sip:%41@h:5060;user=phone", ":", "a::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, aliases, err := proxy.ParseUser(s, []string{domain})
		if err != nil {
			return
		}
		if u.Name == "" || u.Password == "" || strings.Contains(u.Name, "@") {
			t.Fatalf("bad user from %q: %+v", s, u)
		}
		for _, a := range aliases {
			_, _ = proxy.ParseAOR(a)
		}
	})
}
