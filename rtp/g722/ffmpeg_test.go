package g722

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// These tests check the codec against FFmpeg's G.722 encoder and decoder,
// an independent implementation whose decoder passes the ITU-T test
// sequences. FFmpeg is installed by scripts/install-peers.sh (Debian
// package ffmpeg); without it the tests skip, or fail under CI=true.

// ffmpegTimeout bounds one ffmpeg run.
const ffmpegTimeout = 60 * time.Second

// needFFmpeg returns the path of ffmpeg, or ends the test without it:
// skipped, or failed under CI=true.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	return testenv.LookPath(t, "ffmpeg", "ffmpeg")
}

// runFFmpeg runs ffmpeg quietly with args, failing the test on an error or
// after ffmpegTimeout.
func runFFmpeg(t *testing.T, args ...string) {
	t.Helper()
	path := needFFmpeg(t)
	ctx, cancel := context.WithTimeout(t.Context(), ffmpegTimeout)
	defer cancel()
	args = append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	require.NoError(t, err, "ffmpeg %v: %s", args, out)
}

// ffmpegEncode codes pcm with FFmpeg's G.722 encoder.
func ffmpegEncode(t *testing.T, pcm []int16) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.raw"), filepath.Join(dir, "out.g722")
	raw := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	require.NoError(t, os.WriteFile(in, raw, 0o600))
	runFFmpeg(t, "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", in, "-c:a", "g722", "-f", "g722", out)
	payload, err := os.ReadFile(out)
	require.NoError(t, err)
	return payload
}

// ffmpegDecode decodes payload with FFmpeg's G.722 decoder in mode
// (8 - bits per codeword = mode - 1).
func ffmpegDecode(t *testing.T, payload []byte, mode Mode) []int16 {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.g722"), filepath.Join(dir, "out.raw")
	require.NoError(t, os.WriteFile(in, payload, 0o600))
	bits := strconv.Itoa(9 - int(mode))
	runFFmpeg(t, "-bits_per_codeword", bits, "-f", "g722", "-i", in, "-f", "s16le", "-ar", "16000", out)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	pcm := make([]int16, len(raw)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	return pcm
}

// countDiff counts the positions where a and b differ (and the excess
// length of the longer one).
func countDiff[T comparable](a, b []T) int {
	n := max(len(a), len(b)) - min(len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

type signal struct {
	name   string
	pcm    []int16
	minSNR float64
}

func interopSignals() []signal {
	return []signal{
		{"1kHz", sine(1000, 10000, 16000), 20},
		{"5kHz", sine(5000, 10000, 16000), 20},
		{"speech-like", speechLike(32000, 1), 12},
	}
}

func TestFFmpegDecodesOurEncoding(t *testing.T) {
	needFFmpeg(t)
	for _, s := range interopSignals() {
		t.Run(s.name, func(t *testing.T) {
			ours := encodeAll(s.pcm)
			out := ffmpegDecode(t, ours, Mode1)
			require.Len(t, out, len(s.pcm))
			lag := bestDelay(s.pcm, out, 64)
			assert.Equal(t, Delay, lag)
			snr := snrDB(s.pcm, out, lag, warmup)
			t.Logf("ours -> ffmpeg: SNR %.1f dB at delay %d", snr, lag)
			assert.Greater(t, snr, s.minSNR)
			assert.Equal(t, out, decodeAll(ours), "ffmpeg and we decode our stream alike")
		})
	}
}

func TestFFmpegEncodingDecodedByUs(t *testing.T) {
	needFFmpeg(t)
	for _, s := range interopSignals() {
		t.Run(s.name, func(t *testing.T) {
			theirs := ffmpegEncode(t, s.pcm)
			require.Len(t, theirs, len(s.pcm)/2)
			out := decodeAll(theirs)
			lag := bestDelay(s.pcm, out, 64)
			assert.Equal(t, Delay, lag)
			snr := snrDB(s.pcm, out, lag, warmup)
			t.Logf("ffmpeg -> ours: SNR %.1f dB at delay %d", snr, lag)
			assert.Greater(t, snr, s.minSNR)
		})
	}
}

// Our encoder produces FFmpeg's bitstream octet for octet, loud and
// clipping input included.
func TestFFmpegEncoderBitExact(t *testing.T) {
	needFFmpeg(t)
	rng := rand.New(rand.NewPCG(8, 9))
	noise := make([]int16, 32000)
	for i := range noise {
		noise[i] = int16(rng.Uint32())
	}
	signals := append(interopSignals(),
		signal{name: "full-scale 7.9kHz", pcm: sine(7900, 32767, 16000)},
		signal{name: "full-scale noise", pcm: noise},
	)
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			ours, theirs := encodeAll(s.pcm), ffmpegEncode(t, s.pcm)
			diff := countDiff(ours, theirs)
			t.Logf("%d of %d octets differ", diff, len(theirs))
			assert.Zero(t, diff)
		})
	}
}

// Our decoder reproduces FFmpeg's output sample for sample in all three
// modes, on FFmpeg's own encoding and on random octets (which reach every
// code, the four unused lower-band codes included, and the saturations).
func TestFFmpegDecoderBitExact(t *testing.T) {
	needFFmpeg(t)
	rng := rand.New(rand.NewPCG(10, 11))
	random := make([]byte, 64000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	streams := []struct {
		name    string
		payload []byte
	}{
		{"ffmpeg-encoded speech-like", ffmpegEncode(t, speechLike(64000, 2))},
		{"random octets", random},
	}
	for _, s := range streams {
		for _, mode := range []Mode{Mode1, Mode2, Mode3} {
			t.Run(s.name+"/mode"+strconv.Itoa(int(mode)), func(t *testing.T) {
				d := NewDecoder()
				require.NoError(t, d.SetMode(mode))
				ours, theirs := d.Decode(nil, s.payload), ffmpegDecode(t, s.payload, mode)
				require.Len(t, theirs, 2*len(s.payload))
				diff := countDiff(ours, theirs)
				t.Logf("%d of %d samples differ", diff, len(theirs))
				assert.Zero(t, diff)
			})
		}
	}
}
