//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// Tones of the G.722 tests: both above 4 kHz, so that only wideband audio
// carries them (8 kHz audio stops at 4 kHz).
const (
	widePeerTone = 5000
	wideOurTone  = 6000
)

// startG722Baresip is startMediaBaresip with the g722 module only, 16 kHz
// audio, playing a tone of hz.
func startG722Baresip(t *testing.T, ctx context.Context, name string, hz int) *mediaBaresip {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtg7", toneHz: hz, toneLen: 60 * time.Second,
		rate: g722.SampleRate, maxCalls: 2, codecs: []string{"g722"}, record: true, jitterDelay: "5-10",
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=G722/16000/1;medianat=;mediaenc=;regint=0", name)})
	return &mediaBaresip{baresip: b, rec: rec}
}

// wideMedia is our media preferring G.722.
func wideMedia() ua.MediaConfig {
	return ua.MediaConfig{Codecs: []audio.Codec{audio.G722(), audio.PCMU(), audio.PCMA(), audio.TelephoneEvent()}}
}

// talkWide plays our 6 kHz tone at 16 kHz on s for mediaSeconds and
// returns what it heard meanwhile.
func talkWide(t *testing.T, ctx context.Context, s *rtp.Session) []int16 {
	t.Helper()
	require.Equal(t, g722.SampleRate, s.SampleRate(), "the host gets 16 kHz audio on a G.722 call")
	require.Equal(t, g722.FrameSamples, s.FrameSamples())
	heard := playTone(t, ctx, s, wav.ToneConfig{Frequency: wideOurTone, SampleRate: g722.SampleRate, FrameSamples: g722.FrameSamples}, mediaSeconds*1000/20)
	st := s.Stats()
	t.Logf("our session: sent %d packets (%d octets), received %d, lost %d, undecodable %d", st.PacketsSent, st.OctetsSent, st.PacketsReceived, st.PacketsLost, st.Undecodable)
	require.Equal(t, st.PacketsSent*g722.FrameBytes, st.OctetsSent, "160 octets of G.722 per 20 ms")
	return heard
}

// readDumpAt reads baresip's recordings of received audio in dir as mono
// 16-bit PCM at rate (wav.Reader would bring 16 or 48 kHz down to 8 kHz,
// which cuts our tones), a stereo one down-mixed; nil while there is none.
func readDumpAt(t *testing.T, dir string, rate int) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	var all []int16
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		fmtAt := bytes.Index(b, []byte("fmt "))
		dataAt := bytes.Index(b, []byte("data"))
		if fmtAt < 0 || dataAt < 0 || len(b) < fmtAt+24 {
			continue
		}
		got := binary.LittleEndian.Uint32(b[fmtAt+12:])
		ch := binary.LittleEndian.Uint16(b[fmtAt+10:])
		require.Equal(t, uint32(rate), got, "%s: sample rate", name)
		require.True(t, ch == 1 || ch == 2, "%s: %d channels", name, ch)
		pcm := b[dataAt+8:]
		step := 2 * int(ch) // a stereo recording (Opus decodes to 2) is down-mixed
		for i := 0; i+step <= len(pcm); i += step {
			v := int32(int16(binary.LittleEndian.Uint16(pcm[i:])))
			if ch == 2 {
				v = (v + int32(int16(binary.LittleEndian.Uint16(pcm[i+2:])))) / 2
			}
			all = append(all, int16(v))
		}
	}
	return all
}

// TestG722ToBaresip: our UA, preferring G.722, calls baresip (g722 only,
// 16 kHz). The call has G.722 (payload type 9, G722/8000), our host reads
// and writes 16 kHz frames, and each side hears the other's tone above
// 4 kHz, which narrowband audio cannot carry.
func TestG722ToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startG722Baresip(t, ctx, "wideb", widePeerTone)
	u := mediaUA(t, wideMedia(), nil)
	c, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	p, ok := c.MediaParams()
	require.True(t, ok)
	t.Logf("negotiated %s/%d; baresip's answer:\n%s", p.Codec.Name, p.Codec.PayloadType, c.RemoteSDP())
	require.Equal(t, "G722", p.Codec.Name)
	require.EqualValues(t, 9, p.Codec.PayloadType)
	require.Contains(t, string(c.RemoteSDP()), "G722/8000")

	heard := talkWide(t, ctx, c.Media())
	require.NoError(t, c.Hangup(ctx))
	checkTones(t, "we", heard, g722.SampleRate, widePeerTone, wideOurTone)
	checkTones(t, "baresip", waitDump(t, ctx, b.rec, g722.SampleRate), g722.SampleRate, wideOurTone, widePeerTone)
}

// TestG722FromBaresip: baresip (g722 only) calls our UA, which answers
// with G.722; tones both ways as in TestG722ToBaresip.
func TestG722FromBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startG722Baresip(t, ctx, "widec", widePeerTone)
	calls := make(chan *ua.Call, 1)
	u := mediaUA(t, wideMedia(), answerInto(t, calls))
	addr := u.Addrs()
	require.NotEmpty(t, addr)
	c := b.dialUs(t, ctx, "sip:wide@"+addr[0].String(), calls)
	p, ok := c.MediaParams()
	require.True(t, ok)
	require.Equal(t, "G722", p.Codec.Name)
	require.True(t, strings.Contains(string(c.LocalSDP()), "G722/8000"), "our answer:\n%s", c.LocalSDP())

	heard := talkWide(t, ctx, c.Media())
	require.NoError(t, c.Hangup(ctx))
	checkTones(t, "we", heard, g722.SampleRate, widePeerTone, wideOurTone)
	checkTones(t, "baresip", waitDump(t, ctx, b.rec, g722.SampleRate), g722.SampleRate, wideOurTone, widePeerTone)
}
