//go:build interop

package interop

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// TestKamailioWSSCallsUDP: alice registers over secure WebSocket (a
// client: her Contact is her WSS connection's address) at Kamailio's
// websocket module on its TLS listener, with the test's own CA; bob
// registers over UDP. Bob calls alice and alice calls bob through
// Kamailio, which keeps alice's connection (received, Contact alias) and
// record-routes between WSS and UDP; each side hears the other's tone, and
// the callee hangs up the first call, the caller the second.
func TestKamailioWSSCallsUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	pki := newTestPKI(t)
	k := startKamailio(t, ctx, kamailioOptions{tlsCfg: pki.tlsCfg, ws: true})
	alice := newReachUA(t, k, reachOptions{user: "alice", network: transport.WSS, media: true,
		clientTLS: &tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12}})
	bob := newReachUA(t, k, reachOptions{user: "bob", network: transport.UDP, media: true})
	for _, p := range []*peerUA{alice, bob} {
		require.NoError(t, p.line().Register(ctx), "%s registers", p.name)
		t.Logf("%s registered %s", p.name, p.line().Contact().URI.String())
	}
	require.Equal(t, "wss", alice.line().Contact().URI.Params.Value("transport"))

	for _, dir := range []struct {
		name           string
		caller, callee *peerUA
		callerHangs    bool
	}{
		{"bob (udp) calls alice (wss), alice hangs up", bob, alice, false},
		{"alice (wss) calls bob (udp), alice hangs up", alice, bob, true},
	} {
		t.Run(dir.name, func(t *testing.T) {
			c, err := dir.caller.ua.Dial(ctx, k.uri(dir.callee.name), ua.DialOptions{})
			require.NoError(t, err, "Dial")
			in := dir.callee.nextCall(t, ctx)
			require.Equal(t, c.CallID(), in.CallID())
			dir.callee.waitEvent(t, ctx, ua.EventCallConfirmed, in.CallID())
			require.NotNil(t, c.Media())
			require.NotNil(t, in.Media())

			callerHeard, calleeHeard := exchangeTones(t, ctx, c.Media(), in.Media())
			t.Logf("%s heard %d Hz at %.4f; %s heard %d Hz at %.4f", dir.caller.name, mediaPeerTone, callerHeard,
				dir.callee.name, mediaOurTone, calleeHeard)
			require.Greater(t, callerHeard, mediaMinLevel, "the callee's tone at the caller")
			require.Greater(t, calleeHeard, mediaMinLevel, "the caller's tone at the callee")

			hanger, other := c, in
			if !dir.callerHangs {
				hanger, other = in, c
			}
			require.NoError(t, hanger.Hangup(ctx))
			require.ErrorIs(t, waitDone(t, ctx, other, "other side"), ua.ErrRemoteHangup)
		})
	}
}

// exchangeTones has a play mediaOurTone and b mediaPeerTone for two
// seconds, each recording the other, and returns the level at which a
// heard b's tone and b heard a's.
func exchangeTones(t *testing.T, ctx context.Context, a, b *rtp.Session) (aHeard, bHeard float64) {
	t.Helper()
	const frames = 100 // 2 s of 20 ms
	play := func(s *rtp.Session, hz float64) chan error {
		g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- s.Play(ctx, &limited{src: g, n: frames}) }()
		return done
	}
	record := func(s *rtp.Session) chan []int16 {
		out := make(chan []int16, 1)
		go func() {
			var got []int16
			for range frames + 10 {
				var err error
				if got, err = s.ReadFrame(ctx, got); err != nil {
					break
				}
			}
			out <- got
		}()
		return out
	}
	pa, pb := play(a, mediaOurTone), play(b, mediaPeerTone)
	ra, rb := record(a), record(b)
	gotA, gotB := <-ra, <-rb
	require.NoError(t, <-pa)
	require.NoError(t, <-pb)
	return peak(gotA, mediaPeerTone), peak(gotB, mediaOurTone)
}
