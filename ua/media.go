package ua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/srtp"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
)

// Media defaults.
const (
	// DefaultDTMFInfoDuration is the Duration announced in each SIP INFO
	// application/dtmf-relay body that SendDTMFInfo sends.
	DefaultDTMFInfoDuration = 160 * time.Millisecond
	// MaxDTMFInfoBody bounds the INFO bodies parsed for DTMF.
	MaxDTMFInfoBody = 256
	// DefaultMediaSTUNTimeout is MediaConfig.STUNTimeout when zero.
	DefaultMediaSTUNTimeout = 500 * time.Millisecond
)

// DTMFInfoContentType is the body type of DTMF sent in SIP INFO
// (application/dtmf-relay, the de-facto format of Cisco and most PBXes:
// "Signal=5\r\nDuration=160\r\n").
const DTMFInfoContentType = "application/dtmf-relay"

// MediaConfig configures the RTP media the UA attaches to calls. The zero
// value gives every call whose host brings no SDP of its own an audio
// session: PCMU, PCMA and telephone-event, 20 ms, symmetric RTP, on ports of
// rtp.DefaultPortMin…rtp.DefaultPortMax, advertised on the address of the
// call's Contact.
type MediaConfig struct {
	// RTPTimeout hangs up (BYE, Call.Err ErrMediaTimeout) a call whose
	// peer sent no RTP and no RTCP for this long while it was to send
	// (not while the call is on hold, either way): a peer that vanished never sends its
	// BYE. Set it above the peer's idle keep-alive and RTCP intervals (ours:
	// 1 s and 5 s). 0, the default, never hangs up for silence, since a
	// peer with silence suppression and no RTCP may rightly send nothing.
	RTPTimeout time.Duration
	// DisableMedia turns the media layer off: calls carry only the SDP the
	// host gives (DialOptions.SDP, IncomingCall.Answer), as without package
	// rtp. Tests over internal/memnet set it, since RTP uses real sockets.
	DisableMedia bool
	// IP is the local media address: the sockets bind to it and the SDP
	// announces it. Zero: bind every interface (of the family of the SIP
	// address in use) and announce the address of the call's Contact.
	IP netip.Addr
	// PortMin and PortMax bound the RTP ports (rtp.PortAllocatorConfig);
	// zero: the rtp package's default range.
	PortMin, PortMax uint16
	// Codecs are the payload formats offered and accepted, in preference
	// order; nil: sdp.DefaultCodecs. Leave telephone-event out to send
	// and receive DTMF in SIP INFO only. Put audio.G722() first for
	// wideband calls: a call that gets G.722 reads and writes 16 kHz
	// frames (Call.Media().SampleRate()).
	Codecs []audio.Codec
	// Ptime is the packetization time asked for, in milliseconds; 0 means
	// sdp.DefaultPtime.
	Ptime int
	// RTCPMux offers RTP and RTCP on one port (RFC 5761).
	RTCPMux bool
	// VoIPMetrics offers (and accepts) RTCP XR VoIP Metrics reports
	// (RFC 3611, a=rtcp-xr:voip-metrics): the session's RTCP then carries
	// its loss, delay and E-model figures to the peer.
	VoIPMetrics bool
	// DisableSymmetric turns off symmetric RTP (NAT latching, RFC 4961).
	DisableSymmetric bool
	// SuppressSilence stops the stream sent while the host writes no
	// audio (rtp.SessionConfig.SuppressSilence): by default a call sends
	// silence every ptime, or RFC 3389 comfort noise at the end of each
	// talkspurt and then every IdleKeepAlive when the peer negotiated CN;
	// suppressed, only a keep-alive every IdleKeepAlive goes out.
	SuppressSilence bool
	// IdleKeepAlive is the interval of the RTP keep-alives sent while the
	// call sends no media (hold, inactive, suppressed silence; RFC 6263)
	// and of comfort-noise refreshes (rtp.SessionConfig.IdleKeepAlive);
	// 0 means rtp.DefaultIdleKeepAlive, negative none.
	IdleKeepAlive time.Duration
	// Jitter configures each session's playout buffer.
	Jitter jitter.Config
	// DTMF configures the RFC 4733 digits SendDTMF sends.
	DTMF dtmf.SenderConfig
	// RTCPInterval is the minimum RTCP report interval of each session
	// (rtp.SessionConfig.RTCPInterval, RFC 3550 §6.2 Tmin); 0 means
	// rtp.RTCPDefaultMinInterval (5 s). Short calls that want a round-trip
	// time in their statistics lower it.
	RTCPInterval time.Duration
	// HostSampleRate fixes the rate of the audio frames the host reads
	// and writes on every call (rtp.SessionConfig.HostSampleRate): 8000 or
	// 16000, converted when the call's codec has the other, and on an
	// Opus call coded at that rate by libopus itself (the RTP clock stays
	// 48 kHz). 0: the codec's rate (16 kHz on a G.722 call, 8 kHz on
	// G.711, 48 kHz on Opus).
	HostSampleRate int
	// SRTP is the SDES-SRTP policy of calls (package rtp/srtp): off
	// (srtp.PolicyOff), optional (an offer of RTP/AVP with a=crypto, which
	// peers without SRTP ignore; a secure offer answered securely) or
	// mandatory (RTP/SAVP; a plain offer refused with 488). The zero
	// value, srtp.PolicyDefault, is off for sip: calls and mandatory for
	// sips: ones. Keys never appear in logs or in Config.Transport.Tracer's
	// messages.
	SRTP srtp.Policy
	// SRTPSuites are the SDES crypto suites offered and accepted, in
	// preference order; nil: srtp.DefaultSuites.
	SRTPSuites []srtp.Suite
	// HoldMusic, when set, is music on hold: while our side holds a call
	// (Call.Hold, a=sendonly, RFC 3264 §8.4) the peer hears it, looped,
	// in place of the host's audio, which Call.Resume gives back. Load it
	// once with rtp.LoadLoop; every call shares it. nil: the held peer
	// hears nothing.
	HoldMusic *rtp.Loop
	// STUNTimeout bounds the wait for the public mapping of a call's RTP
	// and RTCP sockets, asked of the line's STUNServer before the offer
	// or answer is made (media_stun.go); past it the SDP announces the
	// Contact's address (the one the registrar taught) and the local
	// ports. 0: DefaultMediaSTUNTimeout; negative: the media sockets never
	// ask STUN.
	STUNTimeout time.Duration
	// Tracer sees every RTP and RTCP datagram of every call's session
	// (rtp.SessionConfig.Tracer), for captures beside Config.Tracer's SIP;
	// nil is none.
	Tracer rtp.PacketTracer
}

