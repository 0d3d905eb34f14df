package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dialtone/dialtone/rtp/audio"

	"github.com/stretchr/testify/require"
)

// wavSpec describes a WAV file a test builds byte by byte.
type wavSpec struct {
	enc        uint16
	ch         uint16
	rate       uint32
	bits       uint16
	blockAlign uint16 // 0: computed
	extensible bool
	guidTail   string // "" : the standard KSDATAFORMAT tail
	before     []byte // raw chunks before fmt
	between    []byte // raw chunks between fmt and data
	data       []byte
	dataSize   int64 // 0: len(data); otherwise written as is
	after      []byte
}

func wavChunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func (s wavSpec) bytes() []byte {
	le := binary.LittleEndian
	ba := s.blockAlign
	if ba == 0 {
		ba = s.ch * s.bits / 8
	}
	tag := s.enc
	if s.extensible {
		tag = FormatExtensible
	}
	f := le.AppendUint16(nil, tag)
	f = le.AppendUint16(f, s.ch)
	f = le.AppendUint32(f, s.rate)
	f = le.AppendUint32(f, s.rate*uint32(ba))
	f = le.AppendUint16(f, ba)
	f = le.AppendUint16(f, s.bits)
	if s.extensible {
		f = le.AppendUint16(f, 22)
		f = le.AppendUint16(f, s.bits)
		f = le.AppendUint32(f, 0)
		f = le.AppendUint16(f, s.enc)
		tail := s.guidTail
		if tail == "" {
			tail = wavSubformatTail
		}
		f = append(f, tail...)
	}
	body := []byte("WAVE")
	body = append(body, s.before...)
	body = append(body, wavChunk("fmt ", f)...)
	body = append(body, s.between...)
	size := uint32(len(s.data))
	if s.dataSize != 0 {
		size = uint32(s.dataSize)
	}
	body = append(body, "data"...)
	body = le.AppendUint32(body, size)
	body = append(body, s.data...)
	body = append(body, s.after...)
	return append(append([]byte("RIFF"), le.AppendUint32(nil, uint32(len(body)))...), body...)
}

func wavPCM16(samples ...int16) []byte { return wavAppendSamples(nil, samples) }

// wavReadAll reads every sample, returning the samples and the final error
// (nil at a clean end).
func wavReadAll(t testing.TB, b []byte) ([]int16, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out []int16
	for range 1 << 20 {
		out, err = r.ReadFrame(out)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	t.Fatal("reader does not end")
	return nil, nil
}

func TestWAVHeaderBytes(t *testing.T) {
	got, err := Append(nil, []int16{1, -2})
	require.NoError(t, err)
	want := []byte{
		'R', 'I', 'F', 'F', 40, 0, 0, 0, 'W', 'A', 'V', 'E',
		'f', 'm', 't', ' ', 16, 0, 0, 0,
		1, 0, // PCM
		1, 0, // mono
		0x40, 0x1F, 0, 0, // 8000 Hz
		0x80, 0x3E, 0, 0, // 16000 bytes/s
		2, 0, // block align
		16, 0, // bits
		'd', 'a', 't', 'a', 4, 0, 0, 0,
		1, 0, 0xFE, 0xFF,
	}
	require.Equal(t, want, got)
	require.Len(t, got, HeaderSize+4)
}

func TestWAVWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	_, err = f.Write([]byte("prefix")) // the header goes at the current offset
	require.NoError(t, err)

	w, err := NewWriter(f)
	require.NoError(t, err)
	tone, err := NewToneGenerator(ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	var all []int16
	for range 3 {
		frame, _ := tone.ReadFrame(nil)
		require.NoError(t, w.WriteSamples(frame[:100]))
		require.NoError(t, w.WriteSamples(frame[100:]))
		all = append(all, frame...)
	}
	require.NoError(t, w.WriteSamples(nil))
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "second Close is a no-op")
	require.ErrorIs(t, w.WriteSamples(all), ErrClosed)
	_, err = f.Write([]byte("!")) // Close left the offset at the end
	require.NoError(t, err)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	want, err := Append([]byte("prefix"), all)
	require.NoError(t, err)
	require.Equal(t, append(want, '!'), raw)

	got, err := wavReadAll(t, raw[len("prefix"):len(raw)-1])
	require.NoError(t, err)
	require.Equal(t, all, got)
}

type wavFailWriter struct {
	bytes.Buffer
	failAfter int
}

func (w *wavFailWriter) Write(b []byte) (int, error) {
	if w.Len()+len(b) > w.failAfter {
		return 0, errors.New("disk full")
	}
	return w.Buffer.Write(b)
}

