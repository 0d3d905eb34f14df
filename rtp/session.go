package rtp

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/srtp"

	pionrtp "github.com/pion/rtp"

	"github.com/dialtone/dialtone/internal/timerheap"
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
	// FillSilence sends frames of silence when no audio is queued. By
	// default only IdleKeepAlive packets are sent then (the next frame
	// starts a talkspurt with the marker bit set); continuous silence
	// suits peers that expect an unbroken stream, at the cost of
	// bandwidth.
	FillSilence bool
	// IdleKeepAlive is how long the session may go without sending RTP
	// while it may send and the host plays nothing: after that, one frame
	// of silence goes out, or an RFC 3389 comfort-noise packet when the
	// peer negotiated CN, so that NAT bindings and the peer's RTP
	// inactivity timer hold. 0 means DefaultIdleKeepAlive; a negative
	// value sends nothing.
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

// rxState is the receiving side of a session, guarded by Session.mu.
type rxState struct {
	packets, octets uint64
	malformed       uint64
	unknownPT       uint64
	undecodable     uint64
	overruns        uint64
	q               frameRing
	pcm             []int16
	silence         []int16
}

// Session is the RTP media session of one call (RFC 3550): a UDP socket
// pair, a random SSRC, sequence number and timestamp origin, a pacing
// sender for outgoing G.711 or G.722 audio and RFC 4733 events, a jitter buffer for
// incoming audio, and RTCP reports. It has no clock goroutine of its own:
// an Engine worker runs its tick once per ptime, which reads what arrived
// on its sockets (on 64-bit Linux; elsewhere one goroutine per socket
// reads), sends, plays out and reports. Close takes it off the engine and
// waits for a tick in progress. Its methods are safe for concurrent use.
//
// Until SetRemote the session receives but does not send RTP.
type Session struct {
	cfg       SessionConfig
	log       *slog.Logger
	socks     *sockets // nil only in tests that drive ticks by hand
	engine    *Engine
	ssrc      uint32
	cname     string
	epoch     time.Time
	rtcpOnRTP bool // set before the session joins its engine

	// Owned by the engine worker (under worker.mu).
	worker *worker
	pace   pacer
	next   time.Time                // pace.deadline() when last scheduled
	item   timerheap.Item[*Session] // in worker.heap while scheduled
	phase  int                      // slot of the frame period, for load balancing

	quit      chan struct{}
	closeOnce sync.Once
	closeErr  error
	txSpace   chan struct{}
	rxReady   chan struct{}
	dtmfCh    chan dtmf.Digit
	dtmfSem   chan struct{}

	sec      atomic.Pointer[srtp.Context] // SRTP keys, nil when off (session_srtp.go)
	srtpPast srtp.Stats                   // counters of replaced contexts, under mu

	dtmfReceived atomic.Uint64
	dtmfDropped  atomic.Uint64
	readErrors   atomic.Uint64

	mu           sync.Mutex
	closed       bool
	remoteSet    bool
	codec        payloadCodec // the audio codec sent and decoded (codec.go)
	tsPerFrame   uint32       // RTP timestamp units per ptime
	pt           uint8
	tePT         uint8
	hasTE        bool
	cnPT         uint8
	hasCN        bool
	voipMetrics  bool // add RTCP XR VoIP Metrics to reports
	dir          sdp.Direction
	ptime        time.Duration
	frameSamples int // at the codec's rate
	hostConv         // rate conversion for SessionConfig.HostSampleRate (resample.go)
	remoteMux    bool
	signalledRTP netip.AddrPort
	signalledRTC netip.AddrPort
	rtpDest      netip.AddrPort
	rtcpDest     netip.AddrPort
	rtpLatched   bool
	rtcpLatched  bool
	haveRemote   bool
	remoteSSRC   uint32
	src          sourceStats
	jb           *jitter.Buffer
	dtmfRx       *dtmf.Receiver
	tx           txState
	rx           rxState
	rtcp         rtcpState
}

