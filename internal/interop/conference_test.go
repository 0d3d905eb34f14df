//go:build interop

package interop

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/ua"
)

// The conference test's tones: one per party, and the room's join tone.
const (
	confAliceHz, confBobHz, confCarolHz, confDaveHz = 500, 700, 900, 1300
	confOurHz                                       = 1100
	confJoinHz                                      = 1400
	// confPhase is how long each line-up of the room talks.
	confPhase = 3 * time.Second
)

// TestConferenceBaresip: three baresips (G.711, tones of 500, 700 and
// 900 Hz) and one of our UAs (G.722, 1100 Hz) call room7 of
// examples/conference, so that the room mixes at 16 kHz with three
// narrowband parties. Every party hears the other three tones and never
// its own; then carol (900 Hz) hangs up and dave (1300 Hz) joins, and the
// room goes on: we hear dave and no longer carol; alice presses *6 and
// we no longer hear her. Each baresip's
// recording holds the others' tones and the join tone, and not its own;
// the room ends when the last party leaves.
func TestConferenceBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	e := startExample(t, ctx, "conference", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback)
	defer func() { logTails(t, e.stdout, e.stderr) }()
	room := "sip:room7@" + e.sip

	alice := startMediaBaresip(t, ctx, "alice", confAliceHz)
	bob := startMediaBaresip(t, ctx, "bob", confBobHz)
	carol := startMediaBaresip(t, ctx, "carol", confCarolHz)
	dave := startMediaBaresip(t, ctx, "dave", confDaveHz)
	join := func(b *mediaBaresip) { t.Helper(); joinRoom(t, ctx, b, room) }
	leave := func(b *mediaBaresip) { t.Helper(); leaveRoom(t, ctx, b) }
	for _, b := range []*mediaBaresip{alice, bob, carol} {
		join(b)
	}

	u := mediaUA(t, wideMedia(), nil)
	c, err := u.Dial(ctx, room, ua.DialOptions{})
	require.NoError(t, err, "our UA dials the room")
	s := c.Media()
	require.NotNil(t, s)
	require.Equal(t, g722.SampleRate, s.SampleRate(), "G.722 negotiated")
	e.waitOutput(t, ctx, "parties=4")

	rec := startRecorder(ctx, s)
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: confOurHz, Amplitude: 0.25, SampleRate: g722.SampleRate, FrameSamples: g722.FrameSamples})
	require.NoError(t, err)
	playCtx, stopPlay := context.WithCancel(ctx)
	played := make(chan error, 1)
	go func() { played <- s.Play(playCtx, g) }()

	sleepCtx(ctx, confPhase)
	first := rec.take()

	leave(carol)
	e.waitOutput(t, ctx, "left room=room7 ")
	join(dave)
	sleepCtx(ctx, time.Second) // dave's join settles
	rec.take()
	sleepCtx(ctx, confPhase)
	second := rec.take()

	out, err := alice.ctl(ctx, "sndcode", "*6")
	require.NoError(t, err, "alice sends *6: %q", out)
	e.waitOutput(t, ctx, "muted=true")
	rec.take()
	sleepCtx(ctx, 2*time.Second)
	muted := rec.take()

	stopPlay()
	require.ErrorIs(t, <-played, context.Canceled)
	st := s.Stats()
	t.Logf("our session: sent %d, received %d, lost %d, send lateness p99 %s", st.PacketsSent, st.PacketsReceived, st.PacketsLost, st.SendLateness.Quantile(0.99))
	require.NoError(t, c.Hangup(ctx))
	rec.wait()
	for _, b := range []*mediaBaresip{alice, bob, dave} {
		leave(b)
	}
	e.waitOutput(t, ctx, "room room7 ended")

	checkTones(t, "we, first", first[g722.SampleRate:], g722.SampleRate, confAliceHz, confOurHz)
	checkTones(t, "we, first", first[g722.SampleRate:], g722.SampleRate, confBobHz, confOurHz)
	checkTones(t, "we, first", first[g722.SampleRate:], g722.SampleRate, confCarolHz, confDaveHz)
	checkTones(t, "we, second", second, g722.SampleRate, confAliceHz, confOurHz)
	checkTones(t, "we, second", second, g722.SampleRate, confBobHz, confCarolHz)
	checkTones(t, "we, second", second, g722.SampleRate, confDaveHz, confOurHz)
	// Audio of before the mute still in the pipeline: skip half a second.
	checkTones(t, "we, alice muted", muted[g722.SampleRate/2:], g722.SampleRate, confBobHz, confAliceHz)

	for _, p := range []struct {
		b    *mediaBaresip
		own  float64
		hear []float64
	}{
		{alice, confAliceHz, []float64{confBobHz, confCarolHz, confOurHz, confDaveHz}},
		{bob, confBobHz, []float64{confAliceHz, confCarolHz, confOurHz, confDaveHz}},
		{carol, confCarolHz, []float64{confAliceHz, confBobHz, confOurHz}},
		{dave, confDaveHz, []float64{confAliceHz, confBobHz, confOurHz}},
	} {
		got := waitDump(t, ctx, p.b.rec, audio.SampleRate)
		for _, hz := range p.hear {
			l := peak(got, hz)
			t.Logf("%s heard %.0f Hz at %.4f", p.b.user, hz, l)
			require.Greater(t, l, mediaMinLevel, "%s hears %.0f Hz", p.b.user, hz)
		}
		own := peak(got, p.own)
		t.Logf("%s heard its own %.0f Hz at %.6f in %.1f s", p.b.user, p.own, own, float64(len(got))/audio.SampleRate)
		require.Less(t, own, mediaMinLevel/10, "%s does not hear itself", p.b.user)
		require.Greater(t, peak(got, confJoinHz), mediaMinLevel/4, "%s hears the join tone", p.b.user)
	}

	stdout, _ := e.finish(t)
	require.Contains(t, stdout, "room room7 opened")
	require.Equal(t, 5, strings.Count(stdout, "joined room=room7 "), "five joins")
	require.Equal(t, 5, strings.Count(stdout, "left room=room7 "), "five leaves")
}

