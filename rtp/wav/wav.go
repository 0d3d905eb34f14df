package wav

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
)

// WAVE format codes (the fmt chunk's wFormatTag) this package knows.
const (
	FormatPCM        = 0x0001
	FormatIEEEFloat  = 0x0003
	FormatALaw       = 0x0006
	FormatMuLaw      = 0x0007
	FormatExtensible = 0xFFFE
)

// WAV limits.
const (
	// HeaderSize is the size of the header NewWriter and Append
	// write: RIFF, fmt (16 bytes) and data chunk headers.
	HeaderSize = 44
	// MaxChannels is the most channels the reader downmixes.
	MaxChannels = 8
	// MinSampleRate and MaxSampleRate bound the sample rates the
	// reader resamples to 8 kHz.
	MinSampleRate = 4000
	MaxSampleRate = 192000
	// MaxFmtSize bounds the fmt chunk the reader accepts.
	MaxFmtSize = 1024
	// MaxDataSize is the most audio data bytes a RIFF file can hold
	// after the HeaderSize-byte header.
	MaxDataSize = 0xFFFFFFFF - (HeaderSize - 8)
)

// WAV errors.
var (
	// ErrMalformed reports a file that is not a valid RIFF/WAVE file,
	// including a truncated one.
	ErrMalformed = errors.New("wav: malformed WAV file")
	// ErrUnsupported reports a valid WAV file whose encoding the reader
	// cannot convert; the error is a *UnsupportedError.
	ErrUnsupported = errors.New("wav: unsupported WAV encoding")
	// ErrTooLarge reports a write beyond MaxDataSize.
	ErrTooLarge = errors.New("wav: WAV data exceeds 4 GiB")
	// ErrClosed reports a write to a closed Writer.
	ErrClosed = errors.New("wav: WAV writer closed")
)

// Format is the audio format of a WAV file, from its fmt chunk.
type Format struct {
	// Encoding is the format code; for WAVE_FORMAT_EXTENSIBLE it is the
	// code of the subformat GUID.
	Encoding uint16
	// Channels is the number of interleaved channels.
	Channels uint16
	// SampleRate in Hz.
	SampleRate uint32
	// BitsPerSample of one channel's sample.
	BitsPerSample uint16
	// BlockAlign is the size in bytes of one sample of all channels.
	BlockAlign uint16
}

// UnsupportedError reports a WAV format the reader cannot convert, such as
// floating point, ADPCM or more than MaxChannels channels. It matches
// ErrUnsupported with errors.Is.
type UnsupportedError struct {
	Format Format
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("rtp: unsupported WAV encoding: %s (format %#04x, %d channels, %d Hz, %d bits)",
		e.Reason, e.Format.Encoding, e.Format.Channels, e.Format.SampleRate, e.Format.BitsPerSample)
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// wavSubformatTail is the part of the KSDATAFORMAT_SUBTYPE GUIDs after the
// 16-bit format code: {xxxxxxxx-0000-0010-8000-00AA00389B71}.
const wavSubformatTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// Reader reads a RIFF/WAVE file as 16-bit mono samples at 8 kHz
// (audio.SampleRate): 8-, 16-, 24- and 32-bit integer PCM and G.711 A-law and
// μ-law, in up to MaxChannels channels (averaged to mono) and at any rate
// from MinSampleRate to MaxSampleRate (resampled by linear
// interpolation, without an anti-aliasing filter). Chunks other than fmt and
// data are skipped. A data chunk size of 0xFFFFFFFF, as streaming writers
// leave it, means "until the end of the input".
//
// A Reader is not safe for concurrent use.
type Reader struct {
	r      io.Reader
	format Format
	left   int64 // data bytes left; -1: until EOF
	buf    []byte
	pos    int // read position in buf
	end    int // end of valid bytes in buf
	err    error

	// Linear resampler state: s0 and s1 are consecutive source samples,
	// acc/audio.SampleRate the output position between them.
	started      bool
	have0, have1 bool
	s0, s1       int16
	acc          uint32
	outRate      uint32 // output sample rate; 0 means audio.SampleRate (rate.go)
	begun        bool   // a sample was read: the output rate is fixed
}

// NewReader reads the header of a WAV file from r, up to the start of its
// audio data. Structural errors wrap ErrMalformed (and io.ErrUnexpectedEOF
// when the input ends early); a format it cannot convert gives a
// *UnsupportedError.
func NewReader(r io.Reader) (*Reader, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, wavTruncated("RIFF header", err)
	}
	if string(hdr[8:12]) != "WAVE" || (string(hdr[0:4]) != "RIFF" && string(hdr[0:4]) != "RF64" && string(hdr[0:4]) != "RIFX") {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrMalformed)
	}
	if string(hdr[0:4]) != "RIFF" {
		return nil, &UnsupportedError{Reason: string(hdr[0:4]) + " container"}
	}
	var (
		format  Format
		haveFmt bool
		fmtBuf  [MaxFmtSize]byte
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, wavTruncated("chunk header", err)
		}
		id := string(ch[:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "fmt ":
			if size < 16 || size > MaxFmtSize {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrMalformed, size)
			}
			if _, err := io.ReadFull(r, fmtBuf[:size+size&1]); err != nil {
				// The pad byte of a final odd chunk may be missing.
				if !(size&1 == 1 && errors.Is(err, io.ErrUnexpectedEOF)) {
					return nil, wavTruncated("fmt chunk", err)
				}
			}
			f, err := wavParseFmt(fmtBuf[:size])
			if err != nil {
				return nil, err
			}
			format, haveFmt = f, true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrMalformed)
			}
			left := size
			if size == 0xFFFFFFFF {
				left = -1
			}
			blk := int(format.BlockAlign)
			return &Reader{r: r, format: format, left: left, buf: make([]byte, (4096/blk)*blk)}, nil
		default:
			if _, err := io.CopyN(io.Discard, r, size+size&1); err != nil {
				return nil, wavTruncated(fmt.Sprintf("%q chunk", id), err)
			}
		}
	}
}

