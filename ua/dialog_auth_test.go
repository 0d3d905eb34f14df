package ua_test

// In-dialog requests challenged by the peer (RFC 3261 §22.2, §22.3): BYE,
// re-INVITE and INFO are sent again once, with credentials.

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

const reinviteAnswer = "v=0\r\no=- 7 8 IN IP4 192.0.2.8\r\ns=-\r\nc=IN IP4 192.0.2.8\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\na=recvonly\r\n"

// challengingPeer answers an initial INVITE 200 and challenges every
// request of method m (401 or 407 by code) until its credentials verify.
type challengingPeer struct {
	m    sip.Method
	code int
	srv  *digest.Server

	mu     sync.Mutex
	seen   []*sip.Request // the requests of method m
	authed []bool
	acks   int
}

func (p *challengingPeer) serve(_ context.Context, w transaction.ResponseWriter, req *sip.Request) {
	to, _ := req.To()
	if req.Method == sip.INVITE && to.Tag() == "" {
		ok := sip.NewResponse(req, sip.StatusOK, "")
		ok.SetToTag(sip.NewTag())
		ok.Set("Contact", "<sip:peer@192.0.2.8:5060>")
		ok.SetBody([]byte(testSDP), "application/sdp")
		_ = w.Respond(ok)
		return
	}
	if req.Method != p.m {
		_ = w.Respond(sip.NewResponse(req, sip.StatusOK, ""))
		return
	}
	creds := req.Authorization()
	if p.code == sip.StatusProxyAuthenticationRequired {
		creds = req.ProxyAuthorization()
	}
	authed := false
	for _, v := range creds {
		if _, err := p.srv.Verify(v, string(req.Method), nil, func(user, _ string) (digest.Credentials, bool) {
			return digest.Credentials{Username: user, Password: "secret"}, user == "alice"
		}); err == nil {
			authed = true
		}
	}
	p.mu.Lock()
	p.seen = append(p.seen, req)
	p.authed = append(p.authed, authed)
	p.mu.Unlock()
	if authed {
		res := sip.NewResponse(req, sip.StatusOK, "")
		if req.Method == sip.INVITE {
			res.Set("Contact", "<sip:peer@192.0.2.8:5060>")
			res.SetBody([]byte(reinviteAnswer), "application/sdp")
		}
		_ = w.Respond(res)
		return
	}
	res := sip.NewResponse(req, p.code, "")
	chs, _ := p.srv.Challenges(false)
	name := "WWW-Authenticate"
	if p.code == sip.StatusProxyAuthenticationRequired {
		name = "Proxy-Authenticate"
	}
	for _, c := range chs {
		res.Add(name, c)
	}
	_ = w.Respond(res)
}

func (p *challengingPeer) stray(in transport.Incoming) {
	if r, ok := in.Msg.(*sip.Request); ok && r.Method == sip.ACK {
		p.mu.Lock()
		p.acks++
		p.mu.Unlock()
	}
}

