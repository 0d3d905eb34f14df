package rtp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/jitter"
)

// Session settings and their defaults.
const (
	// DefaultSendQueueFrames is the send queue length when
	// SessionConfig.SendQueueFrames is zero: 10 frames, 200 ms at 20 ms.
	DefaultSendQueueFrames = 10
	// DefaultRecvQueueFrames is the playout queue length when
	// SessionConfig.RecvQueueFrames is zero.
	DefaultRecvQueueFrames = 10
	// MaxQueueFrames bounds SendQueueFrames and RecvQueueFrames.
	MaxQueueFrames = 1000
	// DefaultIdleKeepAlive is SessionConfig.IdleKeepAlive when zero.
	DefaultIdleKeepAlive = time.Second
	// DefaultDTMFEventQueue is the capacity of the channel returned by
	// Session.DTMF when SessionConfig.DTMFEventQueue is zero.
	DefaultDTMFEventQueue = 32
	// SessionMinPtime and SessionMaxPtime bound the packetization time the
	// session sends with; a peer's a=ptime outside them is clamped.
	SessionMinPtime = 10 * time.Millisecond
	SessionMaxPtime = 60 * time.Millisecond
	// maxDatagram is the largest datagram read or sent.
	maxDatagram = 1500
	// maxFrameSamples is the largest frame the session moves: one
	// SessionMaxPtime. Received packets may be longer (up to the jitter
	// buffer's MaxFrameSamples); the buffer plays them out a frame at a
	// time.
	maxFrameSamples = int(SessionMaxPtime * audio.SampleRate / time.Second)
)

// Session errors.
var (
	// ErrSessionClosed reports a call on a closed Session.
	ErrSessionClosed = errors.New("rtp: session closed")
	// ErrSessionConfig reports an invalid SessionConfig.
	ErrSessionConfig = errors.New("rtp: invalid session configuration")
	// ErrNoTelephoneEvent reports SendDTMF on a session whose remote did
	// not negotiate telephone-event (RFC 4733 §7); the caller may fall back
	// to SIP INFO.
	ErrNoTelephoneEvent = errors.New("rtp: telephone-event not negotiated")
)