func wavTruncated(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
}

// wavParseFmt validates a fmt chunk body.
func wavParseFmt(b []byte) (Format, error) {
	f := Format{
		Encoding:      binary.LittleEndian.Uint16(b[0:]),
		Channels:      binary.LittleEndian.Uint16(b[2:]),
		SampleRate:    binary.LittleEndian.Uint32(b[4:]),
		BlockAlign:    binary.LittleEndian.Uint16(b[12:]),
		BitsPerSample: binary.LittleEndian.Uint16(b[14:]),
	}
	if f.Encoding == FormatExtensible {
		// WAVEFORMATEXTENSIBLE: cbSize (2), valid bits (2), channel mask
		// (4), subformat GUID (16).
		if len(b) < 40 || binary.LittleEndian.Uint16(b[16:]) < 22 {
			return f, fmt.Errorf("%w: short WAVE_FORMAT_EXTENSIBLE fmt chunk", ErrMalformed)
		}
		f.Encoding = binary.LittleEndian.Uint16(b[24:])
		if string(b[26:40]) != wavSubformatTail {
			return f, &UnsupportedError{Format: f, Reason: "unknown subformat GUID"}
		}
	}
	if f.Channels == 0 || f.SampleRate == 0 || f.BitsPerSample == 0 {
		return f, fmt.Errorf("%w: %d channels, %d Hz, %d bits", ErrMalformed, f.Channels, f.SampleRate, f.BitsPerSample)
	}
	switch f.Encoding {
	case FormatPCM:
		switch f.BitsPerSample {
		case 8, 16, 24, 32:
		default:
			return f, &UnsupportedError{Format: f, Reason: "PCM sample size"}
		}
	case FormatALaw, FormatMuLaw:
		if f.BitsPerSample != 8 {
			return f, &UnsupportedError{Format: f, Reason: "G.711 sample size"}
		}
	case FormatIEEEFloat:
		return f, &UnsupportedError{Format: f, Reason: "floating point"}
	default:
		return f, &UnsupportedError{Format: f, Reason: "compressed or unknown encoding"}
	}
	if int(f.BlockAlign) != int(f.Channels)*int(f.BitsPerSample/8) {
		return f, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrMalformed, f.BlockAlign, f.Channels, f.BitsPerSample)
	}
	if f.Channels > MaxChannels {
		return f, &UnsupportedError{Format: f, Reason: "too many channels"}
	}
	if f.SampleRate < MinSampleRate || f.SampleRate > MaxSampleRate {
		return f, &UnsupportedError{Format: f, Reason: "sample rate"}
	}
	return f, nil
}

