//go:build opus && cgo

package opus

/*
#cgo pkg-config: opus
#include <opus.h>

// opus_encoder_ctl is variadic, which cgo cannot call: one wrapper per
// request.
static int dt_enc_set(OpusEncoder *e, int bitrate, int fec, int loss, int dtx) {
	int r;
	if ((r = opus_encoder_ctl(e, OPUS_SET_BITRATE(bitrate))) != OPUS_OK) return r;
	if ((r = opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(fec))) != OPUS_OK) return r;
	if ((r = opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(loss))) != OPUS_OK) return r;
	if ((r = opus_encoder_ctl(e, OPUS_SET_DTX(dtx))) != OPUS_OK) return r;
	return opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
}
*/
import "C"

import (
	"fmt"
	"slices"
	"unsafe"
)

// Available reports whether this build has Opus (the build tag opus, cgo
// and libopus).
const Available = true

// maxPacket is the largest packet an Encoder writes: RFC 6716 §3.2.1's
// limit for one frame (1275 octets) is ample for 60 ms at 510 kbit/s.
const maxPacket = 4000

func libErr(op string, code C.int) error {
	return fmt.Errorf("%w: %s: %s", ErrCodec, op, C.GoString(C.opus_strerror(code)))
}

// Encoder codes mono audio at its EncoderConfig.SampleRate (48 kHz by
// default) with libopus (application VoIP). It is not safe for
// concurrent use; Close frees libopus' state.
type Encoder struct {
	st  *C.OpusEncoder
	cfg EncoderConfig
}

// NewEncoder returns an encoder configured by cfg; a setting out of range
// gives an error wrapping ErrCodec.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var code C.int
	st := C.opus_encoder_create(C.opus_int32(cfg.SampleRate), 1, C.OPUS_APPLICATION_VOIP, &code)
	if code != C.OPUS_OK {
		return nil, libErr("create encoder", code)
	}
	if code := C.dt_enc_set(st, C.int(cfg.Bitrate), cbool(cfg.FEC), C.int(cfg.PacketLossPercent), cbool(cfg.DTX)); code != C.OPUS_OK {
		C.opus_encoder_destroy(st)
		return nil, libErr("configure encoder", code)
	}
	return &Encoder{st: st, cfg: cfg}, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Config returns the encoder's configuration, defaults filled in.
func (e *Encoder) Config() EncoderConfig { return e.cfg }

// Encode appends the packet of one frame (2.5, 5, 10, 20, 40 or 60 ms of
// samples at the encoder's rate: 320 for 20 ms at 16 kHz) to dst. With DTX, a silent frame may give a packet for which
// IsDTX is true.
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if e.st == nil {
		return dst, fmt.Errorf("%w: encoder closed", ErrCodec)
	}
	if !validFrame(len(pcm), e.cfg.SampleRate) {
		return dst, fmt.Errorf("%w: frame of %d samples at %d Hz is no Opus frame size", ErrCodec, len(pcm), e.cfg.SampleRate)
	}
	n := len(dst)
	dst = slices.Grow(dst, maxPacket)
	out := dst[n : n+maxPacket]
	r := C.opus_encode(e.st, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)),
		(*C.uchar)(unsafe.Pointer(&out[0])), maxPacket)
	if r < 0 {
		return dst[:n], libErr("encode", r)
	}
	return dst[:n+int(r)], nil
}

// Close frees the encoder; it is idempotent.
func (e *Encoder) Close() error {
	if e.st != nil {
		C.opus_encoder_destroy(e.st)
		e.st = nil
	}
	return nil
}

// maxFrameAt is the longest frame a packet may decode to at rate: 120 ms.
func maxFrameAt(rate int) int { return rate * 120 / 1000 }

