//go:build opus && cgo

package rtp_test

import (
	"cmp"
	"context"
	"testing"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/wav"
)

// A 3 kHz tone one way and a 700 Hz one the other cross an Opus call:
// the host reads and writes 48 kHz frames of 960 samples,
// the wire carries opus/48000/2 with a 48 kHz RTP clock.
func TestSessionOpusTone(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	codecs := []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}
	pa, pb := negotiateCodecs(t, a, b, codecs, codecs)
	require.Equal(t, "opus", pa.Codec.Name)
	require.Equal(t, "opus", pb.Codec.Name)
	require.Equal(t, "useinbandfec=1", pa.RemoteFmtp)
	require.Equal(t, "useinbandfec=1", pb.RemoteFmtp)
	for _, s := range []*rtp.Session{a, b} {
		require.Equal(t, opus.SampleRate, s.SampleRate())
		require.Equal(t, opus.FrameSamples, s.FrameSamples())
	}
	const freqA, freqB = 3000, 700
	for _, dir := range []struct {
		from, to    *rtp.Session
		freq, other float64
	}{{a, b, freqA, freqB}, {b, a, freqB, freqA}} {
		tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: dir.freq, SampleRate: opus.SampleRate, FrameSamples: opus.FrameSamples})
		require.NoError(t, err)
		playCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- dir.from.Play(playCtx, tone) }()
		var toneFrames int
		buf := make([]int16, 0, opus.FrameSamples)
		for i := 0; i < 150 && toneFrames < 25; i++ {
			f, err := dir.to.ReadFrame(ctx, buf[:0])
			require.NoError(t, err)
			require.Len(t, f, opus.FrameSamples)
			if wav.ToneLevel(f, dir.freq, opus.SampleRate) > 0.03 {
				require.Less(t, wav.ToneLevel(f, dir.other, opus.SampleRate), 0.003, "only the tone")
				toneFrames++
			}
		}
		stop()
		require.ErrorIs(t, <-done, context.Canceled)
		require.GreaterOrEqual(t, toneFrames, 25, "frames with the %v Hz tone", dir.freq)
	}
	sa, sb := a.Stats(), b.Stats()
	require.Positive(t, sa.PacketsSent)
	require.Positive(t, sb.PacketsSent)
	for _, st := range []rtp.SessionStats{sa, sb} {
		require.Zero(t, st.UnknownPayload)
		require.Zero(t, st.Undecodable)
		require.Zero(t, st.Playout.Late, "timestamps at the 48 kHz clock play out in order")
	}
}

// Opus between hosts that fix their rate (HostSampleRate 8000 or 16000)
// and hosts at Opus' own 48 kHz: each host writes and reads frames of 20 ms
// at its own rate (160, 320 or 960 samples), each hears the other's tone at
// its frequency and level and not its own, and the wire carries
// opus/48000/2 whose timestamps advance 960 every 20 ms (RFC 7587 §4.1),
// both ways.
func TestSessionOpusHostRate(t *testing.T) {
	tests := []struct {
		name         string
		rateA, rateB int // HostSampleRate; 0 is Opus' 48 kHz
	}{
		{"16 kHz with 48 kHz", 16000, 0},
		{"8 kHz with 48 kHz", 8000, 0},
		{"16 kHz with 8 kHz", 16000, 8000},
		{"16 kHz both", 16000, 16000},
	}
	const freqA, freqB = 1000, 700 // below 4 kHz: 8 kHz audio carries both
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			var logA, logB packetLog
			a := newTestSession(t, rtp.SessionConfig{Ports: ports, HostSampleRate: tt.rateA, Tracer: &logA})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports, HostSampleRate: tt.rateB, Tracer: &logB})
			codecs := []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}
			pa, pb := negotiateCodecs(t, a, b, codecs, codecs)
			require.Equal(t, "opus", pa.Codec.Name)
			require.Equal(t, "opus", pb.Codec.Name)
			rateA, rateB := cmp.Or(tt.rateA, opus.SampleRate), cmp.Or(tt.rateB, opus.SampleRate)
			require.Equal(t, rateA, a.SampleRate())
			require.Equal(t, rateA/50, a.FrameSamples())
			require.Equal(t, rateB, b.SampleRate())
			require.Equal(t, rateB/50, b.FrameSamples())

			ta, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: freqA, SampleRate: rateA, FrameSamples: rateA / 50})
			require.NoError(t, err)
			tb, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: freqB, SampleRate: rateB, FrameSamples: rateB / 50})
			require.NoError(t, err)
			playCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 2)
			go func() { done <- a.Play(playCtx, ta) }()
			go func() { done <- b.Play(playCtx, tb) }()
			heardA := toneHeard{freq: freqB, own: freqA, rate: rateA}
			heardB := toneHeard{freq: freqA, own: freqB, rate: rateB}
			bufA, bufB := make([]int16, 0, rateA/50), make([]int16, 0, rateB/50)
			for i := 0; i < 200 && (i < 60 || heardA.frames < 25 || heardB.frames < 25); i++ { // 60: packets for requireOpusClock
				fa, err := a.ReadFrame(ctx, bufA[:0])
				require.NoError(t, err)
				require.Len(t, fa, rateA/50)
				heardA.add(t, fa)
				fb, err := b.ReadFrame(ctx, bufB[:0])
				require.NoError(t, err)
				require.Len(t, fb, rateB/50)
				heardB.add(t, fb)
			}
			stop()
			require.ErrorIs(t, <-done, context.Canceled)
			require.ErrorIs(t, <-done, context.Canceled)
			heardA.check(t, "A")
			heardB.check(t, "B")

			for _, l := range []*packetLog{&logA, &logB} {
				for _, sent := range []bool{true, false} {
					requireOpusClock(t, l, sent)
				}
			}
			for _, st := range []rtp.SessionStats{a.Stats(), b.Stats()} {
				require.Zero(t, st.UnknownPayload)
				require.Zero(t, st.Undecodable)
				require.Zero(t, st.Playout.Late)
			}
		})
	}
}