// Format returns the format of the file as stored, before conversion.
func (r *Reader) Format() Format { return r.format }

// Read fills dst with converted samples (mono, 8 kHz) and returns how many it
// wrote. At the clean end of the data it returns io.EOF with n == 0; if the
// data chunk is cut short it returns the samples before the cut and an error
// wrapping ErrMalformed and io.ErrUnexpectedEOF.
func (r *Reader) Read(dst []int16) (n int, err error) {
	for n < len(dst) {
		s, err := r.next()
		if err != nil {
			if err == io.EOF && n > 0 {
				return n, nil
			}
			return n, err
		}
		dst[n] = s
		n++
	}
	return n, nil
}

// ReadFrame appends up to audio.FrameSamples converted samples to dst and
// returns the extended slice, so a Reader is a frame source like
// ToneGenerator. The last frame may be short; the caller pads it if needed.
// Errors are those of Read. It does not allocate when dst has room for a
// frame.
func (r *Reader) ReadFrame(dst []int16) ([]int16, error) {
	l := len(dst)
	fs := r.frameSamples()
	dst = slices.Grow(dst, fs)[:len(dst)+fs]
	n, err := r.Read(dst[l:])
	return dst[:l+n], err
}

// next returns the next output sample.
func (r *Reader) next() (int16, error) {
	r.begun = true
	out := r.rate()
	if r.format.SampleRate == out {
		return r.source()
	}
	if !r.started {
		r.started = true
		s, err := r.source()
		if err != nil {
			r.err = err
		} else {
			r.s0, r.have0 = s, true
			r.fetch1()
		}
	}
	if !r.have0 {
		return 0, r.err
	}
	v := r.s0
	if r.acc != 0 {
		if !r.have1 {
			r.have0 = false
			return 0, r.err
		}
		v = int16(int32(r.s0) + int32((int64(r.s1)-int64(r.s0))*int64(r.acc)/int64(out)))
	}
	r.acc += r.format.SampleRate
	for r.acc >= out {
		r.acc -= out
		if !r.have1 {
			r.have0 = false
			break
		}
		r.s0 = r.s1
		r.fetch1()
	}
	return v, nil
}

func (r *Reader) fetch1() {
	s, err := r.source()
	if err != nil {
		r.have1 = false
		r.err = err
		return
	}
	r.s1, r.have1 = s, true
}

// source returns the next source sample, downmixed to mono.
func (r *Reader) source() (int16, error) {
	blk := int(r.format.BlockAlign)
	if r.end-r.pos < blk {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.pos : r.pos+blk]
	r.pos += blk
	ch := int(r.format.Channels)
	width := blk / ch
	var sum int32
	for c := range ch {
		sum += int32(wavDecode(r.format.Encoding, b[c*width:(c+1)*width]))
	}
	return int16(sum / int32(ch)), nil
}

// wavDecode converts one channel sample to 16-bit linear.
func wavDecode(enc uint16, b []byte) int16 {
	switch enc {
	case FormatALaw:
		return g711.DecodeALawSample(b[0])
	case FormatMuLaw:
		return g711.DecodeULawSample(b[0])
	}
	switch len(b) {
	case 1:
		return (int16(b[0]) - 128) << 8 // 8-bit PCM is unsigned
	default:
		// Little-endian signed: the two most significant bytes.
		return int16(binary.LittleEndian.Uint16(b[len(b)-2:]))
	}
}

// fill moves the unread bytes to the start of buf and reads until it holds
// at least one block from the data chunk. Errors are sticky: the blocks
// already buffered are delivered first.
func (r *Reader) fill() error {
	if r.err != nil {
		return r.err
	}
	blk := int(r.format.BlockAlign)
	n := copy(r.buf, r.buf[r.pos:r.end])
	r.pos, r.end = 0, n
	for empty := 0; r.end < blk; {
		if r.left == 0 {
			// A partial block at the end of the data is ignored.
			r.err = io.EOF
			return r.err
		}
		want := len(r.buf) - r.end
		if r.left > 0 {
			want = int(min(int64(want), r.left))
		}
		m, err := r.r.Read(r.buf[r.end : r.end+want])
		r.end += m
		if r.left > 0 {
			r.left -= int64(m)
		}
		if err != nil {
			switch {
			case err == io.EOF && r.left > 0:
				r.err = wavTruncated("data chunk", err)
			case err == io.EOF:
				r.err = io.EOF
			default:
				r.err = fmt.Errorf("rtp: reading WAV data: %w", err)
			}
			if r.end >= blk {
				return nil
			}
			return r.err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				r.err = io.ErrNoProgress
				return r.err
			}
		}
	}
	return nil
}

