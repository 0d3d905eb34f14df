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
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
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
	s := toneKinds(got, holdHostTone, holdMusicTone, 'h', 'm')
	t.Logf("baresip received (100 ms each): %s", s)
	firstM, lastM := indexByte(s, 'm'), lastIndexByte(s, 'm')
	require.GreaterOrEqual(t, firstM, 0, "the music in the RTP to baresip")
	require.GreaterOrEqual(t, countByte(s[firstM:lastM+1], 'm'), 15, "about 2 s of music")
	require.Zero(t, countByte(s[firstM:lastM+1], 'h'), "no host audio during the hold")
	require.GreaterOrEqual(t, countByte(s[:firstM], 'h'), 10, "host audio before the hold")
	require.GreaterOrEqual(t, countByte(s[lastM:], 'h'), 10, "host audio after the resume")
}

// toneKinds classifies 8 kHz audio per 100 ms: a where the tone hzA is
// heard and hzB is not, b the other way round, '.' for neither or both.
func toneKinds(got []int16, hzA, hzB float64, a, b byte) string {
	const win = audio.SampleRate / 10
	var kinds []byte
	for i := 0; i+win <= len(got); i += win {
		la := wav.ToneLevel(got[i:i+win], hzA, audio.SampleRate)
		lb := wav.ToneLevel(got[i:i+win], hzB, audio.SampleRate)
		switch {
		case la > mediaMinLevel && lb < mediaMinLevel/10:
			kinds = append(kinds, a)
		case lb > mediaMinLevel && la < mediaMinLevel/10:
			kinds = append(kinds, b)
		default:
			kinds = append(kinds, '.')
		}
	}
	return string(kinds)
}

// TestConferenceHoldMusicBaresip: examples/conference with -hold-music (a
// 1 s WAV of 700 Hz, looped). baresip (440 Hz) calls a room alone and
// hears the music; our UA (G.722, so the room mixes at 16 kHz) joins
// playing 1100 Hz for 3 s and hangs up; baresip, alone again, hears the
// music again. baresip's recording (whole: no re-INVITE here) holds
// music, then our tone and no music, then music; our recording holds
// baresip's tone and no music.
func TestConferenceHoldMusicBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	music := toneWAV(t, t.TempDir(), holdMusicTone, 1)
	e := startExample(t, ctx, "conference", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback, "-hold-music", music)
	defer func() { logTails(t, e.stdout, e.stderr) }()
	room := "sip:room9@" + e.sip
	b := startMediaBaresip(t, ctx, "alone", mediaPeerTone)
	_, err := b.ctl(ctx, "dial", room)
	require.NoError(t, err, "baresip dials the room")
	b.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
	e.waitOutput(t, ctx, "parties=1")
	sleepCtx(ctx, confPhase)

	u := mediaUA(t, wideMedia(), nil)
	c, err := u.Dial(ctx, room, ua.DialOptions{})
	require.NoError(t, err, "our UA dials the room")
	s := c.Media()
	require.NotNil(t, s)
	e.waitOutput(t, ctx, "parties=2")
	rec := startRecorder(ctx, s)
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: confOurHz, Amplitude: 0.25, SampleRate: s.SampleRate(), FrameSamples: s.FrameSamples()})
	require.NoError(t, err)
	playCtx, stopPlay := context.WithTimeout(ctx, confPhase)
	defer stopPlay()
	require.ErrorIs(t, s.Play(playCtx, g), context.DeadlineExceeded)
	require.NoError(t, c.Hangup(ctx))
	rec.wait()
	e.waitOutput(t, ctx, "left room=room9 ")
	sleepCtx(ctx, confPhase)
	_, err = b.ctl(ctx, "hangup", "")
	require.NoError(t, err)
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	e.waitOutput(t, ctx, "room room9 ended")

	heard := rec.take()
	checkTones(t, "we", heard[s.SampleRate()/2:], g722.SampleRate, mediaPeerTone, holdMusicTone)

	got := waitDump(t, ctx, b.rec, audio.SampleRate)
	k := toneKinds(got, confOurHz, holdMusicTone, 'o', 'm')
	t.Logf("baresip heard (100 ms each): %s", k)
	firstO, lastO := indexByte(k, 'o'), lastIndexByte(k, 'o')
	require.GreaterOrEqual(t, firstO, 0, "our tone in baresip's recording")
	require.GreaterOrEqual(t, countByte(k[:firstO], 'm'), 20, "at least 2 s of music while alone")
	require.GreaterOrEqual(t, countByte(k[firstO:lastO+1], 'o'), 20, "about 3 s of our tone")
	require.Zero(t, countByte(k[firstO:lastO+1], 'm'), "no music while two are in the room")
	require.GreaterOrEqual(t, countByte(k[lastO:], 'm'), 20, "the music again once alone")
	stdout, _ := e.finish(t)
	require.Contains(t, stdout, "room room9 opened")
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