// NewSession binds the session's sockets from cfg.Ports on cfg.LocalAddr
// and puts it on its engine, whose clock then ticks it every ptime. ctx
// bounds only the port search; the session lives until Close. Invalid
// settings give an error wrapping ErrSessionConfig; port exhaustion one
// wrapping ErrNoPorts.
func NewSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	s, err := newSession(cfg)
	if err != nil {
		return nil, err
	}
	alloc := s.cfg.Ports
	if alloc == nil {
		if alloc, err = NewPortAllocator(PortAllocatorConfig{}); err != nil {
			return nil, err
		}
	}
	s.engine = s.cfg.Engine
	if s.engine == nil {
		s.engine = alloc.defaultEngine()
	}
	s.socks, err = openSockets(ctx, alloc, s.cfg.LocalAddr, s.cfg.RTCPMux)
	if err != nil {
		return nil, err
	}
	s.rtcpOnRTP = !s.socks.HasRTCP()
	s.start()
	return s, nil
}

// newSession builds a session without sockets or goroutines.
func newSession(cfg SessionConfig) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	dcfg := cfg.DTMF
	dcfg.Interval = audio.FrameDuration
	if _, err := dtmf.NewSender(dcfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSessionConfig, err)
	}
	dtmfRx, err := dtmf.NewReceiver(cfg.DTMFReceive)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSessionConfig, err)
	}
	s := &Session{
		cfg:     cfg,
		log:     cfg.Logger,
		cname:   cfg.CNAME,
		epoch:   time.Now(),
		quit:    make(chan struct{}),
		txSpace: make(chan struct{}, 1),
		rxReady: make(chan struct{}, 1),
		dtmfCh:  make(chan dtmf.Digit, cfg.DTMFEventQueue),
		dtmfSem: make(chan struct{}, 1),
		codec:   payloadCodec{law: g711.ULaw, pt: audio.PayloadTypePCMU},
		pt:      audio.PayloadTypePCMU,
		dir:     sdp.SendRecv,
		dtmfRx:  dtmfRx,
	}
	s.allocFramesLocked(min(s.jbMaxSamples(), maxFrameSamples))
	if err := s.setFormatLocked(audio.FrameDuration, s.codec); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSessionConfig, err)
	}
	s.tx.outBufs = make([][]byte, 0, 2*SendMaxCatchUpFrames+2)
	s.tx.out = make([]outPacket, 0, cap(s.tx.outBufs))

	var r [12]byte
	_, _ = rand.Read(r[:]) // RFC 3550 §5.1: random SSRC, initial sequence number and timestamp
	s.ssrc = binary.BigEndian.Uint32(r[0:])
	s.tx.seq = binary.BigEndian.Uint16(r[4:])
	s.tx.tsNext = binary.BigEndian.Uint32(r[8:])
	s.tx.lastTickTS, s.tx.lastTickAt = s.tx.tsNext, s.epoch
	s.rtcp.initial = true
	s.rtcp.avgSize = rtcpInitialAvgSize
	s.scheduleRTCPLocked(s.epoch)
	return s, nil
}

func (s *Session) jbMaxSamples() int {
	if n := s.cfg.Jitter.MaxFrameSamples; n > 0 {
		return n
	}
	return jitter.DefaultMaxFrameSamples
}