// wavAppendHeader appends the 44-byte header of a 16-bit mono 8 kHz PCM file
// with dataBytes of audio.
func wavAppendHeader(dst []byte, dataBytes uint32) []byte {
	return wavAppendHeaderRate(dst, dataBytes, audio.SampleRate)
}

// wavAppendHeaderRate is wavAppendHeader at sample rate rate.
func wavAppendHeaderRate(dst []byte, dataBytes, rate uint32) []byte {
	le := binary.LittleEndian
	dst = append(dst, "RIFF"...)
	dst = le.AppendUint32(dst, dataBytes+HeaderSize-8)
	dst = append(dst, "WAVEfmt "...)
	dst = le.AppendUint32(dst, 16)
	dst = le.AppendUint16(dst, FormatPCM)
	dst = le.AppendUint16(dst, 1)      // channels
	dst = le.AppendUint32(dst, rate)   // sample rate
	dst = le.AppendUint32(dst, rate*2) // byte rate
	dst = le.AppendUint16(dst, 2)      // block align
	dst = le.AppendUint16(dst, 16)     // bits per sample
	dst = append(dst, "data"...)
	return le.AppendUint32(dst, dataBytes)
}

func wavAppendSamples(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}

// Append appends a complete WAV file (16-bit PCM, mono, 8 kHz) holding
// samples to dst and returns the extended slice. More than MaxDataSize
// bytes of samples give ErrTooLarge.
func Append(dst []byte, samples []int16) ([]byte, error) {
	if int64(len(samples))*2 > MaxDataSize {
		return dst, ErrTooLarge
	}
	dst = wavAppendHeader(dst, uint32(len(samples)*2))
	return wavAppendSamples(dst, samples), nil
}

// Writer writes a 16-bit PCM mono 8 kHz WAV file as samples arrive. It
// writes the header first with zero sizes and patches the RIFF and data sizes
// on Close, so the file is complete only after Close (a reader treats the
// zero-size data chunk of an unclosed file as empty). A Writer is not safe
// for concurrent use.
type Writer struct {
	w      io.WriteSeeker
	start  int64 // offset of the header
	data   int64 // audio bytes written
	buf    []byte
	err    error
	closed bool
	rate   uint32 // sample rate of the header; 0 means audio.SampleRate
}

// NewWriter writes a WAV header at w's current offset and returns a writer
// for the samples.
func NewWriter(w io.WriteSeeker) (*Writer, error) {
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	if _, err := w.Write(wavAppendHeader(nil, 0)); err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	return &Writer{w: w, start: start}, nil
}

// WriteSamples appends samples to the data chunk. Writing beyond
// MaxDataSize gives ErrTooLarge; after an error or Close every call
// fails. It does not allocate once its internal buffer has grown to the
// largest batch.
func (w *Writer) WriteSamples(samples []int16) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.data+2*int64(len(samples)) > MaxDataSize {
		return ErrTooLarge
	}
	w.buf = wavAppendSamples(w.buf[:0], samples)
	n, err := w.w.Write(w.buf)
	w.data += int64(n)
	if err != nil {
		w.err = fmt.Errorf("rtp: WAV writer: %w", err)
		return w.err
	}
	return nil
}

// Close patches the RIFF and data chunk sizes in the header and leaves w's
// offset at the end of the file. It does not close w. A second Close does
// nothing and returns nil.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	hdr := wavAppendHeaderRate(nil, uint32(w.data), cmp.Or(w.rate, audio.SampleRate))
	for _, f := range []struct {
		off int64
		b   []byte
	}{{4, hdr[4:8]}, {40, hdr[40:44]}} {
		if _, err := w.w.Seek(w.start+f.off, io.SeekStart); err != nil {
			return fmt.Errorf("rtp: WAV writer: %w", err)
		}
		if _, err := w.w.Write(f.b); err != nil {
			return fmt.Errorf("rtp: WAV writer: %w", err)
		}
	}
	if _, err := w.w.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("rtp: WAV writer: %w", err)
	}
	return w.err
}
