package wav

import (
	"fmt"
	"io"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
)

// Sample rates other than 8 kHz: a G.722 call's audio is at 16 kHz
// (rtp.Session.SampleRate), and a Reader or Writer follows the call's rate
// when told it.

// SetOutputRate makes the Reader convert to rate Hz (MinSampleRate to
// MaxSampleRate) instead of audio.SampleRate; call it before the first
// read. ReadFrame then gives 20 ms frames at that rate (320 samples at
// 16 kHz).
func (r *Reader) SetOutputRate(rate int) error {
	if rate < MinSampleRate || rate > MaxSampleRate {
		return fmt.Errorf("%w: output rate %d Hz not in %d..%d", ErrUnsupported, rate, MinSampleRate, MaxSampleRate)
	}
	if r.begun {
		return fmt.Errorf("%w: output rate set after reading", ErrUnsupported)
	}
	r.outRate = uint32(rate)
	return nil
}

// OutputRate returns the rate the Reader converts to.
func (r *Reader) OutputRate() int { return int(r.rate()) }

func (r *Reader) rate() uint32 {
	if r.outRate == 0 {
		return audio.SampleRate
	}
	return r.outRate
}

// frameSamples is audio.FrameDuration at the output rate.
func (r *Reader) frameSamples() int {
	return int(time.Duration(r.rate()) * audio.FrameDuration / time.Second)
}

// NewWriterRate is NewWriter for a file at rate Hz (MinSampleRate to
// MaxSampleRate), e.g. 16000 to record a G.722 call as it is.
func NewWriterRate(w io.WriteSeeker, rate int) (*Writer, error) {
	if rate < MinSampleRate || rate > MaxSampleRate {
		return nil, fmt.Errorf("%w: rate %d Hz not in %d..%d", ErrUnsupported, rate, MinSampleRate, MaxSampleRate)
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	if _, err := w.Write(wavAppendHeaderRate(nil, 0, uint32(rate))); err != nil {
		return nil, fmt.Errorf("rtp: WAV writer: %w", err)
	}
	return &Writer{w: w, start: start, rate: uint32(rate)}, nil
}
