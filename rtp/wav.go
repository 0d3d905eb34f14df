package rtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WAVE format codes (the fmt chunk's wFormatTag) this package knows.
const (
	WAVFormatPCM        = 0x0001
	WAVFormatIEEEFloat  = 0x0003
	WAVFormatALaw       = 0x0006
	WAVFormatMuLaw      = 0x0007
	WAVFormatExtensible = 0xFFFE
)

// WAV limits.
const (
	// WAVHeaderSize is the size of the header NewWAVWriter and AppendWAV
	// write: RIFF, fmt (16 bytes) and data chunk headers.
	WAVHeaderSize = 44
	// WAVMaxChannels is the most channels the reader downmixes.
	WAVMaxChannels = 8
	// WAVMinSampleRate and WAVMaxSampleRate bound the sample rates the
	// reader resamples to 8 kHz.
	WAVMinSampleRate = 4000
	WAVMaxSampleRate = 192000
	// WAVMaxFmtSize bounds the fmt chunk the reader accepts.
	WAVMaxFmtSize = 1024
	// WAVMaxDataSize is the most audio data bytes a RIFF file can hold
	// after the WAVHeaderSize-byte header.
	WAVMaxDataSize = 0xFFFFFFFF - (WAVHeaderSize - 8)
)

// WAV errors.
var (
	// ErrWAVMalformed reports a file that is not a valid RIFF/WAVE file,
	// including a truncated one.
	ErrWAVMalformed = errors.New("rtp: malformed WAV file")
	// ErrWAVUnsupported reports a valid WAV file whose encoding the reader
	// cannot convert; the error is a *WAVUnsupportedError.
	ErrWAVUnsupported = errors.New("rtp: unsupported WAV encoding")
	// ErrWAVTooLarge reports a write beyond WAVMaxDataSize.
	ErrWAVTooLarge = errors.New("rtp: WAV data exceeds 4 GiB")
	// ErrWAVClosed reports a write to a closed WAVWriter.
	ErrWAVClosed = errors.New("rtp: WAV writer closed")
)

// WAVFormat is the audio format of a WAV file, from its fmt chunk.
type WAVFormat struct {
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

// WAVUnsupportedError reports a WAV format the reader cannot convert, such as
// floating point, ADPCM or more than WAVMaxChannels channels. It matches
// ErrWAVUnsupported with errors.Is.
type WAVUnsupportedError struct {
	Format WAVFormat
	Reason string
}

func (e *WAVUnsupportedError) Error() string {
	return fmt.Sprintf("rtp: unsupported WAV encoding: %s (format %#04x, %d channels, %d Hz, %d bits)",
		e.Reason, e.Format.Encoding, e.Format.Channels, e.Format.SampleRate, e.Format.BitsPerSample)
}

// Is reports whether target is ErrWAVUnsupported.
func (e *WAVUnsupportedError) Is(target error) bool { return target == ErrWAVUnsupported }

// wavSubformatTail is the part of the KSDATAFORMAT_SUBTYPE GUIDs after the
// 16-bit format code: {xxxxxxxx-0000-0010-8000-00AA00389B71}.
const wavSubformatTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// WAVReader reads a RIFF/WAVE file as 16-bit mono samples at 8 kHz
// (AudioSampleRate): 8-, 16-, 24- and 32-bit integer PCM and G.711 A-law and
// μ-law, in up to WAVMaxChannels channels (averaged to mono) and at any rate
// from WAVMinSampleRate to WAVMaxSampleRate (resampled by linear
// interpolation, without an anti-aliasing filter). Chunks other than fmt and
// data are skipped. A data chunk size of 0xFFFFFFFF, as streaming writers
// leave it, means "until the end of the input".
//
// A WAVReader is not safe for concurrent use.
type WAVReader struct {
	r      io.Reader
	format WAVFormat
	left   int64 // data bytes left; -1: until EOF
	buf    []byte
	pos    int // read position in buf
	end    int // end of valid bytes in buf
	err    error

	// Linear resampler state: s0 and s1 are consecutive source samples,
	// acc/AudioSampleRate the output position between them.
	started      bool
	have0, have1 bool
	s0, s1       int16
	acc          uint32
}

// NewWAVReader reads the header of a WAV file from r, up to the start of its
// audio data. Structural errors wrap ErrWAVMalformed (and io.ErrUnexpectedEOF
// when the input ends early); a format it cannot convert gives a
// *WAVUnsupportedError.
func NewWAVReader(r io.Reader) (*WAVReader, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, wavTruncated("RIFF header", err)
	}
	if string(hdr[8:12]) != "WAVE" || (string(hdr[0:4]) != "RIFF" && string(hdr[0:4]) != "RF64" && string(hdr[0:4]) != "RIFX") {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrWAVMalformed)
	}
	if string(hdr[0:4]) != "RIFF" {
		return nil, &WAVUnsupportedError{Reason: string(hdr[0:4]) + " container"}
	}
	var (
		format  WAVFormat
		haveFmt bool
		fmtBuf  [WAVMaxFmtSize]byte
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
			if size < 16 || size > WAVMaxFmtSize {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrWAVMalformed, size)
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
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrWAVMalformed)
			}
			left := size
			if size == 0xFFFFFFFF {
				left = -1
			}
			blk := int(format.BlockAlign)
			return &WAVReader{r: r, format: format, left: left, buf: make([]byte, (4096/blk)*blk)}, nil
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
	return fmt.Errorf("%w: %s: %w", ErrWAVMalformed, what, err)
}

