package rtp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/wav"
)

// negotiateCodecs is negotiate with codec preferences for each side.
func negotiateCodecs(t testing.TB, a, b *rtp.Session, ca, cb []audio.Codec) (pa, pb sdp.MediaParams) {
	t.Helper()
	na, err := sdp.NewNegotiator(sdp.Config{Addr: loopback, Port: a.LocalAddr().Port(), Codecs: ca})
	require.NoError(t, err)
	nb, err := sdp.NewNegotiator(sdp.Config{Addr: loopback, Port: b.LocalAddr().Port(), Codecs: cb})
	require.NoError(t, err)
	offer, err := na.CreateOffer()
	require.NoError(t, err)
	answer, pb, err := nb.Answer(offer)
	require.NoError(t, err)
	pa, err = na.ApplyAnswer(answer)
	require.NoError(t, err)
	require.NoError(t, a.SetRemote(pa))
	require.NoError(t, b.SetRemote(pb))
	return pa, pb
}

// A 6 kHz tone, which 8 kHz audio cannot carry, crosses a G.722 call: the
// host reads and writes 16 kHz frames of 320 samples, the wire carries
// payload type 9 with 160 octets per 20 ms.
func TestSessionG722Tone(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	wide := []audio.Codec{audio.G722(), audio.PCMU(), audio.TelephoneEvent()}
	pa, pb := negotiateCodecs(t, a, b, wide, wide)
	require.Equal(t, "G722", pa.Codec.Name)
	require.Equal(t, "G722", pb.Codec.Name)
	for _, s := range []*rtp.Session{a, b} {
		require.Equal(t, g722.SampleRate, s.SampleRate())
		require.Equal(t, g722.FrameSamples, s.FrameSamples())
	}

	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 6000, SampleRate: g722.SampleRate, FrameSamples: g722.FrameSamples})
	require.NoError(t, err)
	playCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Play(playCtx, tone) }()

	var toneFrames int
	buf := make([]int16, 0, g722.FrameSamples)
	for i := 0; i < 150 && toneFrames < 25; i++ {
		f, err := b.ReadFrame(ctx, buf[:0])
		require.NoError(t, err)
		require.Len(t, f, g722.FrameSamples)
		if wav.ToneLevel(f, 6000, g722.SampleRate) > 0.03 {
			require.Less(t, wav.ToneLevel(f, 2000, g722.SampleRate), 0.003, "only the tone")
			toneFrames++
		}
	}
	stop()
	require.ErrorIs(t, <-done, context.Canceled)
	require.GreaterOrEqual(t, toneFrames, 25, "frames with the 6 kHz tone")

	sa, sb := a.Stats(), b.Stats()
	require.Positive(t, sa.PacketsSent)
	require.Equal(t, sa.PacketsSent*g722.FrameBytes, sa.OctetsSent, "160 octets per 20 ms packet")
	require.Zero(t, sb.UnknownPayload)
	require.Zero(t, sb.Undecodable)
	require.Zero(t, sb.Playout.Late, "timestamps at the 8 kHz clock play out in order")
}

// A re-INVITE that moves a call from G.722 to PCMU moves its audio from 16
// to 8 kHz, and back.
func TestSessionG722Renegotiate(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	negotiateCodecs(t, a, b, []audio.Codec{audio.G722(), audio.PCMU()}, nil)
	require.Equal(t, 8000, a.SampleRate(), "the default answerer has no G.722")
	require.Equal(t, audio.FrameSamples, a.FrameSamples())

	negotiateCodecs(t, a, b, []audio.Codec{audio.G722()}, []audio.Codec{audio.PCMA(), audio.G722()})
	require.Equal(t, 16000, a.SampleRate())
	require.Equal(t, 16000, b.SampleRate())
	require.NoError(t, a.WriteFrame(ctx, make([]int16, g722.FrameSamples)))
	require.ErrorIs(t, a.WriteFrame(ctx, make([]int16, g722.FrameSamples+1)), rtp.ErrFrameSize)
	f, err := b.ReadFrame(ctx, nil)
	require.NoError(t, err)
	require.Len(t, f, g722.FrameSamples)

	negotiateCodecs(t, a, b, []audio.Codec{audio.PCMA()}, nil)
	require.Equal(t, 8000, a.SampleRate())
	require.Equal(t, audio.FrameSamples, a.FrameSamples())
	require.ErrorIs(t, a.WriteFrame(ctx, make([]int16, g722.FrameSamples)), rtp.ErrFrameSize)
}

