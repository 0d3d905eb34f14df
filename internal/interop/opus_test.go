//go:build interop && opus

package interop

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/opus"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// Tones of the Opus tests.
const (
	opusPeerTone = 2500
	opusOurTone  = 1200
)

// startOpusBaresip is startMediaBaresip with the opus module only, 48 kHz
// audio, playing a tone of hz.
func startOpusBaresip(t *testing.T, ctx context.Context, name string, hz int) *mediaBaresip {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtop", toneHz: hz, toneLen: 60 * time.Second,
		rate: opus.SampleRate, maxCalls: 2, codecs: []string{"opus"}, record: true, jitterDelay: "5-10",
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=opus/48000/2;medianat=;mediaenc=;regint=0", name)})
	return &mediaBaresip{baresip: b, rec: rec}
}

// opusMedia is our media preferring Opus, the host's frames at hostRate
// (MediaConfig.HostSampleRate; 0: Opus' 48 kHz).
func opusMedia(hostRate int) ua.MediaConfig {
	return ua.MediaConfig{Codecs: []audio.Codec{audio.Opus(), audio.PCMU(), audio.TelephoneEvent()}, HostSampleRate: hostRate}
}

// opusHostRates are the rows of the Opus tests: our host at Opus' 48 kHz,
// and at a rate it fixed, which libopus codes at itself.
var opusHostRates = []struct {
	name string
	rate int // MediaConfig.HostSampleRate
}{{"48kHz", 0}, {"host16kHz", 16000}, {"host8kHz", 8000}}

// talkOpus plays our tone at the host's rate (rate; 48 kHz unless it
// fixed another) on s for mediaSeconds and returns what it heard
// meanwhile.
func talkOpus(t *testing.T, ctx context.Context, s *rtp.Session, rate int) []int16 {
	t.Helper()
	require.Equal(t, rate, s.SampleRate(), "the host gets its audio at %d Hz on an Opus call", rate)
	require.Equal(t, rate/50, s.FrameSamples())
	heard := playTone(t, ctx, s, wav.ToneConfig{Frequency: opusOurTone, SampleRate: rate, FrameSamples: rate / 50}, mediaSeconds*1000/20)
	st := s.Stats()
	t.Logf("our session: sent %d packets (%d octets), received %d, lost %d, undecodable %d, FEC %d", st.PacketsSent, st.OctetsSent, st.PacketsReceived, st.PacketsLost, st.Undecodable, st.OpusFECRecovered)
	require.Positive(t, st.PacketsReceived)
	require.Zero(t, st.Undecodable)
	return heard
}

// TestOpusToBaresip: our UA, preferring Opus, calls baresip (opus only,
// 48 kHz). The call has opus/48000/2, our host reads and writes frames at
// 48 kHz, or at the 16 or 8 kHz it fixed, and each side hears the other's
// tone.
func TestOpusToBaresip(t *testing.T) {
	t.Parallel()
	for _, row := range opusHostRates {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			b := startOpusBaresip(t, ctx, fmt.Sprintf("opusb%d", row.rate/1000), opusPeerTone)
			u := mediaUA(t, opusMedia(row.rate), nil)
			c, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
			require.NoError(t, err, "Dial baresip")
			p, ok := c.MediaParams()
			require.True(t, ok)
			t.Logf("negotiated %s/%d fmtp %q; baresip's answer:\n%s", p.Codec.Name, p.Codec.PayloadType, p.RemoteFmtp, c.RemoteSDP())
			require.Equal(t, "opus", p.Codec.Name)
			require.Contains(t, string(c.RemoteSDP()), "opus/48000/2")

			rate := cmp.Or(row.rate, opus.SampleRate)
			heard := talkOpus(t, ctx, c.Media(), rate)
			require.NoError(t, c.Hangup(ctx))
			checkTones(t, "we", heard, rate, opusPeerTone, opusOurTone)
			checkTones(t, "baresip", waitDump(t, ctx, b.rec, opus.SampleRate), opus.SampleRate, opusOurTone, opusPeerTone)
		})
	}
}

// TestOpusFromBaresip: baresip (opus only) calls our UA, which answers
// with Opus; tones both ways as in TestOpusToBaresip, at each host rate.
func TestOpusFromBaresip(t *testing.T) {
	t.Parallel()
	for _, row := range opusHostRates {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
			defer cancel()
			b := startOpusBaresip(t, ctx, fmt.Sprintf("opusc%d", row.rate/1000), opusPeerTone)
			calls := make(chan *ua.Call, 1)
			u := mediaUA(t, opusMedia(row.rate), answerInto(t, calls))
			addr := u.Addrs()
			require.NotEmpty(t, addr)
			c := b.dialUs(t, ctx, "sip:opus@"+addr[0].String(), calls)
			p, ok := c.MediaParams()
			require.True(t, ok)
			require.Equal(t, "opus", p.Codec.Name)
			t.Logf("baresip's fmtp %q", p.RemoteFmtp)
			require.True(t, strings.Contains(string(c.LocalSDP()), "opus/48000/2"), "our answer:\n%s", c.LocalSDP())

			rate := cmp.Or(row.rate, opus.SampleRate)
			heard := talkOpus(t, ctx, c.Media(), rate)
			require.NoError(t, c.Hangup(ctx))
			checkTones(t, "we", heard, rate, opusPeerTone, opusOurTone)
			checkTones(t, "baresip", waitDump(t, ctx, b.rec, opus.SampleRate), opus.SampleRate, opusOurTone, opusPeerTone)
		})
	}
}