func TestInDialogChallenges(t *testing.T) {
	tests := []struct {
		name     string
		m        sip.Method
		code     int
		password string
		do       func(ctx context.Context, c *ua.Call) error
	}{
		{"BYE 401", sip.BYE, 401, "secret", func(ctx context.Context, c *ua.Call) error { return c.Hangup(ctx) }},
		{"BYE 407", sip.BYE, 407, "secret", func(ctx context.Context, c *ua.Call) error { return c.Hangup(ctx) }},
		{"BYE wrong password", sip.BYE, 401, "wrong", func(ctx context.Context, c *ua.Call) error { return c.Hangup(ctx) }},
		{"BYE no credentials", sip.BYE, 401, "", func(ctx context.Context, c *ua.Call) error { return c.Hangup(ctx) }},
		{"re-INVITE 407", sip.INVITE, 407, "secret", func(ctx context.Context, c *ua.Call) error { return c.Hold(ctx) }},
		{"re-INVITE 401", sip.INVITE, 401, "secret", func(ctx context.Context, c *ua.Call) error { return c.Hold(ctx) }},
		{"re-INVITE wrong password", sip.INVITE, 407, "wrong", func(ctx context.Context, c *ua.Call) error { return c.Hold(ctx) }},
		{"INFO 401", sip.INFO, 401, "secret", func(ctx context.Context, c *ua.Call) error {
			_, err := c.Request(ctx, sip.INFO, []byte("Signal=5\r\n"), ua.DTMFInfoContentType)
			return err
		}},
		{"INFO no credentials", sip.INFO, 407, "", func(ctx context.Context, c *ua.Call) error {
			_, err := c.Request(ctx, sip.INFO, nil, "")
			return err
		}},
		{"re-INVITE no credentials", sip.INVITE, 401, "", func(ctx context.Context, c *ua.Call) error { return c.Hold(ctx) }},
		{"INFO wrong password", sip.INFO, 401, "wrong", func(ctx context.Context, c *ua.Call) error {
			_, err := c.Request(ctx, sip.INFO, nil, "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				srv, err := digest.NewServer(digest.ServerConfig{Realm: "example.test"})
				require.NoError(t, err)
				p := &challengingPeer{m: tt.m, code: tt.code, srv: srv}
				newRawPeer(t, n, "192.0.2.8:5060", p.serve, p.stray)
				a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{Lines: []ua.LineConfig{{AOR: "sip:alice@example.test", Password: tt.password}}})
				c, err := a.Dial(t.Context(), "sip:peer@192.0.2.8:5060", ua.DialOptions{SDP: []byte(testSDP)})
				require.NoError(t, err)
				synctest.Wait()
				p.mu.Lock()
				acks0 := p.acks
				p.mu.Unlock()

				err = tt.do(t.Context(), c)
				synctest.Wait()
				p.mu.Lock()
				defer p.mu.Unlock()
				switch tt.password {
				case "secret":
					require.NoError(t, err)
					require.Len(t, p.seen, 2, "challenged once, sent again once")
					require.Equal(t, []bool{false, true}, p.authed, "the second carries valid credentials")
					c1, _ := p.seen[0].CSeq()
					c2, _ := p.seen[1].CSeq()
					require.Equal(t, c1.Seq+1, c2.Seq, "a new request of the dialog (§22.2)")
					require.Equal(t, p.seen[0].CallID(), p.seen[1].CallID())
				case "wrong":
					require.Error(t, err)
					if tt.m != sip.BYE { // Hangup returns the second 401 as it is
						require.ErrorIs(t, err, ua.ErrAuthFailed)
					}
					require.Len(t, p.seen, 2, "credentials refused twice: no third try")
					require.Equal(t, []bool{false, false}, p.authed)
				default:
					require.ErrorIs(t, err, ua.ErrAuthFailed)
					require.ErrorIs(t, err, digest.ErrNoCredentials)
					require.Len(t, p.seen, 1, "nothing to answer the challenge with")
				}
				var se *ua.StatusError
				if err != nil {
					require.ErrorAs(t, err, &se)
					require.Equal(t, tt.code, se.Code())
				}
				switch tt.m {
				case sip.BYE:
					require.Equal(t, ua.CallEnded, c.State(), "hung up whatever the peer said")
				case sip.INVITE:
					require.Equal(t, ua.CallEstablished, c.State())
					if tt.password == "secret" {
						require.Equal(t, acks0+1, p.acks, "the re-INVITE's 2xx acknowledged")
						require.Equal(t, reinviteAnswer, string(c.RemoteSDP()))
						require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(c.LocalSDP()))
					} else {
						require.Equal(t, testSDP, string(c.RemoteSDP()), "a failed re-INVITE changes nothing")
					}
				case sip.INFO:
					require.Equal(t, ua.CallEstablished, c.State())
				}
			})
		})
	}
}