// setFormatLocked switches to packetization time ptime and codec c: when
// either changes the frame (ptime, G.711 or G.722), a new jitter buffer for
// it and empty queues; otherwise only the payload type changes, and a
// G.722 stream keeps its coder state.
func (s *Session) setFormatLocked(ptime time.Duration, c payloadCodec) error {
	if ptime == s.ptime && s.codec.sameFormat(&c) {
		s.codec.pt = c.pt
		return nil
	}
	// The configured maximum is at 8 kHz; wideband frames are larger.
	// Received packets may be longer than the frames the session moves
	// (the jitter buffer plays them out a frame at a time).
	hostRate := cmp.Or(s.cfg.HostSampleRate, c.sampleRate())
	rate := max(c.sampleRate(), hostRate)
	maxSamples := s.jbMaxSamples() * rate / audio.SampleRate
	maxFrame := min(s.jbMaxSamples(), maxFrameSamples) * rate / audio.SampleRate
	jcfg := s.cfg.Jitter
	jcfg.FrameDuration = ptime
	if c.wide {
		// The jitter buffer counts time in samples: G.722's timestamps
		// are doubled on the way in (payloadCodec.jitterTS).
		jcfg.ClockRate = uint32(c.sampleRate())
		jcfg.MaxFrameSamples = maxSamples
		jcfg.Decode = c.decode
	}
	jb, err := jitter.New(jcfg)
	if err != nil {
		return err
	}
	fs := c.frameSamples(ptime)
	if fs > maxFrame {
		return fmt.Errorf("%w: ptime %v exceeds the session's largest frame", ErrSessionConfig, ptime)
	}
	s.allocFramesLocked(maxFrame)
	s.jb = jb
	s.ptime = ptime
	s.codec = c
	s.frameSamples = fs
	s.tsPerFrame = c.frameTicks(ptime)
	s.setHostRateLocked(hostRate, c.sampleRate(), ptime, maxSamples)
	s.tx.q.reset()
	s.rx.q.reset()
	return nil
}

// start starts the socket readers, if the platform has them, and puts the
// session on its engine.
func (s *Session) start() {
	s.socks.start(s)
	s.engine.attach(s, time.Now())
}

// LocalAddr returns the address and port of the RTP socket (the address
// the session was bound to: unspecified when it binds all interfaces).
func (s *Session) LocalAddr() netip.AddrPort { return s.socks.LocalAddr(false) }

// LocalRTCPAddr returns the address of the RTCP socket: the RTP one with
// rtcp-mux.
func (s *Session) LocalRTCPAddr() netip.AddrPort { return s.socks.LocalAddr(true) }

// SSRC returns the session's synchronization source identifier.
func (s *Session) SSRC() uint32 { return s.ssrc }