// TestConferenceDial: two baresips (500 and 700 Hz) and the dial program
// (-play a 1100 Hz tone, -record, -hangup-after-play) in one room of
// examples/conference: dial's recording holds both baresips' tones and
// not its own, and each baresip's recording holds dial's tone.
func TestConferenceDial(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	e := startExample(t, ctx, "conference", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback)
	defer func() { logTails(t, e.stdout, e.stderr) }()
	room := "sip:room8@" + e.sip

	alice := startMediaBaresip(t, ctx, "alice", confAliceHz)
	bob := startMediaBaresip(t, ctx, "bob", confBobHz)
	for _, b := range []*mediaBaresip{alice, bob} {
		joinRoom(t, ctx, b, room)
	}
	e.waitOutput(t, ctx, "parties=2")

	dir := t.TempDir()
	tone, rec := filepath.Join(dir, "tone.wav"), filepath.Join(dir, "rec.wav")
	require.NoError(t, writeToneWAV(tone, confOurHz, audio.SampleRate, 4*time.Second))
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-codecs", "pcmu", "-play", tone, "-record", rec, "-hangup-after-play", room)
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Contains(t, stdout, " recorded file="+rec)

	got := readWAV(t, rec)
	// The first second holds the room's join tone and the streams' start.
	require.Greater(t, len(got), 2*audio.SampleRate, "dial recorded at least two seconds")
	checkTones(t, "dial", got[audio.SampleRate:], audio.SampleRate, confAliceHz, confOurHz)
	checkTones(t, "dial", got[audio.SampleRate:], audio.SampleRate, confBobHz, confOurHz)
	for _, b := range []*mediaBaresip{alice, bob} {
		leaveRoom(t, ctx, b)
	}
	e.waitOutput(t, ctx, "room room8 ended")
	for _, b := range []*mediaBaresip{alice, bob} { // recordings end with the calls
		heard := waitDump(t, ctx, b.rec, audio.SampleRate)
		l := peak(heard, confOurHz)
		t.Logf("%s heard dial's %d Hz at %.4f", b.user, confOurHz, l)
		require.Greater(t, l, mediaMinLevel, "%s hears dial", b.user)
	}
}

// joinRoom has baresip b call room and waits for the call to be up.
func joinRoom(t *testing.T, ctx context.Context, b *mediaBaresip, room string) {
	t.Helper()
	_, err := b.ctl(ctx, "dial", room)
	require.NoError(t, err, "%s dials the room", b.user)
	b.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
}

// leaveRoom has baresip b hang up and waits until it has no call.
func leaveRoom(t *testing.T, ctx context.Context, b *mediaBaresip) {
	t.Helper()
	_, err := b.ctl(ctx, "hangup", "")
	require.NoError(t, err)
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
}

// recorder reads a session's audio in the background.
type recorder struct {
	mu   sync.Mutex
	buf  []int16
	done chan struct{}
}

func startRecorder(ctx context.Context, s *rtp.Session) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		frame := make([]int16, 0, g722.FrameSamples)
		for {
			var err error
			frame, err = s.ReadFrame(ctx, frame[:0])
			if err != nil { // the call's end closes the session
				return
			}
			r.mu.Lock()
			r.buf = append(r.buf, frame...)
			r.mu.Unlock()
		}
	}()
	return r
}

// take returns what was recorded since the last take.
func (r *recorder) take() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buf
	r.buf = nil
	return b
}

// wait waits for the session's end.
func (r *recorder) wait() { <-r.done }