// validFrame reports whether n samples at rate is a frame Opus codes:
// 2.5, 5, 10, 20, 40 or 60 ms.
func validFrame(n, rate int) bool {
	unit := rate / 400 // 2.5 ms
	if n <= 0 || n%unit != 0 {
		return false
	}
	switch n / unit {
	case 1, 2, 4, 8, 16, 24:
		return true
	}
	return false
}

// Decoder decodes Opus packets to mono audio at its rate (48 kHz from
// NewDecoder) with libopus, whatever the rate they were coded at. It is
// not safe for concurrent use; Close frees libopus' state.
type Decoder struct {
	st   *C.OpusDecoder
	rate int
}

// NewDecoder returns a decoder of 48 kHz audio (SampleRate).
func NewDecoder() (*Decoder, error) { return NewDecoderRate(SampleRate) }

// NewDecoderRate returns a decoder of audio at rate Hz: 8000, 12000,
// 16000, 24000 or 48000 (ValidSampleRate), so that a 20 ms packet decodes
// to 320 samples at 16 kHz; libopus converts internally. 0 means
// SampleRate; another rate gives an error wrapping ErrCodec.
func NewDecoderRate(rate int) (*Decoder, error) {
	rate, err := checkRate(rate)
	if err != nil {
		return nil, err
	}
	var code C.int
	st := C.opus_decoder_create(C.opus_int32(rate), 1, &code)
	if code != C.OPUS_OK {
		return nil, libErr("create decoder", code)
	}
	return &Decoder{st: st, rate: rate}, nil
}

// SampleRate returns the rate of the audio the decoder gives, in Hz.
func (d *Decoder) SampleRate() int { return d.rate }

// decode runs opus_decode into dst's spare capacity: data nil conceals
// samples samples; fec decodes the redundant copy in data of the packet
// before it.
func (d *Decoder) decode(dst []int16, data []byte, samples int, fec bool) ([]int16, error) {
	if d.st == nil {
		return dst, fmt.Errorf("%w: decoder closed", ErrCodec)
	}
	if samples <= 0 || samples > maxFrameAt(d.rate) {
		return dst, fmt.Errorf("%w: %d samples to decode", ErrCodec, samples)
	}
	n := len(dst)
	dst = slices.Grow(dst, samples)
	out := dst[n : n+samples]
	var p *C.uchar
	if len(data) > 0 {
		p = (*C.uchar)(unsafe.Pointer(&data[0]))
	}
	r := C.opus_decode(d.st, p, C.opus_int32(len(data)), (*C.opus_int16)(unsafe.Pointer(&out[0])), C.int(samples), cbool(fec))
	if r < 0 {
		return dst[:n], libErr("decode", r)
	}
	return dst[:n+int(r)], nil
}

// Decode appends the audio of one packet to dst. A malformed packet gives
// an error wrapping ErrCodec and appends nothing.
func (d *Decoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return dst, fmt.Errorf("%w: empty packet", ErrCodec)
	}
	return d.decode(dst, payload, maxFrameAt(d.rate), false)
}

// DecodeFEC appends samples samples of the packet lost just before next,
// rebuilt from next's in-band FEC data (or, when next carries none,
// concealed). Call it before decoding next itself; samples is the lost
// packet's duration at the decoder's rate (a multiple of 2.5 ms).
func (d *Decoder) DecodeFEC(dst []int16, next []byte, samples int) ([]int16, error) {
	if len(next) == 0 {
		return dst, fmt.Errorf("%w: empty packet", ErrCodec)
	}
	return d.decode(dst, next, samples, true)
}

// Conceal appends samples samples of libopus' packet loss concealment
// for a packet that is lost (a multiple of 2.5 ms at the decoder's rate).
func (d *Decoder) Conceal(dst []int16, samples int) ([]int16, error) {
	return d.decode(dst, nil, samples, false)
}

// Close frees the decoder; it is idempotent.
func (d *Decoder) Close() error {
	if d.st != nil {
		C.opus_decoder_destroy(d.st)
		d.st = nil
	}
	return nil
}