// ErrNoAnswer: an offer we made got no SDP answer (a 2xx without body for
// an INVITE with an offer, or an ACK without body after our offer in a
// 2xx, RFC 3264 §4); the call is hung up.
var ErrNoAnswer = errors.New("ua: no SDP answer to our offer")

// callMedia is the RTP session of a call and the offer/answer state that
// drives it.
type callMedia struct {
	u    *UA
	sess *rtp.Session

	mu     sync.Mutex // guards neg, params, early, sec
	sec    callSecurity
	neg    *sdp.Negotiator
	params sdp.MediaParams
	have   bool
	early  []byte // the answer of a 18x, applied before the 2xx

	call atomic.Pointer[Call] // the call, once there is one (events)
}

// newMedia opens an RTP session and its negotiator. host is the address to
// announce when MediaConfig.IP is unset (the call's Contact host); the
// public mapping of the session's sockets replaces it when line (nil:
// none) has a STUN server that tells it.
func (u *UA) newMedia(ctx context.Context, line *Line, host, scheme string) (*callMedia, error) {
	mc := &u.cfg.Media
	adv, bind := mc.IP, mc.IP
	if !adv.IsValid() {
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil || a.IsUnspecified() {
			a = netip.MustParseAddr("127.0.0.1")
			u.log.Warn("media: Contact host is not an IP address; announcing 127.0.0.1 (set Config.Media.IP)", "host", host)
		}
		adv = a.Unmap()
		bind = netip.IPv4Unspecified()
		if adv.Is6() {
			bind = netip.IPv6Unspecified()
		}
	}
	jc := mc.Jitter
	sess, err := rtp.NewSession(ctx, rtp.SessionConfig{
		LocalAddr:        bind,
		Ports:            u.ports,
		RTCPMux:          mc.RTCPMux,
		DisableSymmetric: mc.DisableSymmetric,
		SuppressSilence:  mc.SuppressSilence,
		IdleKeepAlive:    mc.IdleKeepAlive,
		Jitter:           jc,
		DTMF:             mc.DTMF,
		Logger:           u.cfg.Logger,
		Tracer:           mc.Tracer,
		RTCPInterval:     mc.RTCPInterval,
		HostSampleRate:   mc.HostSampleRate,
	})
	if err != nil {
		return nil, fmt.Errorf("ua: media: %w", err)
	}
	port, rtcpPort := sess.LocalAddr().Port(), uint16(0)
	if pub, ok := u.mediaMapping(ctx, line, sess); ok {
		adv, port = pub.RTP.Addr(), pub.RTP.Port()
		if sess.LocalRTCPAddr() != sess.LocalAddr() && pub.RTCP.Port() != port+1 {
			rtcpPort = pub.RTCP.Port() // RFC 3605: the NAT broke the port+1 pairing
		}
	}
	neg, err := sdp.NewNegotiator(sdp.Config{
		Addr:        adv,
		Port:        port,
		RTCPPort:    rtcpPort,
		RTCPMux:     mc.RTCPMux,
		VoIPMetrics: mc.VoIPMetrics,
		Codecs:      mc.Codecs,
		Ptime:       mc.Ptime,
		Username:    "dialtone",
	})
	if err != nil {
		_ = sess.Close()
		return nil, fmt.Errorf("ua: media: %w", err)
	}
	return &callMedia{u: u, sess: sess, neg: neg, sec: newCallSecurity(mc, scheme)}, nil
}

