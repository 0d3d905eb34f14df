//go:build interop

package interop

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/ua"
)

// TestBaresip: baresip registered at Kamailio as carol, auto-answering, and
// one of our UAs registered as dave.
//   - dave calls carol through Kamailio, puts her on hold (a re-INVITE with
//     our SDP sendonly, RFC 3264 §8.4), which baresip accepts with a 2xx
//     answering recvonly, resumes, and hangs up; baresip's call list is
//     empty afterwards.
//   - carol (baresip's ctrl_tcp "dial") calls dave, dave answers, carol
//     hangs up: dave's call ends with ua.ErrRemoteHangup.
//   - carol calls dave again and dave hangs up: baresip's call is gone.
func TestBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	carol := startBaresip(t, ctx, k, "carol")
	dave := newPeerUA(t, k, uaOptions{user: "dave"})
	dave.waitEvent(t, ctx, ua.EventRegistered, "")
	k.waitBinding(t, ctx, "dave", true)
	noCalls := func(list string) bool { return !strings.Contains(list, "sip:") }

	t.Run("we call baresip, hold, resume, hang up", func(t *testing.T) {
		c, err := dave.ua.Dial(ctx, k.uri("carol"), ua.DialOptions{SDP: testSDP(9)})
		require.NoError(t, err, "Dial baresip")
		require.Equal(t, ua.MediaSendRecv, ua.SDPDirection(c.RemoteSDP()), "baresip's answer:\n%s", c.RemoteSDP())
		list := carol.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
		t.Logf("baresip listcalls: %q", list)

		require.NoError(t, c.Hold(ctx), "re-INVITE (hold) refused by baresip")
		require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(c.LocalSDP()))
		dir := ua.SDPDirection(c.RemoteSDP())
		t.Logf("baresip answered the hold re-INVITE with a=%s", dir)
		require.Contains(t, []ua.MediaDirection{ua.MediaRecvOnly, ua.MediaInactive}, dir, "baresip's answer to hold:\n%s", c.RemoteSDP())
		reinvites := filterCallID(dave.wire.sent("INVITE "), c.CallID())
		require.Len(t, reinvites, 3, "INVITE, INVITE with proxy credentials, re-INVITE")
		oks := 0
		for _, r := range filterCallID(dave.wire.received("SIP/2.0 200"), c.CallID()) {
			if strings.HasSuffix(headerValue(r, "CSeq"), "INVITE") && !strings.HasPrefix(headerValue(r, "CSeq"), "1 ") &&
				!strings.HasPrefix(headerValue(r, "CSeq"), "2 ") {
				oks++
			}
		}
		require.Positive(t, oks, "no 2xx to the re-INVITE")

		require.NoError(t, c.Resume(ctx), "re-INVITE (resume)")
		require.Equal(t, ua.MediaSendRecv, ua.SDPDirection(c.RemoteSDP()))

		require.NoError(t, c.Hangup(ctx), "Hangup")
		require.ErrorIs(t, c.Err(), ua.ErrLocalHangup)
		carol.waitCalls(t, ctx, "no call", noCalls)
	})

	t.Run("baresip calls us and hangs up", func(t *testing.T) {
		_, err := carol.ctl(ctx, "dial", k.uri("dave"))
		require.NoError(t, err)
		in := dave.nextCall(t, ctx)
		dave.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
		require.Equal(t, "carol", in.Remote().URI.User)
		carol.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
		_, err = carol.ctl(ctx, "hangup", "")
		require.NoError(t, err)
		require.ErrorIs(t, waitDone(t, ctx, in, "dave"), ua.ErrRemoteHangup)
		carol.waitCalls(t, ctx, "no call", noCalls)
	})

	t.Run("baresip calls us, we hang up", func(t *testing.T) {
		_, err := carol.ctl(ctx, "dial", k.uri("dave"))
		require.NoError(t, err)
		in := dave.nextCall(t, ctx)
		dave.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
		carol.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
		require.NoError(t, in.Hangup(ctx))
		require.ErrorIs(t, in.Err(), ua.ErrLocalHangup)
		carol.waitCalls(t, ctx, "no call", noCalls)
		require.NotEmpty(t, k.logLines("REQ BYE", in.CallID()), "the BYE did not cross Kamailio")
	})
	require.Zero(t, dave.ua.Calls(), "calls left")
}
