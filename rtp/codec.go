package rtp

import (
	"fmt"
	"strings"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/g722"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/opus"
)

// payloadCodec is the audio codec a session sends and decodes: G.711
// (PCMU, PCMA) at 8 kHz, G.722 at 16 kHz or Opus at 48 kHz (or at the
// host's fixed rate). It holds G.722's encoder and decoder state, so it is
// owned by one session (under Session.mu).
type payloadCodec struct {
	law  g711.Law // G.711 only
	wide bool     // G.722
	pt   uint8
	enc  *g722.Encoder
	dec  *g722.Decoder
	op   *opusCodec // Opus only (codec_opus.go)
}

// newPayloadCodec returns the codec of c: PCMU or PCMA, G.722 (clock
// rate 8000 in SDP, RFC 3551 §4.5.2), or Opus sending as the peer's
// remoteFmtp asks and coding audio at hostRate (0: 48 kHz), which libopus
// converts itself. Another codec, or Opus in a build without it, gives an
// error wrapping g711.ErrCodec.
func newPayloadCodec(c audio.Codec, remoteFmtp string, hostRate int) (payloadCodec, error) {
	if isOpus(c) {
		return newOpusCodec(c.PayloadType, remoteFmtp, hostRate)
	}
	if strings.EqualFold(c.Name, g722.EncodingName) && c.ClockRate == g722.ClockRate && c.Channels <= 1 {
		return payloadCodec{wide: true, pt: c.PayloadType, enc: g722.NewEncoder(), dec: g722.NewDecoder()}, nil
	}
	law, err := g711.LawFor(c)
	if err != nil {
		return payloadCodec{}, fmt.Errorf("%w (nor G.722)", err)
	}
	return payloadCodec{law: law, pt: c.PayloadType}, nil
}

// sampleRate is the rate of the audio the codec codes: 8 kHz for G.711,
// 16 kHz for G.722, the rate Opus' libopus state was made at.
func (c *payloadCodec) sampleRate() int {
	if c.op != nil {
		return c.op.rate
	}
	if c.wide {
		return g722.SampleRate
	}
	return audio.SampleRate
}

// clockRate is the RTP timestamp rate: 8000 for G.711 and G.722 (RFC 3551
// §4.5.2), 48000 for Opus (RFC 7587 §4.1).
func (c *payloadCodec) clockRate() int {
	if c.op != nil {
		return opus.ClockRate
	}
	return audio.SampleRate
}

// frameSamples and frameTicks are one ptime of audio in samples and in
// RTP timestamp units.
func (c *payloadCodec) frameSamples(ptime time.Duration) int {
	return int(ptime * time.Duration(c.sampleRate()) / time.Second)
}

func (c *payloadCodec) frameTicks(ptime time.Duration) uint32 {
	return uint32(ptime * time.Duration(c.clockRate()) / time.Second)
}

// sameFormat reports whether switching from c to n keeps the audio
// buffers and the coder state: same codec kind (for Opus, also the same
// parameters of the peer).
func (c *payloadCodec) sameFormat(n *payloadCodec) bool {
	if (c.op != nil) != (n.op != nil) {
		return false
	}
	if c.op != nil {
		return c.op.params == n.op.params && c.op.rate == n.op.rate
	}
	return c.wide == n.wide && (c.wide || c.law == n.law)
}

// appendPacket appends the RTP packet of frame with header h to dst and
// returns it and the payload size.
func (c *payloadCodec) appendPacket(dst []byte, h *pionrtp.Header, frame []int16) ([]byte, int, error) {
	if c.op != nil {
		return c.appendOpusPacket(dst, h, frame)
	}
	if !c.wide {
		b, err := g711.AppendPacket(dst, h, c.law, frame)
		return b, len(frame), err
	}
	start := len(dst)
	n := h.MarshalSize()
	if cap(dst)-start < n {
		grown := make([]byte, start, start+n+len(frame)/g722.SamplesPerByte)
		copy(grown, dst)
		dst = grown
	}
	if _, err := h.MarshalTo(dst[start : start+n]); err != nil {
		return dst, 0, err
	}
	b := c.enc.Encode(dst[:start+n], frame)
	return b, len(b) - start - n, nil
}

// decode is the jitter buffer's DecodeFunc: G.711 by its static payload
// type, G.722 by the negotiated one, with the stream's decoder state
// (decoded in arrival order, as every G.722 receiver does).
func (c *payloadCodec) decode(dst []int16, pt uint8, payload []byte) ([]int16, error) {
	if c.op != nil {
		if pt != c.pt {
			return dst, fmt.Errorf("%w: payload type %d in an Opus stream", g711.ErrCodec, pt)
		}
		return c.decodeOpus(dst, payload)
	}
	if c.wide && pt == c.pt {
		return c.dec.Decode(dst, payload), nil
	}
	if c.wide {
		return dst, fmt.Errorf("%w: payload type %d in a G.722 stream", g711.ErrCodec, pt)
	}
	return jitter.DecodeG711(dst, pt, payload)
}

// accepts reports whether received payload type pt is audio this codec
// plays: the negotiated one, or for G.711 either static law.
func (c *payloadCodec) accepts(pt uint8) bool {
	if c.wide || c.op != nil {
		return pt == c.pt
	}
	return pt == audio.PayloadTypePCMU || pt == audio.PayloadTypePCMA
}

// jitterTS maps an RTP timestamp to the jitter buffer's clock, which counts
// audio samples: G.722's timestamps advance by half the samples (RFC 3551
// §4.5.2), so they are doubled (modulo 2^32, which keeps differences);
// Opus' 48 kHz ones are divided when it codes at a lower rate
// (opusCodec.ticks).
func (c *payloadCodec) jitterTS(ts uint32) uint32 {
	if c.wide {
		return ts * 2
	}
	if c.op != nil {
		return c.op.ticks.toSamples(ts)
	}
	return ts
}

// allocFramesLocked makes the send and receive queues and frame buffers
// hold frames of up to maxSamples samples, reallocating them only when
// they are smaller (a first G.722 stream doubles them).
func (s *Session) allocFramesLocked(maxSamples int) {
	if s.tx.q.maxSlot() >= maxSamples {
		return
	}
	s.tx.q = newFrameRing(s.cfg.SendQueueFrames, maxSamples)
	s.tx.silence = make([]int16, maxSamples)
	s.rx.q = newFrameRing(s.cfg.RecvQueueFrames, maxSamples)
	s.rx.pcm = make([]int16, 0, maxSamples)
	s.rx.silence = make([]int16, maxSamples)
}