// setRemote applies an exchange's outcome; m.mu is held.
func (m *callMedia) setRemote(p sdp.MediaParams) error {
	if err := m.sess.SetRemote(p); err != nil {
		return err
	}
	m.params, m.have = p, true
	return nil
}

// offer makes an offer (initial, re-offer, or in a 2xx to an offerless
// INVITE).
func (m *callMedia) offer() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.prepareOfferLocked(); err != nil {
		return nil, err
	}
	return m.neg.CreateOffer()
}

// answer answers the peer's offer and applies the outcome.
func (m *callMedia) answer(offer []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys, idx, err := m.prepareAnswerLocked(offer)
	if err != nil {
		return nil, err
	}
	ans, p, err := m.neg.Answer(offer)
	if err != nil {
		return nil, err
	}
	if err := m.applyAnswerSecurityLocked(keys, idx, p); err != nil {
		return nil, err
	}
	if err := m.setRemote(p); err != nil {
		return nil, err
	}
	m.startDTLSLocked()
	return ans, nil
}

// applyAnswer applies the answer to our pending offer. A provisional
// response's answer (early media) is applied at once; the 2xx then usually
// repeats it, and a different one is applied against our offer again.
func (m *callMedia) applyAnswer(body []byte, provisional bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(body) == 0 {
		if provisional {
			return nil
		}
		if m.neg.OfferPending() {
			m.neg.CancelOffer()
			return ErrNoAnswer
		}
		return nil
	}
	if m.neg.OfferPending() {
		p, err := m.neg.ApplyAnswer(body)
		if err != nil {
			return err
		}
		if provisional {
			m.early = bytes.Clone(body)
		}
		if err := m.applySecurityLocked(body, p); err != nil {
			return err
		}
		if err := m.setRemote(p); err != nil {
			return err
		}
		m.startDTLSLocked()
		return nil
	}
	if m.early == nil || bytes.Equal(body, m.early) {
		return nil
	}
	ans, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	p, err := sdp.ApplyAnswer(m.neg.LocalDescription(), ans)
	if err != nil {
		return err
	}
	m.early = bytes.Clone(body)
	if err := m.applySecurityLocked(body, p); err != nil {
		return err
	}
	if err := m.setRemote(p); err != nil {
		return err
	}
	m.startDTLSLocked()
	return nil
}

func (m *callMedia) paramsNow() (sdp.MediaParams, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.params, m.have
}

func (m *callMedia) close() {
	if m != nil {
		m.mu.Lock()
		d := &m.sec.dtls
		cancel, done := d.cancel, d.done
		d.cancel, d.done, d.pending = nil, nil, nil
		m.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
		_ = m.sess.Close()
	}
}

// quality returns the session's quality figures, nil without media.
func (m *callMedia) quality() *rtp.Quality {
	if m == nil {
		return nil
	}
	q := m.sess.Quality()
	return &q
}

// MediaQuality returns the call's media quality figures so far (after the
// end, those of the whole call, as EventCallEnded carries them): packets,
// loss, late, concealed, jitter, RTCP round-trip time and the E-model MOS.
// ok is false for a call without a media session.
func (c *Call) MediaQuality() (q rtp.Quality, ok bool) {
	if p := c.media.quality(); p != nil {
		return *p, true
	}
	return rtp.Quality{}, false
}

// forwardDTMF turns the session's RFC 4733 digits into EventDTMF until the
// session closes.
func (m *callMedia) forwardDTMF(c *Call) {
	u := m.u
	u.mediaWG.Go(func() {
		for d := range m.sess.DTMF() {
			u.emit(Event{Kind: EventDTMF, Line: c.line, Call: c, CallID: c.callID, Digit: d.Digit, DigitDuration: d.Duration})
		}
	})
}

