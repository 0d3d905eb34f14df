package rtp

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// rxState is the receiving side of a session, guarded by Session.mu.
type rxState struct {
	packets, octets uint64
	malformed       uint64
	stun            uint64 // STUN messages consumed (stun.go)
	unknownPT       uint64
	undecodable     uint64
	fecRecovered    uint64 // lost Opus packets rebuilt from FEC
	plcConcealed    uint64 // lost Opus packets concealed by the decoder
	overruns        uint64
	cn              cnState // the peer's comfort noise (comfortnoise.go)
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

	jobSched // owned by the engine worker (under worker.mu)

	quit      chan struct{}
	closeOnce sync.Once
	closeErr  error
	txSpace   chan struct{}
	rxReady   chan struct{}
	dtmfCh    chan dtmf.Digit
	dtmfSem   chan struct{}

	stun stunWaits // binding requests awaiting answers (stun.go)

	sec      atomic.Pointer[srtp.Context] // SRTP keys, nil when off (session_srtp.go)
	srtpPast srtp.Stats                   // counters of replaced contexts, under mu
	dtls     dtlsState                    // DTLS-SRTP keying (session_dtls.go)

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
	kaPT         uint8 // RFC 6263 §4.6 keep-alive: a dynamic PT the answer did not map
	voipMetrics  bool  // add RTCP XR VoIP Metrics to reports
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
	frameFn      func() // SetFrameFunc's host on the media clock
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
		c.close() // the running codec keeps its state
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
	if c.wide || c.op != nil {
		// The jitter buffer counts time in samples: G.722's timestamps
		// are doubled on the way in (payloadCodec.jitterTS), Opus' 48 kHz
		// ones divided when it codes at the host's lower rate.
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
	s.codec.close()
	s.codec = c
	s.frameSamples = fs
	s.tsPerFrame = c.frameTicks(ptime)
	s.setHostRateLocked(hostRate, c.sampleRate(), ptime, maxSamples)
	// Both queues carry host frames: WriteFrame refuses longer ones, and
	// the playout is a host frame each tick.
	s.tx.q.resize(s.hostFrameSamples)
	s.rx.q.resize(s.hostFrameSamples)
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

// Engine returns the media clock that paces the session, for a Ticker
// (a conference mixer) that should run beside it.
func (s *Session) Engine() *Engine { return s.engine }

// SSRC returns the session's synchronization source identifier.
func (s *Session) SSRC() uint32 { return s.ssrc }

// SetRemote applies the outcome of an offer/answer exchange (initial or
// re-INVITE): where to send RTP and RTCP, the codec and telephone-event
// payload types, the direction and the ptime (the peer's a=ptime, 20 ms
// when absent, at most its a=maxptime, clamped to [SessionMinPtime,
// SessionMaxPtime]). A direction that
// does not send (recvonly, inactive; RFC 3264 §8.4 hold) stops media at the
// next frame, leaving only a keep-alive every IdleKeepAlive (RFC 6263), and
// one that sends resumes it; RTCP goes on either way (RFC 3264 §5.1). A new signalled address resets symmetric-RTP latching. The
// codec must be PCMU, PCMA, G.722 or, in a build with the tag opus, Opus
// (an error wraps g711.ErrCodec, and opus.ErrUnavailable for Opus without
// the tag, and nothing changes); Opus is sent as p.RemoteFmtp asks. A
// ptime change, or a change of codec kind (8, 16 or 48 kHz audio,
// SampleRate; for Opus also of the peer's fmtp), empties the audio queues.
func (s *Session) SetRemote(p sdp.MediaParams) error {
	codec, err := newPayloadCodec(p.Codec, p.RemoteFmtp, s.cfg.HostSampleRate)
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
		codec.close()
		return ErrSessionClosed
	}
	if err := s.setFormatLocked(ptime, codec); err != nil {
		codec.close()
		return err
	}
	s.pt = p.Codec.PayloadType
	s.hasTE = p.HasTelephoneEvent
	s.cnPT, s.hasCN = comfortNoise(p.Codecs, p.Codec.ClockRate)
	s.kaPT = unmappedPT(p.Codecs, s.pt, p.TelephoneEvent.PayloadType, s.cnPT)
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

// Close stops the session: it stops sending, sends an RTCP BYE (RFC 3550
// §6.6) with a last report if the session sent anything and knows where to,
// closes the sockets, waits for its goroutines, releases the ports and
// closes the DTMF channel. Blocked WriteFrame, ReadFrame, Play, Record and
// SendDTMF calls return ErrSessionClosed. Close is idempotent; later calls
// return the first one's result.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.closeDTLS() // before closed, so that close_notify can go out
		s.mu.Lock()
		s.closed = true
		s.frameFn = nil
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
		s.mu.Lock()
		s.codec.close() // libopus' state
		s.mu.Unlock()
		close(s.dtmfCh)
	})
	return s.closeErr
}

func (s *Session) debug(msg string, args ...any) {
	if s.log != nil && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug(msg, append(args, "ssrc", s.ssrc)...)
	}
}
