package rtp_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// A WAV prompt played by one session and recorded to a WAV file by the
// other: the recording holds the prompt's tone.
func TestSessionPlayRecordWAV(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports, RecvQueueFrames: 50})
	connect(t, a, b, false)

	// A 600 Hz prompt of 0.5 s, 44 frames and a short one.
	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 600, Amplitude: 0.5})
	require.NoError(t, err)
	var prompt []int16
	for range 25 {
		prompt, _ = tone.ReadFrame(prompt)
	}
	prompt = prompt[:len(prompt)-70]
	file, err := wav.Append(nil, prompt)
	require.NoError(t, err)
	src, err := wav.NewReader(bytesReader(file))
	require.NoError(t, err)

	f, err := os.Create(filepath.Join(t.TempDir(), "rec.wav"))
	require.NoError(t, err)
	defer f.Close()
	rec, err := wav.NewWriter(f)
	require.NoError(t, err)
	recCtx, stopRec := context.WithCancel(ctx)
	recorded := make(chan error, 1)
	go func() { recorded <- b.Record(recCtx, rec) }()

	require.NoError(t, a.Play(ctx, src), "Play returns at the end of the source")
	// Play returns once the last frame is queued; the media clock sends it
	// at its tick, or discards it when a loaded machine made the sender
	// miss its period (SessionStats.FramesDiscarded).
	// The session sends silence while nothing is played, or, with comfort
	// noise negotiated, a CN packet where the host's frames pause (a loaded
	// machine can make the Play goroutine miss a period in mid-prompt, and
	// the talkspurt then ends and starts again): the prompt's frames are
	// the other packets.
	frames := uint64((len(prompt) + audio.FrameSamples - 1) / audio.FrameSamples)
	buf := make([]int16, 0, jitter.DefaultMaxFrameSamples)
	promptSent := func(st rtp.SessionStats) uint64 {
		return st.PacketsSent - st.SilenceFramesSent - st.KeepAlivesSent - st.ComfortNoiseSent
	}
	for {
		st := a.Stats()
		if promptSent(st)+st.FramesDiscarded >= frames {
			break
		}
		_, err := a.ReadFrame(ctx, buf[:0]) // one frame period
		require.NoError(t, err, "waiting for %d frames sent or discarded: %d sent, %d discarded", frames, st.PacketsSent, st.FramesDiscarded)
	}
	st := a.Stats()
	sent, discarded := promptSent(st), st.FramesDiscarded
	require.Equal(t, frames, sent+discarded, "frames sent and discarded")
	if discarded > 0 {
		t.Logf("the sender discarded %d of %d frames (missed periods on a loaded machine)", discarded, frames)
	}
	// Let the last frames through the jitter buffer, then stop recording.
	// Every frame sent leaves it played, lost, or discarded (a loaded
	// machine delivers in bursts, and the buffer drops frames to keep its
	// delay down).
	// a sends silence around the prompt, so b's buffer never runs empty:
	// wait until every packet a sent up to the prompt's end has left it.
	upTo := st.PacketsSent
	for {
		st := b.Stats().Playout
		if st.Played+st.Lost+st.Discarded >= upTo {
			break
		}
		_, err := a.ReadFrame(ctx, buf[:0]) // one frame period
		require.NoError(t, err, "waiting for b's playout of the %d packets a sent: %+v", upTo, st)
	}
	stopRec()
	require.ErrorIs(t, <-recorded, context.Canceled)
	require.NoError(t, rec.Close())

	_, err = f.Seek(0, io.SeekStart)
	require.NoError(t, err)
	r, err := wav.NewReader(f)
	require.NoError(t, err)
	got, err := io.ReadAll(samplesReader{r})
	require.NoError(t, err)
	samples := bytesToSamples(got)
	require.Greater(t, len(samples), len(prompt))
	// Somewhere in the recording (after the playout delay) a window as long
	// as most of the prompt holds the tone at its full level (0.5² = 0.25);
	// where the sender had to discard frames, a window of a few frames.
	win := len(prompt) - 2*audio.FrameSamples
	if discarded > 0 {
		win = 4 * audio.FrameSamples
	}
	best := 0.0
	for i := 0; i+win <= len(samples); i += audio.FrameSamples / 4 {
		best = max(best, wav.ToneLevel(samples[i:i+win], 600, audio.SampleRate))
	}
	require.Greater(t, best, 0.2)
	require.Less(t, wav.ToneLevel(samples, 1000, audio.SampleRate), 0.001)
}

// Play rejects a source that makes no progress, and passes its errors on.
func TestSessionPlaySourceErrors(t *testing.T) {
	ctx := testCtx(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t)})
	require.ErrorIs(t, a.Play(ctx, stuckSource{}), io.ErrNoProgress)
	boom := errors.New("boom")
	require.ErrorIs(t, a.Play(ctx, failingSource{boom}), boom)
}

type stuckSource struct{}

func (stuckSource) ReadFrame(dst []int16) ([]int16, error) { return dst, nil }

type failingSource struct{ err error }

func (s failingSource) ReadFrame(dst []int16) ([]int16, error) { return dst, s.err }

type bytesReaderT struct {
	b []byte
}

func bytesReader(b []byte) *bytesReaderT { return &bytesReaderT{b: b} }

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// samplesReader turns a wav.Reader into an io.Reader of little-endian
// samples, for io.ReadAll.
type samplesReader struct{ r *wav.Reader }

func (s samplesReader) Read(p []byte) (int, error) {
	buf := make([]int16, len(p)/2)
	n, err := s.r.Read(buf)
	for i := range n {
		p[2*i], p[2*i+1] = byte(buf[i]), byte(uint16(buf[i])>>8)
	}
	return 2 * n, err
}

func bytesToSamples(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}