// mediaEnabled reports whether calls without host SDP get a session.
func (u *UA) mediaEnabled() bool { return !u.cfg.Media.DisableMedia }

// Media returns the call's RTP session, the PCM reader and writer of the
// call's audio (ReadFrame/WriteFrame, Play/Record, Stats), or nil when the
// host brought its own SDP or media is disabled. The session closes when the
// call ends.
func (c *Call) Media() *rtp.Session {
	if c.media == nil {
		return nil
	}
	return c.media.sess
}

// MediaParams returns the outcome of the call's latest offer/answer
// exchange (remote address, codec, direction, telephone-event), and false
// before one completed or for a call without media.
func (c *Call) MediaParams() (sdp.MediaParams, bool) {
	if c.media == nil {
		return sdp.MediaParams{}, false
	}
	return c.media.paramsNow()
}

// SendDTMF sends digits (0-9, *, #, A-D) to the peer: as RFC 4733
// telephone events in the RTP stream when the peer negotiated
// telephone-event, else one SIP INFO application/dtmf-relay per digit (see
// SendDTMFInfo). It returns once the last digit is sent (or its INFO
// answered). On a call that has ended it returns ErrCallEnded.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	select {
	case <-c.Done():
		return ErrCallEnded
	default:
	}
	if m := c.media; m != nil {
		err := m.sess.SendDTMF(ctx, digits)
		switch {
		case errors.Is(err, rtp.ErrSessionClosed):
			// The call ended while the digits were going out.
			return fmt.Errorf("%w: %w", ErrCallEnded, err)
		case !errors.Is(err, rtp.ErrNoTelephoneEvent):
			return err
		}
	}
	return c.SendDTMFInfo(ctx, digits)
}

// SendDTMFInfo sends each digit in its own SIP INFO request with an
// application/dtmf-relay body ("Signal=5\r\nDuration=160\r\n"), waiting
// for each answer before the next. An invalid digit gives an error wrapping
// dtmf.ErrDigit before anything is sent.
func (c *Call) SendDTMFInfo(ctx context.Context, digits string) error {
	for _, d := range digits {
		if _, err := dtmf.EventForDigit(d); err != nil {
			return err
		}
	}
	ms := strconv.Itoa(int(DefaultDTMFInfoDuration / time.Millisecond))
	for _, d := range digits {
		body := []byte("Signal=" + strings.ToUpper(string(d)) + "\r\nDuration=" + ms + "\r\n")
		if _, err := c.Request(ctx, sip.INFO, body, DTMFInfoContentType); err != nil {
			return err
		}
	}
	return nil
}

// ParseDTMFRelay reads an application/dtmf-relay body: "Signal=" with a
// digit (or its event code 0-15) and an optional "Duration=" in
// milliseconds, one per line, in any case and order. It reports false for
// a body without a valid signal.
func ParseDTMFRelay(body []byte) (digit rune, dur time.Duration, ok bool) {
	if len(body) > MaxDTMFInfoBody {
		return 0, 0, false
	}
	for line := range bytes.Lines(body) {
		k, v, found := bytes.Cut(bytes.TrimSpace(line), []byte("="))
		if !found {
			continue
		}
		key := strings.ToLower(string(bytes.TrimSpace(k)))
		val := string(bytes.TrimSpace(v))
		switch key {
		case "signal":
			if n, err := strconv.Atoi(val); err == nil && len(val) > 1 {
				if n < 0 || n > 15 {
					return 0, 0, false
				}
				r, _ := dtmf.DigitForEvent(uint8(n))
				digit = r
				continue
			}
			if len(val) != 1 {
				return 0, 0, false
			}
			r := rune(val[0])
			if _, err := dtmf.EventForDigit(r); err != nil {
				return 0, 0, false
			}
			digit = []rune(strings.ToUpper(string(r)))[0]
		case "duration":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 && n <= 60000 {
				dur = time.Duration(n) * time.Millisecond
			}
		}
	}
	return digit, dur, digit != 0
}

// receiveInfoDTMF emits EventDTMF for an INFO carrying a DTMF digit.
func (u *UA) receiveInfoDTMF(c *Call, req *sip.Request) {
	if !strings.EqualFold(req.ContentType(), DTMFInfoContentType) {
		return
	}
	if d, dur, ok := ParseDTMFRelay(req.Body()); ok {
		u.emit(Event{Kind: EventDTMF, Line: c.line, Call: c, CallID: c.callID, Digit: d, DigitDuration: dur, DTMFInfo: true})
	}
}