// toneHeard counts the frames a host read that carry the peer's tone at
// freq at the tone generator's level within 3 dB (none may be louder),
// and checks that they carry neither the host's own tone nor anything at
// a third or three times the frequency (a frame taken at the wrong rate).
type toneHeard struct {
	freq, own float64
	rate      int
	frames    int
}

func (h *toneHeard) add(t *testing.T, f []int16) {
	t.Helper()
	level := wav.ToneLevel(f, h.freq, h.rate)
	require.Less(t, level, 2*toneLevel, "the %.0f Hz tone's level at %d Hz", h.freq, h.rate)
	if level < toneLevel/2 {
		return // silence, or the tone's onset
	}
	h.frames++
	for _, other := range []float64{h.own, h.freq * 3, h.freq / 3} {
		require.Less(t, wav.ToneLevel(f, other, h.rate), toneLevel/20, "%.0f Hz in frames of the %.0f Hz tone at %d Hz", other, h.freq, h.rate)
	}
}

func (h *toneHeard) check(t *testing.T, who string) {
	t.Helper()
	require.GreaterOrEqual(t, h.frames, 25, "%s's frames of the %.0f Hz tone at %d Hz", who, h.freq, h.rate)
}

// toneLevel is wav.ToneLevel of the default tone (amplitude 1/4).
const toneLevel = wav.ToneDefaultAmplitude * wav.ToneDefaultAmplitude

// requireOpusClock checks the Opus packets l saw sent (or received): at
// least 50, their timestamps on the 48 kHz clock, 960 units (20 ms) a
// frame: each packet's a whole number of frames after the one before it,
// one frame when nothing came between (a sender whose clock skipped a tick
// moves its timestamp on without a packet), which is most of them.
func requireOpusClock(t *testing.T, l *packetLog, sent bool) {
	t.Helper()
	var prev pionrtp.Header
	n, oneFrame := 0, 0
	for _, p := range l.snapshot() {
		if p.Sent != sent || p.RTCP {
			continue
		}
		var h pionrtp.Header
		_, err := h.Unmarshal(p.Data)
		require.NoError(t, err)
		require.Equal(t, uint8(audio.PayloadTypeOpus), h.PayloadType)
		if n > 0 {
			gap, d := h.SequenceNumber-prev.SequenceNumber, h.Timestamp-prev.Timestamp
			require.Equal(t, uint16(1), gap, "packets in order")
			require.Zero(t, d%960, "timestamps %d then %d (sent %v): no whole 20 ms at 48 kHz", prev.Timestamp, h.Timestamp, sent)
			require.Positive(t, int32(d), "timestamps %d then %d (sent %v)", prev.Timestamp, h.Timestamp, sent)
			if d == 960 {
				oneFrame++
			}
		}
		prev = h
		n++
	}
	require.GreaterOrEqual(t, n, 50, "Opus packets (sent %v)", sent)
	require.Greater(t, oneFrame, n/2, "packets 960 after the one before (sent %v)", sent)
}
