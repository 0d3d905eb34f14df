//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/wav"
)

// Tones of the music-on-hold test: dial plays holdHostTone from -play and
// holdMusicTone from -hold-music.
const (
	holdHostTone  = 1000
	holdMusicTone = 700
)

// toneWAV writes seconds of a tone at hz to a WAV file in dir.
func toneWAV(t *testing.T, dir string, hz float64, seconds int) string {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz})
	require.NoError(t, err)
	var pcm []int16
	for range seconds * 50 {
		pcm, err = g.ReadFrame(pcm)
		require.NoError(t, err)
	}
	b, err := wav.Append(nil, pcm)
	require.NoError(t, err)
	name := filepath.Join(dir, "tone.wav")
	if _, err := os.Stat(name); err == nil {
		name = filepath.Join(dir, "tone2.wav")
	}
	require.NoError(t, os.WriteFile(name, b, 0o644))
	return name
}

// TestDialHoldMusicBaresip: examples/dial calls baresip playing a
// 1000 Hz tone (-play), holds it after 2 s with -hold-music (a 1 s WAV of
// 700 Hz, looped) and resumes 2 s later. baresip 1.0's sndfile recording
// ends at the first re-INVITE (its decoder dump is not reopened after the
// stream update), so what baresip received is read from a tshark capture
// of the RTP sent to its ports, decoded: host-tone windows, then about 2 s
// of music and no host tone, then the host tone again. baresip's own
// recording, up to the hold, holds the host tone.
func TestDialHoldMusicBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	tshark := peerBinary(t, "tshark", "tshark")
	b := startMediaBaresip(t, ctx, "held", mediaPeerTone)
	dir := t.TempDir()
	host := toneWAV(t, dir, holdHostTone, 10)
	music := toneWAV(t, dir, holdMusicTone, 1)
	lo, hi := b.sipPort+3, b.sipPort+12 // launchBaresip's rtp_ports
	pcap := filepath.Join(artifacts(t), "holdmusic.pcap")
	c := startCapture(t, ctx, tshark, pcap, filepath.Join(artifacts(t), "tshark.log"), fmt.Sprintf("udp dst portrange %d-%d", lo, hi))

	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-play", host, "-hold-music", music, "-hold-after", "2s", "-resume-after", "2s",
		"-hangup-after", "6s", b.uri())
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Contains(t, stdout, " on hold call=")
	require.Contains(t, stdout, " resumed call=")
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	c.stop(t)

	rec := waitDump(t, ctx, b.rec, audio.SampleRate)
	require.Greater(t, peak(rec, holdHostTone), mediaMinLevel, "the host's tone in baresip's recording before the hold")

	sent, _ := readCapturedRTP(t, ctx, tshark, pcap, "rtp", 0, lo, hi)
	require.Len(t, sent, 1, "one RTP stream to baresip")
	var got []int16
	for _, pkts := range sent {
		for _, p := range pkts {
			if p.pt == 0 { // PCMU, as startMediaBaresip's account orders
				got = g711.DecodeULaw(got, p.payload)
			}
		}
	}
	const win = audio.SampleRate / 10
	var kinds []byte // per 100 ms: h(ost), m(usic), or '.'
	for i := 0; i+win <= len(got); i += win {
		h := wav.ToneLevel(got[i:i+win], holdHostTone, audio.SampleRate)
		m := wav.ToneLevel(got[i:i+win], holdMusicTone, audio.SampleRate)
		switch {
		case h > mediaMinLevel && m < mediaMinLevel/10:
			kinds = append(kinds, 'h')
		case m > mediaMinLevel && h < mediaMinLevel/10:
			kinds = append(kinds, 'm')
		default:
			kinds = append(kinds, '.')
		}
	}
	t.Logf("baresip received (100 ms each): %s", kinds)
	s := string(kinds)
	firstM, lastM := indexByte(s, 'm'), lastIndexByte(s, 'm')
	require.GreaterOrEqual(t, firstM, 0, "the music in the RTP to baresip")
	require.GreaterOrEqual(t, countByte(s[firstM:lastM+1], 'm'), 15, "about 2 s of music")
	require.Zero(t, countByte(s[firstM:lastM+1], 'h'), "no host audio during the hold")
	require.GreaterOrEqual(t, countByte(s[:firstM], 'h'), 10, "host audio before the hold")
	require.GreaterOrEqual(t, countByte(s[lastM:], 'h'), 10, "host audio after the resume")
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func countByte(s string, c byte) int {
	n := 0
	for i := range len(s) {
		if s[i] == c {
			n++
		}
	}
	return n
}