// SessionConfig configures a Session. The zero value of each field selects
// its documented default.
type SessionConfig struct {
	// LocalAddr is the address the sockets bind to; the zero value binds
	// all IPv4 interfaces (0.0.0.0).
	LocalAddr netip.Addr
	// Ports hands out the UDP ports. nil means a PortAllocator private to
	// this session over the default range; sessions with separate
	// allocators still get distinct ports (a taken port fails to bind and
	// the next is tried), but one shared allocator avoids the retries.
	Ports *PortAllocator
	// RTCPMux binds one port for RTP and RTCP (RFC 5761). Offer rtcp-mux
	// then; if the peer declines it, RTCP is still sent from the RTP port
	// to the peer's RTCP port, but the peer's RTCP, sent to our RTP port+1,
	// is not received.
	RTCPMux bool
	// DisableSymmetric turns symmetric RTP off: by default, once a packet
	// arrives, RTP (and RTCP) is sent back to the address it came from
	// rather than the one in the SDP (NAT latching; RFC 4961). The session
	// latches on the first packet after each SetRemote that changes the
	// signalled address.
	DisableSymmetric bool
	// CNAME is the RTCP SDES CNAME (RFC 3550 §6.5.1); empty means a random
	// one per session (RFC 7022 §4.2).
	CNAME string
	// RTCPInterval is the minimum RTCP report interval Tmin (RFC 3550
	// §6.2); 0 means RTCPDefaultMinInterval (5 s). The actual interval is
	// randomized per RFC 3550 §6.3.1.
	RTCPInterval time.Duration
	// RTCPBandwidth is the RTCP bandwidth in bits per second; 0 means
	// RTCPBandwidthFraction of the audio stream's bandwidth.
	RTCPBandwidth int
	// SendQueueFrames is how many frames WriteFrame may queue ahead of the
	// pacing sender; 0 means DefaultSendQueueFrames.
	SendQueueFrames int
	// RecvQueueFrames is how many played-out frames wait for ReadFrame;
	// 0 means DefaultRecvQueueFrames.
	RecvQueueFrames int
	// SuppressSilence turns off what the session sends by default while
	// the host plays nothing (writes no frame for a frame period). By
	// default, without VAD, the stream goes on: a frame of silence every
	// ptime when the peer did not negotiate comfort noise; when it did
	// (CN/8000, RFC 3389), one CN packet at the end of each talkspurt and
	// a SID refresh every IdleKeepAlive after it (RFC 3389 §4), instead of
	// silence frames. With SuppressSilence, nothing goes out then but the
	// IdleKeepAlive packets, and the next frame starts a talkspurt with
	// the marker bit set: less bandwidth, for peers that tolerate gaps.
	SuppressSilence bool
	// IdleKeepAlive is how long the session may go without sending RTP
	// while the host plays nothing, the session's direction stops it
	// sending (recvonly or inactive: hold), or silence is suppressed:
	// after that, one keep-alive goes out (RFC 6263), so that NAT bindings
	// and the peer's RTP inactivity timer hold. It is an RFC 3389
	// comfort-noise packet when the peer negotiated CN (RFC 6263 §4.2);
	// otherwise, while we may send, a frame of silence, and while we may
	// not, an RTP packet without payload whose payload type is a dynamic
	// one the answer did not map (RFC 6263 §4.6), which receivers ignore.
	// With comfort noise negotiated and silence not suppressed, it is also
	// the SID refresh interval. 0 means DefaultIdleKeepAlive; a negative
	// value sends no keep-alive and no SID refresh. An old-style hold to
	// 0.0.0.0 (RFC 3264 §8.4) has nowhere to send it.
	IdleKeepAlive time.Duration
	// Jitter configures the playout buffer; FrameDuration is always the
	// session's ptime.
	Jitter jitter.Config
	// DTMF configures the digits SendDTMF sends; Interval is always the
	// session's ptime.
	DTMF dtmf.SenderConfig
	// DTMFReceive configures the detection of received digits.
	DTMFReceive dtmf.ReceiverConfig
	// DTMFEventQueue is the capacity of the DTMF channel; digits that find
	// it full are dropped and counted. 0 means DefaultDTMFEventQueue.
	DTMFEventQueue int
	// Engine is the media clock that paces the session and reads its
	// sockets, shared with other sessions; nil means the Engine of Ports
	// (one per PortAllocator, or one private to the session when Ports is
	// nil).
	Engine *Engine
	// HostSampleRate fixes the rate of the frames WriteFrame takes and
	// ReadFrame gives: 8000 or 16000, converted to and from the codec's
	// when they differ (8 kHz frames on a G.722 call, 16 kHz on a G.711
	// one). 0 means the codec's rate (SampleRate), with no conversion.
	// An Opus call codes at the fixed rate itself (libopus takes and
	// gives 160 or 320 samples per 20 ms, with no resampler of ours); its
	// RTP timestamps stay at 48 kHz (RFC 7587 §4.1), 960 per 20 ms.
	HostSampleRate int
	// Logger receives debug records of latching and errors; nil is silent.
	Logger *slog.Logger
	// Tracer sees every RTP and RTCP datagram sent and received, for
	// captures (see PacketTracer); nil is none.
	Tracer PacketTracer
}

func (c SessionConfig) withDefaults() (SessionConfig, error) {
	bad := func(format string, args ...any) (SessionConfig, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrSessionConfig}, args...)...)
	}
	if c.SendQueueFrames == 0 {
		c.SendQueueFrames = DefaultSendQueueFrames
	}
	if c.RecvQueueFrames == 0 {
		c.RecvQueueFrames = DefaultRecvQueueFrames
	}
	if c.DTMFEventQueue == 0 {
		c.DTMFEventQueue = DefaultDTMFEventQueue
	}
	switch {
	case c.SendQueueFrames < 0 || c.SendQueueFrames > MaxQueueFrames:
		return bad("SendQueueFrames %d", c.SendQueueFrames)
	case c.RecvQueueFrames < 0 || c.RecvQueueFrames > MaxQueueFrames:
		return bad("RecvQueueFrames %d", c.RecvQueueFrames)
	case c.DTMFEventQueue < 0:
		return bad("DTMFEventQueue %d", c.DTMFEventQueue)
	case c.RTCPInterval < 0 || c.RTCPBandwidth < 0:
		return bad("negative RTCP setting")
	case c.HostSampleRate != 0 && c.HostSampleRate != 8000 && c.HostSampleRate != 16000:
		return bad("HostSampleRate %d: want 0, 8000 or 16000", c.HostSampleRate)
	}
	if c.CNAME == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		c.CNAME = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if len(c.CNAME) > 255 {
		return bad("CNAME longer than 255 bytes")
	}
	return c, nil
}
