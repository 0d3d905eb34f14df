package rtp

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/opus"
)

// opusCodec is the Opus side of a payloadCodec (RFC 7587): the encoder set
// by the peer's fmtp (its maxaveragebitrate, useinbandfec, usedtx) and the
// decoder, both libopus state freed by close, coding audio at rate (the
// host's, 48 kHz unless it fixed another). Without the build tag opus
// newOpusCodec fails with opus.ErrUnavailable.
type opusCodec struct {
	params opus.Params // the peer's
	rate   int
	enc    *opus.Encoder
	dec    *opus.Decoder
	ticks  tsScale // RTP timestamps to samples at rate
	// next says what the next decode does with its payload (recoverOpus).
	next       opusDecodeMode
	gapSamples int
	// The last packet decoded in order, for finding gaps.
	haveLast bool
	lastSSRC uint32
	lastSeq  uint16
	lastTS   uint32
}

// opusDecodeMode is how decodeOpus treats a payload.
type opusDecodeMode uint8

const (
	opusDecodePacket opusDecodeMode = iota // the packet itself
	opusDecodeFEC                          // the lost one before it, from its FEC
	opusDecodePLC                          // a lost one, by concealment (payload unused)
)

// MaxOpusRecover is the longest run of lost Opus packets a session
// rebuilds through the decoder (concealment for all but the last, which
// the next packet's in-band FEC recovers); a longer gap is left to the
// jitter buffer's concealment.
const MaxOpusRecover = 3

// isOpus reports whether c names RFC 7587 Opus: "opus/48000/2" (a
// channel count of 1 is tolerated, as other stacks do).
func isOpus(c audio.Codec) bool {
	return strings.EqualFold(c.Name, opus.EncodingName) && c.ClockRate == opus.ClockRate && c.Channels <= opus.SDPChannels
}

// newOpusCodec returns Opus sending to a peer whose fmtp is remoteFmtp,
// coding audio at rate (0: opus.SampleRate): libopus takes and gives
// frames at that rate, while the RTP clock stays 48 kHz (RFC 7587 §4.1).
func newOpusCodec(pt uint8, remoteFmtp string, rate int) (payloadCodec, error) {
	params, err := opus.ParseFmtp(remoteFmtp)
	if err != nil {
		return payloadCodec{}, fmt.Errorf("%w: %w", g711.ErrCodec, err)
	}
	rate = cmp.Or(rate, opus.SampleRate)
	ecfg := params.EncoderConfig(0)
	ecfg.SampleRate = rate
	enc, err := opus.NewEncoder(ecfg)
	if err != nil {
		return payloadCodec{}, fmt.Errorf("%w: %w", g711.ErrCodec, err)
	}
	dec, err := opus.NewDecoderRate(rate)
	if err != nil {
		_ = enc.Close()
		return payloadCodec{}, fmt.Errorf("%w: %w", g711.ErrCodec, err)
	}
	op := &opusCodec{params: params, rate: rate, enc: enc, dec: dec, ticks: tsScale{ratio: uint32(opus.ClockRate / rate)}}
	return payloadCodec{pt: pt, op: op}, nil
}

// tsScale maps RTP timestamps at Opus' 48 kHz clock to the jitter
// buffer's clock, which counts samples at the rate Opus decodes at: a
// timestamp is divided by ratio (48000 over that rate: 1, 3 or 6) around
// a reference, so that differences stay exact across the 32-bit wrap,
// which 2^32 / ratio alone would break. It is owned by a session's codec
// (under Session.mu).
type tsScale struct {
	ratio       uint32
	have        bool
	ref, refOut uint32 // a timestamp and its image
}

// tsScaleRebase is how far from the reference a timestamp may be (about
// 6 hours at 48 kHz) before the reference moves to it: well inside the
// ±2^31 that int32 differences tell apart.
const tsScaleRebase = 1 << 30