// SetRemote applies the outcome of an offer/answer exchange (initial or
// re-INVITE): where to send RTP and RTCP, the codec and telephone-event
// payload types, the direction and the ptime (the peer's a=ptime, 20 ms
// when absent, at most its a=maxptime, clamped to [SessionMinPtime,
// SessionMaxPtime]). A direction that
// does not send (recvonly, inactive; RFC 3264 §8.4 hold) stops RTP at the
// next frame and one that sends resumes it; RTCP goes on either way (RFC
// 3264 §5.1). A new signalled address resets symmetric-RTP latching. The
// codec must be PCMU, PCMA or G.722 (an error wraps g711.ErrCodec and
// nothing changes). A ptime change, or a change between G.711 and G.722
// (8 and 16 kHz audio, SampleRate), empties the audio queues.
func (s *Session) SetRemote(p sdp.MediaParams) error {
	codec, err := newPayloadCodec(p.Codec)
	if err != nil {
		return err
	}
	ptime := sendPtime(p.RemotePtime, p.RemoteMaxPtime)
	rtcpAddr := p.RemoteRTCP
	if p.RTCPMux || !rtcpAddr.IsValid() {
		rtcpAddr = p.RemoteRTP
		if !p.RTCPMux && rtcpAddr.IsValid() {
			rtcpAddr = netip.AddrPortFrom(rtcpAddr.Addr(), rtcpAddr.Port()+1)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if err := s.setFormatLocked(ptime, codec); err != nil {
		return err
	}
	s.pt = p.Codec.PayloadType
	s.hasTE = p.HasTelephoneEvent
	s.cnPT, s.hasCN = comfortNoise(p.Codecs, p.Codec.ClockRate)
	s.voipMetrics = p.VoIPMetrics
	s.tePT = p.TelephoneEvent.PayloadType
	s.dir = p.Direction
	s.remoteMux = p.RTCPMux
	if !s.remoteSet || p.RemoteRTP != s.signalledRTP {
		s.signalledRTP = p.RemoteRTP
		s.rtpDest = p.RemoteRTP
		s.rtpLatched = false
	}
	if !s.remoteSet || rtcpAddr != s.signalledRTC {
		s.signalledRTC = rtcpAddr
		s.rtcpDest = rtcpAddr
		s.rtcpLatched = false
	}
	s.remoteSet = true
	s.debug("remote set", "raddr", p.RemoteRTP.String(), "codec", p.Codec.Name,
		"direction", p.Direction.String(), "ptime", ptime.String())
	return nil
}

// DTMF returns the channel on which received RFC 4733 digits arrive, each
// once, when it ends. It is closed by Close. Digits that find it full are
// dropped (SessionStats.DTMFDropped).
func (s *Session) DTMF() <-chan dtmf.Digit { return s.dtmfCh }

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone events with
// the negotiated payload type, in the audio stream: same SSRC, sequence
// numbers and timestamp clock, the first event starting at the next frame,
// one packet per ptime, the end packet three times (§2.5.1), each next digit
// SessionConfig.DTMF's duration plus pause later. Queued audio is discarded
// while a digit plays. It returns when the last packet is sent. If ctx ends
// first, the digit in progress is completed (so the peer sees its end) and
// the rest are dropped; SendDTMF then returns ctx's error. One call runs at a
// time; others wait their turn. Errors: dtmf.ErrDigit for an invalid digit,
// ErrNoTelephoneEvent, ErrSessionClosed.
func (s *Session) SendDTMF(ctx context.Context, digits string) error {
	for _, d := range digits {
		if _, err := dtmf.EventForDigit(d); err != nil {
			return err
		}
	}
	if digits == "" {
		return nil
	}
	select {
	case s.dtmfSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrSessionClosed
	}
	defer func() { <-s.dtmfSem }()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrSessionClosed
	case !s.hasTE:
		s.mu.Unlock()
		return ErrNoTelephoneEvent
	}
	j := &dtmfJob{digits: digits, done: make(chan error, 1)}
	s.tx.dtmf = j
	s.mu.Unlock()
	select {
	case err := <-j.done:
		return err
	case <-s.quit:
		return ErrSessionClosed
	case <-ctx.Done():
	}
	s.mu.Lock()
	j.cancel = true
	s.mu.Unlock()
	select {
	case <-j.done:
	case <-s.quit:
	}
	return ctx.Err()
}

// deliverDTMF passes received digits to the DTMF channel without blocking.
func (s *Session) deliverDTMF(digits []dtmf.Digit) {
	for _, d := range digits {
		select {
		case s.dtmfCh <- d:
			s.dtmfReceived.Add(1)
		default:
			s.dtmfDropped.Add(1)
		}
	}
}

// isRTCP tells RTCP from RTP on a multiplexed port by the packet type
// octet (RFC 5761 §4): RTCP packet types 192-223.
func isRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }

// arrivalUnits returns now in RTP timestamp units since the session began,
// for the jitter estimate (RFC 3550 §A.8).
func (s *Session) arrivalUnits(now time.Time) uint32 {
	return uint32(now.Sub(s.epoch).Nanoseconds() * audio.SampleRate / int64(time.Second))
}

