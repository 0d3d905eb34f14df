//go:build !opus || !cgo

package opus

// Available reports whether this build has Opus (the build tag opus, cgo
// and libopus).
const Available = false

// Encoder is an Opus encoder; in this build (without the tag opus) none
// can be made.
type Encoder struct{}

// Decoder is an Opus decoder; in this build (without the tag opus) none
// can be made.
type Decoder struct{}

// NewEncoder returns an error wrapping ErrUnavailable: this build has no
// Opus.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return nil, ErrUnavailable
}

// NewDecoder returns an error wrapping ErrUnavailable: this build has no
// Opus.
func NewDecoder() (*Decoder, error) { return NewDecoderRate(SampleRate) }

// NewDecoderRate returns an error wrapping ErrUnavailable (ErrCodec for a
// rate libopus does not code at): this build has no Opus.
func NewDecoderRate(rate int) (*Decoder, error) {
	if _, err := checkRate(rate); err != nil {
		return nil, err
	}
	return nil, ErrUnavailable
}

// SampleRate returns 0: no decoder of this build decodes.
func (d *Decoder) SampleRate() int { return 0 }

// Encode returns ErrUnavailable.
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) { return dst, ErrUnavailable }

// Close does nothing.
func (e *Encoder) Close() error { return nil }

// Decode returns ErrUnavailable.
func (d *Decoder) Decode(dst []int16, payload []byte) ([]int16, error) { return dst, ErrUnavailable }

// DecodeFEC returns ErrUnavailable.
func (d *Decoder) DecodeFEC(dst []int16, next []byte, samples int) ([]int16, error) {
	return dst, ErrUnavailable
}

// Conceal returns ErrUnavailable.
func (d *Decoder) Conceal(dst []int16, samples int) ([]int16, error) { return dst, ErrUnavailable }

// Close does nothing.
func (d *Decoder) Close() error { return nil }