// toSamples returns ts on the sample clock: floor((ts − ref) / ratio)
// after the reference's image.
func (m *tsScale) toSamples(ts uint32) uint32 {
	if m.ratio <= 1 {
		return ts
	}
	if !m.have {
		m.have, m.ref, m.refOut = true, ts, ts/m.ratio
	}
	d := int64(int32(ts - m.ref))
	q := d / int64(m.ratio)
	if d%int64(m.ratio) < 0 {
		q-- // floor, so that the map keeps its order below the reference
	}
	out := m.refOut + uint32(q)
	if d > tsScaleRebase || d < -tsScaleRebase {
		// Move the reference by whole samples: the map is unchanged.
		m.ref += uint32(q) * m.ratio
		m.refOut = out
	}
	return out
}

// close frees libopus' state; other codecs hold none.
func (c *payloadCodec) close() {
	if c.op != nil {
		_ = c.op.enc.Close()
		_ = c.op.dec.Close()
	}
}

// appendOpusPacket appends the RTP packet of frame to dst; a DTX frame
// (usedtx=1, silence) gives no packet: dst unchanged and size 0.
func (c *payloadCodec) appendOpusPacket(dst []byte, h *pionrtp.Header, frame []int16) ([]byte, int, error) {
	start := len(dst)
	dst = append(dst, make([]byte, h.MarshalSize())...)
	if _, err := h.MarshalTo(dst[start:]); err != nil {
		return dst[:start], 0, err
	}
	b, err := c.op.enc.Encode(dst, frame)
	if err != nil {
		return dst[:start], 0, err
	}
	payload := b[len(dst):]
	if c.op.params.UseDTX && opus.IsDTX(payload) {
		return dst[:start], 0, nil
	}
	return b, len(payload), nil
}

// decodeOpus decodes one payload: normally the packet itself; after
// expectFEC, the packet lost before it, rebuilt from its in-band FEC.
func (c *payloadCodec) decodeOpus(dst []int16, payload []byte) ([]int16, error) {
	mode := c.op.next
	c.op.next = opusDecodePacket
	switch mode {
	case opusDecodeFEC:
		return c.op.dec.DecodeFEC(dst, payload, c.op.gapSamples)
	case opusDecodePLC:
		return c.op.dec.Conceal(dst, c.op.gapSamples)
	}
	return c.op.dec.Decode(dst, payload)
}

// recoverOpusLocked runs before an Opus packet h is decoded: when it
// follows the last one after a gap of 1 to MaxOpusRecover lost packets
// of equal duration, it puts the lost packets in the jitter buffer, the
// decoder's concealment for all but the last and the last rebuilt from
// h's in-band FEC (libopus conceals when h carries none), so the decoder
// sees the stream in order (RFC 7587 §3.2, RFC 6716 §4.4).
func (s *Session) recoverOpusLocked(h *pionrtp.Header, payload []byte, now time.Time) {
	o := s.codec.op
	defer func() { o.haveLast, o.lastSSRC, o.lastSeq, o.lastTS = true, h.SSRC, h.SequenceNumber, h.Timestamp }()
	if !o.haveLast || o.lastSSRC != h.SSRC {
		return
	}
	gap := int(h.SequenceNumber - o.lastSeq - 1)
	span := h.Timestamp - o.lastTS
	if gap < 1 || gap > MaxOpusRecover || int64(span) <= 0 || span%uint32(gap+1) != 0 {
		return
	}
	samples := int(span / uint32(gap+1)) // at o.rate: h is on the jitter buffer's clock
	if samples%(o.rate/400) != 0 || samples > o.rate*120/1000 {
		return // not whole 2.5 ms frames, or longer than 120 ms
	}
	lost := *h
	lost.Marker = false
	for k := 1; k <= gap; k++ {
		lost.SequenceNumber = o.lastSeq + uint16(k)
		lost.Timestamp = o.lastTS + uint32(k*samples)
		o.next, o.gapSamples = opusDecodePLC, samples
		if k == gap {
			o.next = opusDecodeFEC
		}
		if err := s.jb.Push(&lost, payload, now); err != nil {
			o.next = opusDecodePacket
			return
		}
		if k == gap {
			s.rx.fecRecovered++
		} else {
			s.rx.plcConcealed++
		}
	}
}