// wavParseFmt validates a fmt chunk body.
func wavParseFmt(b []byte) (WAVFormat, error) {
	f := WAVFormat{
		Encoding:      binary.LittleEndian.Uint16(b[0:]),
		Channels:      binary.LittleEndian.Uint16(b[2:]),
		SampleRate:    binary.LittleEndian.Uint32(b[4:]),
		BlockAlign:    binary.LittleEndian.Uint16(b[12:]),
		BitsPerSample: binary.LittleEndian.Uint16(b[14:]),
	}
	if f.Encoding == WAVFormatExtensible {
		// WAVEFORMATEXTENSIBLE: cbSize (2), valid bits (2), channel mask
		// (4), subformat GUID (16).
		if len(b) < 40 || binary.LittleEndian.Uint16(b[16:]) < 22 {
			return f, fmt.Errorf("%w: short WAVE_FORMAT_EXTENSIBLE fmt chunk", ErrWAVMalformed)
		}
		f.Encoding = binary.LittleEndian.Uint16(b[24:])
		if string(b[26:40]) != wavSubformatTail {
			return f, &WAVUnsupportedError{Format: f, Reason: "unknown subformat GUID"}
		}
	}
	if f.Channels == 0 || f.SampleRate == 0 || f.BitsPerSample == 0 {
		return f, fmt.Errorf("%w: %d channels, %d Hz, %d bits", ErrWAVMalformed, f.Channels, f.SampleRate, f.BitsPerSample)
	}
	switch f.Encoding {
	case WAVFormatPCM:
		switch f.BitsPerSample {
		case 8, 16, 24, 32:
		default:
			return f, &WAVUnsupportedError{Format: f, Reason: "PCM sample size"}
		}
	case WAVFormatALaw, WAVFormatMuLaw:
		if f.BitsPerSample != 8 {
			return f, &WAVUnsupportedError{Format: f, Reason: "G.711 sample size"}
		}
	case WAVFormatIEEEFloat:
		return f, &WAVUnsupportedError{Format: f, Reason: "floating point"}
	default:
		return f, &WAVUnsupportedError{Format: f, Reason: "compressed or unknown encoding"}
	}
	if int(f.BlockAlign) != int(f.Channels)*int(f.BitsPerSample/8) {
		return f, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrWAVMalformed, f.BlockAlign, f.Channels, f.BitsPerSample)
	}
	if f.Channels > WAVMaxChannels {
		return f, &WAVUnsupportedError{Format: f, Reason: "too many channels"}
	}
	if f.SampleRate < WAVMinSampleRate || f.SampleRate > WAVMaxSampleRate {
		return f, &WAVUnsupportedError{Format: f, Reason: "sample rate"}
	}
	return f, nil
}

// Format returns the format of the file as stored, before conversion.
func (r *WAVReader) Format() WAVFormat { return r.format }