// handleRTP processes one RTP packet b from from, received at now, with h
// as scratch, and appends the DTMF digits that ended to digits.
// Audio (PCMU, PCMA) goes to the jitter buffer and telephone events to the
// DTMF receiver; other payload types are counted and ignored, and so are
// packets that are not RTP version 2.
func (s *Session) handleRTP(h *pionrtp.Header, b []byte, from netip.AddrPort, now time.Time, digits []dtmf.Digit) []dtmf.Digit {
	n, err := h.Unmarshal(b)
	bad := err != nil || h.Version != 2
	var payload []byte
	if !bad {
		payload = b[n:]
		if h.Padding {
			// RFC 3550 §5.1: the last octet counts the padding, itself included.
			if pad := len(payload); pad == 0 || payload[pad-1] == 0 || int(payload[pad-1]) > pad {
				bad = true
			} else {
				payload = payload[:pad-int(payload[pad-1])]
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bad {
		s.rx.malformed++
		return digits
	}
	isEvent := s.hasTE && h.PayloadType == s.tePT
	if !isEvent && !s.codec.accepts(h.PayloadType) {
		s.rx.unknownPT++
		return digits
	}
	if !s.cfg.DisableSymmetric && !s.rtpLatched && from.IsValid() {
		if s.rtpDest != from {
			s.debug("rtp latched", "raddr", from.String(), "signalled", s.signalledRTP.String())
		}
		s.rtpDest = from
		s.rtpLatched = true
		if s.rtcpOnRTP || s.remoteMux {
			s.rtcpDest = from
			s.rtcpLatched = true
		}
	}
	if !s.haveRemote || h.SSRC != s.remoteSSRC {
		s.haveRemote = true
		s.remoteSSRC = h.SSRC
		s.src = newSourceStats(h.SequenceNumber)
		s.dtmfRx.Reset()
	}
	s.src.updateSeq(h.SequenceNumber)
	s.rx.packets++
	s.rx.octets += uint64(len(payload))
	s.rtcp.remoteSent = true
	if isEvent {
		digits, _ = s.dtmfRx.Push(digits, now, h.Timestamp, payload)
		h.Timestamp = s.codec.jitterTS(h.Timestamp)
		s.jb.Skip(h, now) // its sequence number is not lost audio
		return digits
	}
	s.src.updateJitter(h.Timestamp, s.arrivalUnits(now))
	h.Timestamp = s.codec.jitterTS(h.Timestamp)
	if err := s.jb.Push(h, payload, now); err != nil {
		s.rx.undecodable++
	}
	return digits
}

// playoutLocked plays out one frame at the tick with deadline into the
// receive queue: the jitter buffer's frame, or silence.
func (s *Session) playoutLocked(deadline time.Time) {
	frame, st := s.jb.Pop(deadline, s.rx.pcm[:0])
	if st == jitter.Empty {
		frame = s.rx.silence[:s.hostFrameSamples]
	} else {
		s.rx.pcm = frame[:0]
		frame = s.toHostRateLocked(frame)
	}
	if _, dropped := s.rx.q.push(frame, 0, true); dropped {
		s.rx.overruns++
	}
}

// SessionStats is a snapshot of a session's counters (RFC 3550 §6.4).
type SessionStats struct {
	// SSRC and CNAME identify our stream; RemoteSSRC the peer's, once a
	// packet arrived.
	SSRC       uint32
	RemoteSSRC uint32
	CNAME      string
	// Remote is where RTP goes now; Latched reports that it was learnt
	// from received packets (symmetric RTP).
	Remote  netip.AddrPort
	Latched bool
	// Direction and Ptime in effect.
	Direction sdp.Direction
	Ptime     time.Duration
	// PacketsSent and OctetsSent count RTP packets and payload octets
	// sent (as in an SR), including telephone events.
	PacketsSent, OctetsSent uint64
	// PacketsReceived and OctetsReceived count valid RTP packets and their
	// payload octets.
	PacketsReceived, OctetsReceived uint64
	// PacketsLost is the cumulative number of the peer's packets lost
	// (RFC 3550 §6.4.1; negative with duplicates), FractionLost the share
	// lost since the previous report we sent.
	PacketsLost  int64
	FractionLost float64
	// Jitter is our interarrival jitter estimate of the peer's stream
	// (RFC 3550 §6.4.1, §A.8).
	Jitter time.Duration
	// SendLateness is how late the pacing sender sent frames.
	SendLateness LatenessHistogram
	// FramesSkipped counts frame periods the sender missed entirely (more
	// than SendMaxCatchUpFrames late). FramesDiscarded counts queued frames
	// not sent: hold, no remote, DTMF in progress, skipped periods.
	FramesSkipped, FramesDiscarded uint64
	// PlayoutOverruns counts received frames dropped because nobody read
	// them in time.
	PlayoutOverruns uint64
	// Malformed, UnknownPayload and Undecodable count received RTP packets
	// ignored; SendErrors and ReadErrors socket errors.
	Malformed, UnknownPayload, Undecodable uint64
	SendErrors, ReadErrors                 uint64
	// DTMFPacketsSent counts telephone-event packets sent; DTMFReceived
	// and DTMFDropped count received digits delivered and dropped.
	DTMFPacketsSent           uint64
	DTMFReceived, DTMFDropped uint64
	// SRTP counts packets protected, unprotected and refused (replayed,
	// failing authentication, malformed) while SRTP was on (SetSRTP).
	SRTP srtp.Stats
	// Playout are the jitter buffer's statistics.
	Playout jitter.Stats
	// RTCP are the report statistics, including the round-trip time.
	RTCP RTCPStats
}

// Stats returns a snapshot of the session's statistics.
func (s *Session) Stats() SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Session) statsLocked() SessionStats {
	st := SessionStats{
		SSRC:            s.ssrc,
		CNAME:           s.cname,
		Remote:          s.rtpDest,
		Latched:         s.rtpLatched,
		Direction:       s.dir,
		Ptime:           s.ptime,
		PacketsSent:     s.tx.packets,
		OctetsSent:      s.tx.octets,
		PacketsReceived: s.rx.packets,
		OctetsReceived:  s.rx.octets,
		SendLateness:    s.tx.late,
		FramesSkipped:   s.tx.skipped,
		FramesDiscarded: s.tx.discarded,
		PlayoutOverruns: s.rx.overruns,
		Malformed:       s.rx.malformed,
		UnknownPayload:  s.rx.unknownPT,
		Undecodable:     s.rx.undecodable,
		SendErrors:      s.tx.sendErrors,
		ReadErrors:      s.readErrors.Load(),
		DTMFPacketsSent: s.tx.dtmfSent,
		DTMFReceived:    s.dtmfReceived.Load(),
		DTMFDropped:     s.dtmfDropped.Load(),
		Playout:         s.jb.Stats(),
		SRTP:            s.srtpStatsLocked(),
		RTCP:            s.rtcp.stats,
	}
	if s.haveRemote {
		st.RemoteSSRC = s.remoteSSRC
		st.PacketsLost = s.src.cumulativeLost()
		st.FractionLost = float64(s.rtcp.reportBlocks[0].FractionLost) / 256
		st.Jitter = time.Duration(uint64(s.src.jitterUnits()) * uint64(time.Second) / audio.SampleRate)
	}
	return st
}

// Close stops the session: it stops sending, sends an RTCP BYE (RFC 3550
// §6.6) with a last report if the session sent anything and knows where to,
// closes the sockets, waits for its goroutines, releases the ports and
// closes the DTMF channel. Blocked WriteFrame, ReadFrame, Play, Record and
// SendDTMF calls return ErrSessionClosed. Close is idempotent; later calls
// return the first one's result.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		if s.worker != nil {
			s.worker.detach(s) // waits for a tick in progress
		}

		s.mu.Lock()
		var bye []byte
		dest := s.rtcpDest
		if (s.tx.packets > 0 || s.rtcp.stats.Sent > 0) && dest.IsValid() && !dest.Addr().IsUnspecified() {
			bye, _ = s.buildRTCPLocked(time.Now(), true)
			bye = s.protectByeLocked(bye)
		}
		onRTCP := !s.rtcpOnRTP && !s.remoteMux
		s.mu.Unlock()
		if bye != nil {
			if s.cfg.Tracer != nil {
				s.tracePacket(time.Now(), true, true, onRTCP, dest, bye)
			}
			_ = s.socks.Send(bye, dest, onRTCP)
		}
		s.closeErr = s.socks.close()
		close(s.dtmfCh)
	})
	return s.closeErr
}

func (s *Session) debug(msg string, args ...any) {
	if s.log != nil && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug(msg, append(args, "ssrc", s.ssrc)...)
	}
}