func (w *wavFailWriter) Seek(int64, int) (int64, error) { return int64(w.Len()), nil }

func TestWAVWriterErrors(t *testing.T) {
	_, err := NewWriter(&wavFailWriter{failAfter: 10})
	require.Error(t, err)
	w, err := NewWriter(&wavFailWriter{failAfter: 100})
	require.NoError(t, err)
	require.NoError(t, w.WriteSamples(make([]int16, 10)))
	err = w.WriteSamples(make([]int16, 100))
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, err, w.WriteSamples(nil), "errors are sticky")
	w.data = MaxDataSize - 1
	w.err = nil
	require.ErrorIs(t, w.WriteSamples([]int16{1}), ErrTooLarge)
}

func TestWAVReaderFormats(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		spec wavSpec
		want []int16
	}{
		{"16-bit mono", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, data: wavPCM16(0, 1, -1, 32767, -32768)},
			[]int16{0, 1, -1, 32767, -32768}},
		{"8-bit unsigned", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 8, data: []byte{128, 0, 255, 129}},
			[]int16{0, -32768, 127 << 8, 256}},
		{"24-bit", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 24, data: []byte{0xAA, 0x34, 0x12, 0xFF, 0xFF, 0xFF}},
			[]int16{0x1234, -1}},
		{"32-bit", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 32, data: le.AppendUint32(nil, 0x80001234)},
			[]int16{math.MinInt16}},
		{"A-law", wavSpec{enc: 6, ch: 1, rate: 8000, bits: 8, data: []byte{0xD5, 0xAA}},
			[]int16{8, 32256}},
		{"μ-law", wavSpec{enc: 7, ch: 1, rate: 8000, bits: 8, data: []byte{0xFF, 0x80, 0x00}},
			[]int16{0, 32124, -32124}},
		{"extensible PCM", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, extensible: true, data: wavPCM16(5, 6)},
			[]int16{5, 6}},
		{"stereo downmix", wavSpec{enc: 1, ch: 2, rate: 8000, bits: 16, data: wavPCM16(1000, 3000, -100, 100, 32767, 32767)},
			[]int16{2000, 0, 32767}},
		{"6 channels", wavSpec{enc: 1, ch: 6, rate: 8000, bits: 16, data: wavPCM16(6, 6, 6, 0, 0, 0)},
			[]int16{3}},
		{"upsample 4 kHz", wavSpec{enc: 1, ch: 1, rate: 4000, bits: 16, data: wavPCM16(0, 1000, 2000)},
			[]int16{0, 500, 1000, 1500, 2000}},
		{"downsample 16 kHz", wavSpec{enc: 1, ch: 1, rate: 16000, bits: 16, data: wavPCM16(0, 1, 2, 3, 4, 5, 6)},
			[]int16{0, 2, 4, 6}},
		{"downsample 12 kHz", wavSpec{enc: 1, ch: 1, rate: 12000, bits: 16, data: wavPCM16(0, 300, 600, 900, 1200, 1500, 1800)},
			[]int16{0, 450, 900, 1350, 1800}},
		{"unknown chunks skipped", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16,
			before:  wavChunk("LIST", []byte("INFOodd")),
			between: append(wavChunk("fact", []byte{1, 2, 3, 4}), wavChunk("junk", []byte{9})...),
			data:    wavPCM16(7, 8), after: wavChunk("LIST", []byte("xx"))},
			[]int16{7, 8}},
		{"streaming size, odd tail ignored", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16,
			data: append(wavPCM16(1, 2, 3), 0x55), dataSize: 0xFFFFFFFF},
			[]int16{1, 2, 3}},
		{"partial block at the end ignored", wavSpec{enc: 1, ch: 2, rate: 8000, bits: 16,
			data: append(wavPCM16(2, 4), 1, 0)},
			[]int16{3}},
		{"empty data", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16}, []int16{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wavReadAll(t, tc.spec.bytes())
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestWAVReaderConvertsStereo44k(t *testing.T) {
	// One second of 44.1 kHz stereo: 440 Hz on the left, 440 Hz with
	// opposite phase plus 1000 Hz on the right. The mono mix is the 1000 Hz
	// tone at half amplitude only.
	const rate = 44100
	var data []byte
	for i := range rate {
		a := 0.4 * math.Sin(2*math.Pi*440*float64(i)/rate)
		b := 0.4 * math.Sin(2*math.Pi*1000*float64(i)/rate)
		data = binary.LittleEndian.AppendUint16(data, uint16(int16(a*math.MaxInt16)))
		data = binary.LittleEndian.AppendUint16(data, uint16(int16((b-a)*math.MaxInt16)))
	}
	file := wavSpec{enc: 1, ch: 2, rate: rate, bits: 16, data: data}.bytes()
	r, err := NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, Format{Encoding: 1, Channels: 2, SampleRate: rate, BitsPerSample: 16, BlockAlign: 4}, r.Format())
	got, err := wavReadAll(t, file)
	require.NoError(t, err)
	require.InDelta(t, audio.SampleRate, len(got), 1)
	require.InDelta(t, 0.04, ToneLevel(got, 1000, audio.SampleRate), 0.002)
	require.Less(t, ToneLevel(got, 440, audio.SampleRate), 0.0001)

	// The same tone alone, left channel only: 440 Hz survives the mix at
	// half amplitude.
	data = data[:0]
	for i := range rate {
		a := 0.8 * math.Sin(2*math.Pi*440*float64(i)/rate)
		data = binary.LittleEndian.AppendUint16(data, uint16(int16(a*math.MaxInt16)))
		data = binary.LittleEndian.AppendUint16(data, 0)
	}
	got, err = wavReadAll(t, wavSpec{enc: 1, ch: 2, rate: rate, bits: 16, data: data}.bytes())
	require.NoError(t, err)
	require.InDelta(t, 0.16, ToneLevel(got, 440, audio.SampleRate), 0.005)
	require.Less(t, ToneLevel(got, 1000, audio.SampleRate), 0.0001)
}

