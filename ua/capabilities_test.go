package ua_test

// Headers that tell the truth (issue 18, point 7): Allow lists what the UA
// accepts given its configuration, Supported is on every dialog-creating
// request and every 2xx to one, Require is checked (RFC 3261 §8.2.2.3).

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

func noMessage(context.Context, *ua.Message) int { return 0 }

// Allow as a configuration makes it, in OPTIONS, INVITE, the 200 to the
// INVITE, the re-INVITE and its 200, with Supported beside it each time.
func TestAllowSupportedFollowConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   ua.Config
		allow string
	}{
		{"zero config", ua.Config{}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, PRACK"},
		{"UPDATE allowed", ua.Config{AllowUpdate: true}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, NOTIFY, PRACK"},
		{"MESSAGE handler", ua.Config{OnMessage: noMessage}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, MESSAGE, NOTIFY, PRACK"},
		{"both", ua.Config{AllowUpdate: true, OnMessage: noMessage}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, MESSAGE, NOTIFY, PRACK"},
		{"SUBSCRIBE handler", ua.Config{OnSubscribe: func(context.Context, *ua.IncomingSubscription) {}}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, SUBSCRIBE, NOTIFY, PRACK"},
		{"REFER handler", ua.Config{OnRefer: func(context.Context, *ua.IncomingRefer) {}}, "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, PRACK, REFER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				wa, wb := newWire(), newWire()
				cfgA, cfgB := tt.cfg, tt.cfg
				cfgA.Transport.Tracer, cfgB.Transport.Tracer = wa, wb
				a, _, out, in, _, _ := established(t, n, cfgA, cfgB)

				res, err := a.Options(t.Context(), "sip:192.0.2.2:5060", ua.RequestOptions{})
				require.NoError(t, err)
				require.Equal(t, tt.allow, res.Header("Allow"), "OPTIONS")
				supported := "100rel, replaces, timer"
				if tt.cfg.OnRefer != nil {
					supported += ", norefersub"
				}
				require.Equal(t, supported, res.Header("Supported"), "OPTIONS")

				invites := wb.requests(sip.INVITE)
				require.Len(t, invites, 1)
				require.Equal(t, tt.allow, invites[0].Header("Allow"), "INVITE")
				require.True(t, hasHeader(invites[0], "Supported"), "INVITE has Supported")
				oks := okResponses(wa, sip.INVITE)
				require.NotEmpty(t, oks)
				require.Equal(t, tt.allow, oks[0].Header("Allow"), "200 to INVITE")
				require.True(t, hasHeader(oks[0], "Supported"), "200 to INVITE has Supported")

				require.NoError(t, out.Hold(t.Context()))
				synctest.Wait()
				invites = wb.requests(sip.INVITE)
				require.Len(t, invites, 2)
				require.Equal(t, tt.allow, invites[1].Header("Allow"), "re-INVITE")
				require.True(t, hasHeader(invites[1], "Supported"), "re-INVITE has Supported")
				oks = okResponses(wa, sip.INVITE)
				last := oks[len(oks)-1]
				require.Equal(t, tt.allow, last.Header("Allow"), "200 to re-INVITE")
				require.True(t, hasHeader(last, "Supported"), "200 to re-INVITE has Supported")
				require.NoError(t, in.Hangup(t.Context()))
			})
		})
	}
}

// okResponses returns the 2xx responses to method m a wire saw.
func okResponses(w *wire, m sip.Method) []*sip.Response {
	var out []*sip.Response
	for _, r := range w.responses(m) {
		if r.IsSuccess() {
			out = append(out, r)
		}
	}
	return out
}

func hasHeader(m sip.Message, name string) bool {
	for _, h := range m.Headers() {
		if sip.CanonicalName(h.Name) == name {
			return true
		}
	}
	return false
}

// A method the UA knows but the configuration does not accept gets 405
// with Allow, one it does not implement 501 with Allow; Require with an
// option tag not supported gets 420 listing it in Unsupported (RFC 3261
// §8.2.2.3).
func TestRefusalsTellAllowAndUnsupported(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ua.Config
		method  sip.Method
		require string
		want    int
		header  string
		value   string
	}{
		{"MESSAGE without handler", ua.Config{}, sip.MESSAGE, "", 405, "Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, PRACK"},
		{"MESSAGE with handler", ua.Config{OnMessage: noMessage}, sip.MESSAGE, "", 200, "", ""},
		{"PUBLISH not implemented", ua.Config{}, "PUBLISH", "", 501, "Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, PRACK"},
		{"UPDATE outside dialog not allowed", ua.Config{}, sip.UPDATE, "", 501, "Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, PRACK"},
		{"OPTIONS requiring two tags", ua.Config{}, sip.OPTIONS, "foo, 100rel, bar", 420, "Unsupported", "foo, bar"},
		{"INVITE requiring 100rel with reliable provisionals off", ua.Config{Reliable: ua.ReliableOff}, sip.INVITE, "100rel", 420, "Unsupported", "100rel"},
		{"INVITE requiring timer without session timers", ua.Config{SessionExpires: -1}, sip.INVITE, "timer", 420, "Unsupported", "timer"},
		{"OPTIONS requiring nothing", ua.Config{}, sip.OPTIONS, "", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New(memnet.Config{})
				defer n.Close()
				called := false
				cfg := tt.cfg
				cfg.OnCall = func(context.Context, *ua.IncomingCall) { called = true }
				newUA(t, n, "192.0.2.2:5060", cfg)
				peer := newRawPeer(t, n, "192.0.2.7:5060", nil, nil)
				req := rawRequest(tt.method, "sip:bob@192.0.2.2:5060")
				if tt.method == sip.MESSAGE {
					req.SetBody([]byte("hi"), "text/plain")
				}
				if tt.require != "" {
					req.Set("Require", tt.require)
				}
				res := rawSend(t, peer, req)
				require.Equal(t, tt.want, res.StatusCode)
				if tt.header != "" {
					require.Equal(t, tt.value, res.Header(tt.header))
				}
				require.False(t, called, "the host never sees a refused INVITE")
			})
		})
	}
}