// G.722 at a 60 ms ptime: 960 samples a frame, beyond the default
// narrowband frame buffers, which grow.
func TestSessionG722LongPtime(t *testing.T) {
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	err := a.SetRemote(sdp.MediaParams{Codec: audio.G722(), RemotePtime: 60, Direction: sdp.SendRecv})
	require.NoError(t, err)
	require.Equal(t, 3*g722.FrameSamples, a.FrameSamples())
}

// RFC 4733 digits in a G.722 call: events at the 8 kHz RTP clock beside
// 16 kHz audio arrive once each, and the audio around them plays on
// without loss (silence keeps the stream continuous by default).
func TestSessionG722DTMF(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	wide := []audio.Codec{audio.G722(), audio.TelephoneEvent()}
	negotiateCodecs(t, a, b, wide, wide)
	require.Equal(t, g722.SampleRate, b.SampleRate())

	const digits = "1#9"
	require.NoError(t, a.SendDTMF(ctx, digits))
	var got []rune
	buf := make([]int16, 0, g722.FrameSamples)
	for len(got) < len(digits) {
		select {
		case d := <-b.DTMF():
			require.False(t, d.EndLost, "digit %c ended without its end packets", d.Digit)
			got = append(got, d.Digit)
		case <-ctx.Done():
			t.Fatalf("got %q before the deadline", string(got))
		default:
			f, err := b.ReadFrame(ctx, buf[:0]) // paces the loop
			require.NoError(t, err)
			require.Len(t, f, g722.FrameSamples)
		}
	}
	require.Equal(t, digits, string(got))
	st := b.Stats()
	require.Zero(t, st.PacketsLost)
	require.Zero(t, st.Playout.Lost, "events are not lost audio")
	require.Zero(t, st.UnknownPayload)
}

// A host that asks for 8 kHz frames (HostSampleRate) on a G.722 call gets
// them, converted both ways: its 1 kHz tone reaches the wideband peer, and
// the peer's 3 kHz tone reaches it.
func TestSessionG722HostRate(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports, HostSampleRate: 8000})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	wide := []audio.Codec{audio.G722()}
	pa, _ := negotiateCodecs(t, a, b, wide, wide)
	require.Equal(t, "G722", pa.Codec.Name)
	require.Equal(t, 8000, a.SampleRate(), "the host's fixed rate")
	require.Equal(t, audio.FrameSamples, a.FrameSamples())
	require.Equal(t, 16000, b.SampleRate())

	ta, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	tb, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 3000, SampleRate: 16000, FrameSamples: g722.FrameSamples})
	require.NoError(t, err)
	playCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- a.Play(playCtx, ta) }()
	go func() { done <- b.Play(playCtx, tb) }()
	heardA, heardB := 0, 0
	bufA := make([]int16, 0, audio.FrameSamples)
	bufB := make([]int16, 0, g722.FrameSamples)
	for i := 0; i < 200 && (heardA < 20 || heardB < 20); i++ {
		fa, err := a.ReadFrame(ctx, bufA[:0])
		require.NoError(t, err)
		require.Len(t, fa, audio.FrameSamples)
		if wav.ToneLevel(fa, 3000, 8000) > 0.03 {
			heardA++
		}
		fb, err := b.ReadFrame(ctx, bufB[:0])
		require.NoError(t, err)
		if wav.ToneLevel(fb, 1000, 16000) > 0.03 {
			require.Less(t, wav.ToneLevel(fb, 7000, 16000), 0.003, "no image of the upsampling")
			heardB++
		}
	}
	stop()
	require.ErrorIs(t, <-done, context.Canceled)
	require.ErrorIs(t, <-done, context.Canceled)
	require.GreaterOrEqual(t, heardA, 20, "the 8 kHz host hears the wideband peer's 3 kHz tone")
	require.GreaterOrEqual(t, heardB, 20, "the wideband peer hears the 8 kHz host's 1 kHz tone")
	_, err = rtp.NewSession(ctx, rtp.SessionConfig{Ports: ports, HostSampleRate: 44100})
	require.ErrorIs(t, err, rtp.ErrSessionConfig)
}