// Read fills dst with converted samples (mono, 8 kHz) and returns how many it
// wrote. At the clean end of the data it returns io.EOF with n == 0; if the
// data chunk is cut short it returns the samples before the cut and an error
// wrapping ErrWAVMalformed and io.ErrUnexpectedEOF.
func (r *WAVReader) Read(dst []int16) (n int, err error) {
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

// ReadFrame appends up to AudioFrameSamples converted samples to dst and
// returns the extended slice, so a WAVReader is a frame source like
// ToneGenerator. The last frame may be short; the caller pads it if needed.
// Errors are those of Read. It does not allocate when dst has room for a
// frame.
func (r *WAVReader) ReadFrame(dst []int16) ([]int16, error) {
	l := len(dst)
	dst = mediaGrow(dst, AudioFrameSamples)
	n, err := r.Read(dst[l:])
	return dst[:l+n], err
}

// next returns the next output sample.
func (r *WAVReader) next() (int16, error) {
	if r.format.SampleRate == AudioSampleRate {
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
	out := r.s0
	if r.acc != 0 {
		if !r.have1 {
			r.have0 = false
			return 0, r.err
		}
		out = int16(int32(r.s0) + (int32(r.s1)-int32(r.s0))*int32(r.acc)/AudioSampleRate)
	}
	r.acc += r.format.SampleRate
	for r.acc >= AudioSampleRate {
		r.acc -= AudioSampleRate
		if !r.have1 {
			r.have0 = false
			break
		}
		r.s0 = r.s1
		r.fetch1()
	}
	return out, nil
}

func (r *WAVReader) fetch1() {
	s, err := r.source()
	if err != nil {
		r.have1 = false
		r.err = err
		return
	}
	r.s1, r.have1 = s, true
}

// source returns the next source sample, downmixed to mono.
func (r *WAVReader) source() (int16, error) {
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
	case WAVFormatALaw:
		return G711DecodeAlawSample(b[0])
	case WAVFormatMuLaw:
		return G711DecodeUlawSample(b[0])
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
func (r *WAVReader) fill() error {
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
	le := binary.LittleEndian
	dst = append(dst, "RIFF"...)
	dst = le.AppendUint32(dst, dataBytes+WAVHeaderSize-8)
	dst = append(dst, "WAVEfmt "...)
	dst = le.AppendUint32(dst, 16)
	dst = le.AppendUint16(dst, WAVFormatPCM)
	dst = le.AppendUint16(dst, 1)                 // channels
	dst = le.AppendUint32(dst, AudioSampleRate)   // sample rate
	dst = le.AppendUint32(dst, AudioSampleRate*2) // byte rate
	dst = le.AppendUint16(dst, 2)                 // block align
	dst = le.AppendUint16(dst, 16)                // bits per sample
	dst = append(dst, "data"...)
	return le.AppendUint32(dst, dataBytes)
}

func wavAppendSamples(dst []byte, samples []int16) []byte {
	for _, s := range samples {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}

// AppendWAV appends a complete WAV file (16-bit PCM, mono, 8 kHz) holding
// samples to dst and returns the extended slice. More than WAVMaxDataSize
// bytes of samples give ErrWAVTooLarge.
func AppendWAV(dst []byte, samples []int16) ([]byte, error) {
	if int64(len(samples))*2 > WAVMaxDataSize {
		return dst, ErrWAVTooLarge
	}
	dst = wavAppendHeader(dst, uint32(len(samples)*2))
	return wavAppendSamples(dst, samples), nil
}

// WAVWriter writes a 16-bit PCM mono 8 kHz WAV file as samples arrive. It
// writes the header first with zero sizes and patches the RIFF and data sizes
// on Close, so the file is complete only after Close (a reader treats the
// zero-size data chunk of an unclosed file as empty). A WAVWriter is not safe
// for concurrent use.
type WAVWriter struct {
	w      io.WriteSeeker
	start  int64 // offset of the header
	data   int64 // audio bytes written
	buf    []byte
	err    error
	closed bool
}

// NewWAVWriter writes a WAV header at w's current offset and returns a writer
// for the samples.
func NewWAVWriter(w io.WriteSeeker) (*WAVWriter, error) {
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	if _, err := w.Write(wavAppendHeader(nil, 0)); err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	return &WAVWriter{w: w, start: start}, nil
}

// WriteSamples appends samples to the data chunk. Writing beyond
// WAVMaxDataSize gives ErrWAVTooLarge; after an error or Close every call
// fails. It does not allocate once its internal buffer has grown to the
// largest batch.
func (w *WAVWriter) WriteSamples(samples []int16) error {
	if w.closed {
		return ErrWAVClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.data+2*int64(len(samples)) > WAVMaxDataSize {
		return ErrWAVTooLarge
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
func (w *WAVWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	hdr := wavAppendHeader(nil, uint32(w.data))
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