func TestWAVUnsupported(t *testing.T) {
	tests := []struct {
		name string
		file []byte
	}{
		{"float", wavSpec{enc: 3, ch: 1, rate: 8000, bits: 32}.bytes()},
		{"extensible float", wavSpec{enc: 3, ch: 1, rate: 8000, bits: 32, extensible: true}.bytes()},
		{"ADPCM", wavSpec{enc: 2, ch: 1, rate: 8000, bits: 4, blockAlign: 256}.bytes()},
		{"GSM", wavSpec{enc: 0x31, ch: 1, rate: 8000, bits: 0x10}.bytes()},
		{"12-bit PCM", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 12, blockAlign: 2}.bytes()},
		{"16-bit A-law", wavSpec{enc: 6, ch: 1, rate: 8000, bits: 16}.bytes()},
		{"9 channels", wavSpec{enc: 1, ch: 9, rate: 8000, bits: 16}.bytes()},
		{"2 kHz", wavSpec{enc: 1, ch: 1, rate: 2000, bits: 16}.bytes()},
		{"384 kHz", wavSpec{enc: 1, ch: 1, rate: 384000, bits: 16}.bytes()},
		{"unknown GUID", wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, extensible: true, guidTail: "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x72"}.bytes()},
		{"RF64", append([]byte("RF64\xff\xff\xff\xffWAVE"), wavChunk("ds64", make([]byte, 28))...)},
		{"big-endian RIFX", append([]byte("RIFX"), wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, data: wavPCM16(1, 2)}.bytes()[4:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.file))
			require.ErrorIs(t, err, ErrUnsupported)
			var ue *UnsupportedError
			require.ErrorAs(t, err, &ue)
			require.NotEmpty(t, ue.Reason)
			require.Contains(t, err.Error(), ue.Reason)
			require.NotErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestWAVMalformed(t *testing.T) {
	good := wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, data: wavPCM16(1, 2)}.bytes()
	dataBeforeFmt := append([]byte("RIFF\x00\x00\x00\x00WAVE"), wavChunk("data", wavPCM16(1))...)
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not RIFF", append([]byte("JUNK"), good[4:]...)},
		{"AIFF", append([]byte("FORM\x00\x00\x00\x00AIFF"), good[12:]...)},
		{"RIFF but not WAVE", append(append([]byte{}, good[:8]...), append([]byte("AVI "), good[12:]...)...)},
		{"data before fmt", dataBeforeFmt},
		{"short fmt", append([]byte("RIFF\x00\x00\x00\x00WAVE"), wavChunk("fmt ", make([]byte, 14))...)},
		{"huge fmt", append([]byte("RIFF\x00\x00\x00\x00WAVE"), wavChunk("fmt ", make([]byte, 2000))...)},
		{"zero channels", wavSpec{enc: 1, ch: 0, rate: 8000, bits: 16, blockAlign: 2}.bytes()},
		{"zero rate", wavSpec{enc: 1, ch: 1, rate: 0, bits: 16}.bytes()},
		{"block align mismatch", wavSpec{enc: 1, ch: 2, rate: 8000, bits: 16, blockAlign: 2}.bytes()},
		{"short extensible", func() []byte {
			s := wavSpec{enc: 1, ch: 1, rate: 8000, bits: 16, extensible: true}.bytes()
			binary.LittleEndian.PutUint16(s[12+8+16:], 0) // cbSize 0
			return s
		}()},
		{"unknown chunk cut short", append([]byte("RIFF\x00\x00\x00\x00WAVE"), []byte("LIST\xff\x00\x00\x00abc")...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.file))
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// Every prefix of a valid file is an error: in the header, from
// NewReader; in the data, after the complete samples before the cut.
func TestWAVTruncated(t *testing.T) {
	samples := []int16{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, rate := range []uint32{8000, 11025} {
		file := wavSpec{enc: 1, ch: 1, rate: rate, bits: 16, before: wavChunk("LIST", []byte("abc")), data: wavPCM16(samples...)}.bytes()
		dataStart := len(file) - 2*len(samples)
		for n := range len(file) {
			got, err := wavReadAll(t, file[:n])
			require.ErrorIsf(t, err, ErrMalformed, "prefix %d", n)
			require.ErrorIsf(t, err, io.ErrUnexpectedEOF, "prefix %d", n)
			if n >= dataStart && rate == 8000 {
				require.Equal(t, samples[:(n-dataStart)/2], got, "prefix %d", n)
			}
		}
		_, err := wavReadAll(t, file)
		require.NoError(t, err)
	}
}

type wavOneByteReader struct{ r io.Reader }

func (o wavOneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

type wavStuckReader struct{}

func (wavStuckReader) Read([]byte) (int, error) { return 0, nil }

func TestWAVReaderShortReads(t *testing.T) {
	samples := make([]int16, 1000)
	for i := range samples {
		samples[i] = int16(i * 31)
	}
	file, err := Append(nil, samples)
	require.NoError(t, err)
	r, err := NewReader(wavOneByteReader{bytes.NewReader(file)})
	require.NoError(t, err)
	got := make([]int16, 2000)
	n, err := r.Read(got)
	require.NoError(t, err)
	require.Equal(t, samples, got[:n])
	n, err = r.Read(got)
	require.Zero(t, n)
	require.Equal(t, io.EOF, err)

	r, err = NewReader(io.MultiReader(bytes.NewReader(file[:HeaderSize]), wavStuckReader{}))
	require.NoError(t, err)
	_, err = r.Read(got)
	require.ErrorIs(t, err, io.ErrNoProgress)
}

func TestWAVReadFrames(t *testing.T) {
	samples := make([]int16, 400)
	for i := range samples {
		samples[i] = int16(i)
	}
	file, err := Append(nil, samples)
	require.NoError(t, err)
	r, err := NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	var sizes []int
	frame := make([]int16, 0, audio.FrameSamples)
	for {
		frame, err = r.ReadFrame(frame[:0])
		if err == io.EOF {
			require.Empty(t, frame)
			break
		}
		require.NoError(t, err)
		sizes = append(sizes, len(frame))
	}
	require.Equal(t, []int{160, 160, 80}, sizes)

	long, err := Append(nil, make([]int16, 200*audio.FrameSamples))
	require.NoError(t, err)
	r, err = NewReader(bytes.NewReader(long))
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(100, func() { frame, _ = r.ReadFrame(frame[:0]) }))
	require.Len(t, frame, audio.FrameSamples)
}

func FuzzWAV(f *testing.F) {
	seed, _ := Append(nil, []int16{1, -1, 300, -300})
	f.Add(seed)
	f.Add(wavSpec{enc: 1, ch: 2, rate: 44100, bits: 16, data: wavPCM16(1, 2, 3, 4, 5, 6)}.bytes())
	f.Add(wavSpec{enc: 7, ch: 1, rate: 8000, bits: 8, extensible: true, data: []byte{1, 2, 3}}.bytes())
	f.Add(wavSpec{enc: 1, ch: 1, rate: 4000, bits: 8, before: wavChunk("LIST", []byte("x")), data: []byte{1, 2, 3}, dataSize: 0xFFFFFFFF}.bytes())
	f.Add(wavSpec{enc: 3, ch: 1, rate: 8000, bits: 32}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		got, err := wavReadAll(t, b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("untyped read error: %v", err)
		}
		// Output length follows the input: at most 2 output samples per
		// source sample (4 kHz minimum) plus one.
		if limit := 2*len(b) + 1; len(got) > limit {
			t.Fatalf("%d samples from %d bytes", len(got), len(b))
		}
		// A 16-bit mono 8 kHz file re-encodes to one that reads the same.
		if f := r.Format(); f.Encoding == FormatPCM && f.Channels == 1 && f.SampleRate == 8000 && f.BitsPerSample == 16 {
			again, err := Append(nil, got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := wavReadAll(t, again)
			if err != nil || !slices.Equal(back, got) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
