//go:build interop

package interop

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// Tones of the media test: baresip sends mediaPeerTone, we send
// mediaOurTone; each side must hear the other's.
const (
	mediaPeerTone = 440
	mediaOurTone  = 1000
	// mediaSeconds is how long we play and record.
	mediaSeconds = 3
	// mediaMinLevel is the least Goertzel level (relative to a full-scale
	// sine) accepted for the tone heard; both tones are sent at about
	// 0.25 of full scale (level 0.06).
	mediaMinLevel = 0.01
)

// mediaUA is a UA on loopback with media cfg (its IP set to 127.0.0.1)
// that logs its events; onCall answers incoming calls (nil: none
// expected).
func mediaUA(t *testing.T, cfg ua.MediaConfig, onCall func(ctx context.Context, ic *ua.IncomingCall)) *ua.UA {
	t.Helper()
	cfg.IP = netip.MustParseAddr("127.0.0.1")
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    cfg,
		OnCall:   onCall,
		OnEvent:  func(e ua.Event) { t.Logf("event: %s", e) },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// TestMediaBaresip: our UA (media by default) calls baresip directly (no
// registrar), which auto-answers and plays a 440 Hz tone from a WAV file
// (aufile) while recording what it hears (sndfile). We play 1000 Hz for
// three seconds and record what we hear. Our recording holds 440 Hz, and
// baresip's holds 1000 Hz, each checked with the Goertzel algorithm; each
// side's own tone is absent from what it heard.
func TestMediaBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startMediaBaresip(t, ctx, "bob", mediaPeerTone)

	u := mediaUA(t, ua.MediaConfig{}, nil)

	c, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	s := c.Media()
	require.NotNil(t, s)
	p, ok := c.MediaParams()
	require.True(t, ok)
	t.Logf("negotiated %s/%d to %s, direction %s; baresip's answer:\n%s", p.Codec.Name, p.Codec.PayloadType, p.RemoteRTP, p.Direction, c.RemoteSDP())

	heard := playTone(t, ctx, s, wav.ToneConfig{Frequency: mediaOurTone}, mediaSeconds*1000/20)
	st := s.Stats()
	t.Logf("our session: sent %d packets, received %d, lost %d, jitter %s, late p99 %s", st.PacketsSent, st.PacketsReceived, st.PacketsLost, st.Jitter, st.SendLateness.Quantile(0.99))
	require.NoError(t, c.Hangup(ctx))

	ours, theirs := peak(heard, mediaPeerTone), peak(heard, mediaOurTone)
	t.Logf("we heard %d Hz at %.4f (our own %d Hz at %.6f)", mediaPeerTone, ours, mediaOurTone, theirs)
	require.Greater(t, ours, mediaMinLevel, "baresip's tone in our recording")
	require.Less(t, theirs, mediaMinLevel/10, "our own tone in our recording")

	// baresip writes dump-<call>-dec.wav (what it received, decoded) and
	// finishes it when the call ends.
	got := waitDump(t, ctx, b.rec, audio.SampleRate)
	bOurs, bOwn := peak(got, mediaOurTone), peak(got, mediaPeerTone)
	t.Logf("baresip heard %d Hz at %.4f (its own %d Hz at %.6f) in %.1f s", mediaOurTone, bOurs, mediaPeerTone, bOwn, float64(len(got))/audio.SampleRate)
	require.Greater(t, bOurs, mediaMinLevel, "our tone in baresip's recording")
	require.Less(t, bOwn, mediaMinLevel/10, "baresip's own tone in its recording")
	require.NoError(t, u.Close())
}

// limited is the first n frames of a source.
type limited struct {
	src rtp.FrameSource
	n   int
}

func (l *limited) ReadFrame(dst []int16) ([]int16, error) {
	if l.n == 0 {
		return dst, io.EOF
	}
	l.n--
	return l.src.ReadFrame(dst)
}

// playTone plays a tone of cfg on s for frames frames and returns what s
// received meanwhile (as many frames).
func playTone(t *testing.T, ctx context.Context, s *rtp.Session, cfg wav.ToneConfig, frames int) []int16 {
	t.Helper()
	g, err := wav.NewToneGenerator(cfg)
	require.NoError(t, err)
	playErr := make(chan error, 1)
	go func() { playErr <- s.Play(ctx, &limited{src: g, n: frames}) }()
	var heard []int16
	for range frames {
		heard, err = s.ReadFrame(ctx, heard)
		require.NoError(t, err)
	}
	require.NoError(t, <-playErr)
	return heard
}

// peak is the largest Goertzel level of hz over 100 ms windows of 8 kHz
// audio.
func peak(samples []int16, hz float64) float64 { return peakAt(samples, hz, audio.SampleRate) }

// peakAt is peak for audio at rate.
func peakAt(samples []int16, hz float64, rate int) float64 {
	win := rate / 10
	best := 0.0
	for i := 0; i+win <= len(samples); i += win / 2 {
		best = max(best, wav.ToneLevel(samples[i:i+win], hz, rate))
	}
	return best
}

// checkTones checks that heard (audio at rate) holds want and not notWant.
func checkTones(t *testing.T, who string, heard []int16, rate int, want, notWant float64) {
	t.Helper()
	got, other := peakAt(heard, want, rate), peakAt(heard, notWant, rate)
	t.Logf("%s heard %.0f Hz at %.4f (%.0f Hz at %.6f) in %.1f s", who, want, got, notWant, other, float64(len(heard))/float64(rate))
	require.Greater(t, got, mediaMinLevel, "%s: the %.0f Hz tone", who, want)
	require.Less(t, other, mediaMinLevel/10, "%s: the %.0f Hz tone", who, notWant)
}

// readDump reads baresip's recordings of received audio in dir (8 kHz mono
// waitDump waits until baresip has recorded at least a second of the
// audio it received into dir, at rate (8000 or 16000), and returns it.
func waitDump(t *testing.T, ctx context.Context, dir string, rate int) []int16 {
	t.Helper()
	read := readDump
	if rate != audio.SampleRate {
		read = func(t *testing.T, dir string) []int16 { return readDumpAt(t, dir, rate) }
	}
	deadline := time.Now().Add(peerWait)
	for {
		got := read(t, dir)
		if len(got) >= rate {
			return got
		}
		require.False(t, time.Now().After(deadline), "baresip recorded less than a second (%d samples)", len(got))
		sleepCtx(ctx, peerPoll)
	}
}

// after conversion); nil while there is none.
func readDump(t *testing.T, dir string) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	var all []int16
	for _, name := range files {
		f, err := os.Open(name)
		require.NoError(t, err)
		r, err := wav.NewReader(f)
		if err != nil {
			f.Close()
			continue // not finished yet
		}
		buf := make([]int16, 0, audio.FrameSamples)
		for {
			buf, err = r.ReadFrame(buf[:0])
			all = append(all, buf...)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Logf("%s: %v", name, err)
				}
				break
			}
		}
		f.Close()
	}
	return all
}
