package rtp_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/rtp/wav"
)

// sdesKeys returns the two directions' keys of an SDES exchange.
func sdesKeys(t *testing.T, s srtp.Suite) (ab, ba srtp.ContextConfig) {
	t.Helper()
	ka, err := srtp.NewCrypto(1, s)
	require.NoError(t, err)
	kb, err := srtp.NewCrypto(1, s)
	require.NoError(t, err)
	return srtp.ContextConfig{Local: ka.Keys, Remote: kb.Keys}, srtp.ContextConfig{Local: kb.Keys, Remote: ka.Keys}
}

// playTone plays a 1 kHz tone on a until the returned stop is called.
func playTone(t *testing.T, ctx context.Context, a *rtp.Session) (stop func()) {
	t.Helper()
	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	playCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Play(playCtx, tone) }()
	return func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	}
}

// heardTone reads up to n frames from b and counts those with the 1 kHz
// tone, stopping at want.
func heardTone(t *testing.T, ctx context.Context, b *rtp.Session, n, want int) int {
	t.Helper()
	frames := 0
	buf := make([]int16, 0, audio.FrameSamples)
	for i := 0; i < n && frames < want; i++ {
		f, err := b.ReadFrame(ctx, buf[:0])
		require.NoError(t, err)
		if wav.ToneLevel(f, 1000, audio.SampleRate) > 0.03 {
			frames++
		}
	}
	return frames
}

// An SRTP call: the tone crosses, the wire carries SRTP (an authentication
// tag, a payload that does not decode to the tone) and SRTCP, and replayed
// and tampered packets sent to the session are refused and counted.
func TestSessionSRTP(t *testing.T) {
	for _, suite := range []srtp.Suite{srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32, srtp.AEAD_AES_128_GCM} {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			wire := &packetLog{}
			a := newTestSession(t, rtp.SessionConfig{Ports: ports, Tracer: wire, RTCPInterval: 100e6})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPInterval: 100e6})
			connect(t, a, b, false)
			ab, ba := sdesKeys(t, suite)
			require.NoError(t, a.SetSRTP(&ab))
			require.NoError(t, b.SetSRTP(&ba))
			require.True(t, a.SRTPEnabled())
			require.Equal(t, suite, a.SRTPSuite())

			stop := playTone(t, ctx, a)
			require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 25), 25, "frames with the tone through SRTP")
			waitFor(ctx, t, b, "SRTCP from a", func() bool { return b.Stats().SRTP.RTCP.Unprotected > 0 })
			stop()

			var sent [][]byte
			for _, p := range wire.snapshot() {
				if !p.Sent || p.RTCP {
					continue
				}
				sent = append(sent, p.Data)
				var h pionrtp.Header
				n, err := h.Unmarshal(p.Data)
				require.NoError(t, err)
				tag := len(p.Data) - n - audio.FrameSamples
				require.Contains(t, []int{4, 10, 16}, tag, "authentication tag of SRTP")
				plain := g711.DecodeULaw(nil, p.Data[n:n+audio.FrameSamples])
				// Below the level at which heardTone hears the tone.
				require.Less(t, wav.ToneLevel(plain, 1000, audio.SampleRate), 0.03, "an SRTP payload decodes to the tone")
			}
			require.NotEmpty(t, sent)
			st := b.Stats().SRTP
			require.Positive(t, st.RTP.Unprotected)
			require.Zero(t, st.RTP.AuthFailed+st.RTP.Replayed+st.RTP.Malformed)
			require.Positive(t, a.Stats().SRTP.RTCP.Protected)

			// Replay two packets b already had and tamper with a third.
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, b.LocalAddr().Port())))
			require.NoError(t, err)
			defer conn.Close()
			for _, p := range sent[len(sent)-2:] {
				_, err = conn.Write(p)
				require.NoError(t, err)
			}
			bad := bytes.Clone(sent[len(sent)-1])
			bad[1] = bad[1]&0x80 | audio.PayloadTypePCMU
			// A sequence number a will not reach in this test (it may still
			// send its queued frames): not a replay.
			seq := uint16(bad[2])<<8 | uint16(bad[3]) + 1000
			bad[2], bad[3] = byte(seq>>8), byte(seq)
			bad[20] ^= 0x40
			_, err = conn.Write(bad)
			require.NoError(t, err)
			wctx, cancel := context.WithTimeout(ctx, 3e9)
			defer cancel()
			waitFor(wctx, t, b, "replays and forgery counted", func() bool {
				st := b.Stats().SRTP.RTP
				return st.Replayed >= 2 && st.AuthFailed >= 1
			})
		})
	}
}

// A session keyed differently from its peer hears nothing and counts every
// packet as failing authentication; SetSRTP with the right keys fixes it,
// and SetSRTP(nil) goes back to plain RTP.
func TestSessionSRTPKeys(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)
	ab, ba := sdesKeys(t, srtp.AES_CM_128_HMAC_SHA1_80)
	_, wrong := sdesKeys(t, srtp.AES_CM_128_HMAC_SHA1_80)
	require.NoError(t, a.SetSRTP(&ab))
	require.NoError(t, b.SetSRTP(&wrong))

	stop := playTone(t, ctx, a)
	waitFor(ctx, t, b, "packets failing authentication", func() bool { return b.Stats().SRTP.RTP.AuthFailed >= 10 })
	require.Zero(t, b.Stats().SRTP.RTP.Unprotected)

	require.NoError(t, b.SetSRTP(&ba)) // the right keys: a new context
	require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 10), 10)
	require.GreaterOrEqual(t, b.Stats().SRTP.RTP.AuthFailed, uint64(10), "counters of the replaced context are kept")
	before := b.Stats().SRTP.RTP.Unprotected
	require.NoError(t, b.SetSRTP(&ba)) // the same keys again: kept
	waitFor(ctx, t, b, "more packets", func() bool { return b.Stats().SRTP.RTP.Unprotected > before+5 })

	require.NoError(t, a.SetSRTP(nil))
	require.NoError(t, b.SetSRTP(nil))
	require.False(t, b.SRTPEnabled())
	require.Zero(t, b.SRTPSuite())
	require.GreaterOrEqual(t, heardTone(t, ctx, b, 150, 10), 10, "plain RTP again")
	stop()

	bad := ab
	bad.Local.Key = bad.Local.Key[:3]
	require.ErrorIs(t, a.SetSRTP(&bad), srtp.ErrContextConfig)
	require.NoError(t, a.Close())
	require.ErrorIs(t, a.SetSRTP(&ab), rtp.ErrSessionClosed)
}
