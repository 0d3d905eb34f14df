package ua

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// DTLS-SRTP of a call (RFC 5763, RFC 5764, RFC 8842): under
// srtp.PolicyDTLS the call offers UDP/TLS/RTP/SAVP with our a=fingerprint
// and a=setup:actpass; any policy but off answers a DTLS offer with
// a=setup:active (passive to an active offer). Once the exchange is done
// the handshake runs on the call's RTP socket, and without rtcp-mux a
// second one on its RTCP socket (rtp.Session.HandshakeDTLS), on a
// goroutine the callMedia owns; a failure (a wrong fingerprint among
// them) leaves the call without media and is reported as
// EventMediaRefused. A re-INVITE that keeps the peer's fingerprint and our
// role (hold, resume) keeps the association; one that changes either makes
// a new one (RFC 5763 §6.7.1 ... re-key).

// callDTLS is a call's DTLS-SRTP state, guarded by callMedia.mu.
type callDTLS struct {
	offered   bool // our pending offer is a DTLS one
	answering bool // the offer being answered is a DTLS one
	on        bool // the stream is keyed by DTLS-SRTP, or a handshake is under way
	client    bool // our role in the association
	remote    srtp.Fingerprint
	pending   *srtp.DTLSConfig // a handshake to start once the remote is set
	cancel    context.CancelFunc
	done      chan struct{}
}

// ErrDTLSSDP reports a DTLS-SRTP offer or answer without a usable
// a=fingerprint or a=setup (the UA answers 488 to such an offer).
var ErrDTLSSDP = errors.New("ua: media: DTLS-SRTP stream without a usable a=fingerprint or a=setup")

// dtlsIdentity returns the UA's DTLS certificate and its fingerprint,
// made the first time a call needs it.
func (u *UA) dtlsIdentity() (srtp.DTLSConfig, error) {
	u.dtlsOnce.Do(func() {
		u.dtlsCert, u.dtlsFP, u.dtlsErr = srtp.NewCertificate()
	})
	return srtp.DTLSConfig{Certificate: u.dtlsCert}, u.dtlsErr
}

// prepareDTLSOfferLocked sets the negotiator's config up for a DTLS-SRTP
// offer: actpass initially, our current role in a re-offer that keeps the
// association (RFC 8842 §5.5).
func (m *callMedia) prepareDTLSOfferLocked(cfg *sdp.Config) error {
	if _, err := m.u.dtlsIdentity(); err != nil {
		return err
	}
	d := &m.sec.dtls
	setup := srtp.SetupActpass
	if d.on {
		setup = srtp.SetupPassive
		if d.client {
			setup = srtp.SetupActive
		}
	}
	cfg.Proto = srtp.ProtoDTLSRTP
	cfg.AcceptProtos = []string{srtp.ProtoDTLSRTP}
	cfg.Attributes = []sdp.Attribute{
		{Key: srtp.FingerprintAttribute, Value: m.u.dtlsFP.String()},
		{Key: srtp.SetupAttribute, Value: setup.String()},
	}
	d.offered = true
	if !d.on {
		// The answerer's ClientHello may come before its answer.
		return m.sess.PrepareDTLS()
	}
	return nil
}

// dtlsParams reads the peer's a=fingerprint and a=setup of stream md of
// body: media level, else session level (baresip puts both there); an
// absent a=setup means active (RFC 4145 §4).
func dtlsParams(body []byte, md *sdp.MediaDescription) (srtp.Fingerprint, srtp.Setup, error) {
	var fpv string
	setup := srtp.SetupNone
	for _, a := range md.Attributes {
		switch strings.ToLower(a.Key) {
		case srtp.FingerprintAttribute:
			if fpv == "" {
				fpv = a.Value
			}
		case srtp.SetupAttribute:
			s, err := srtp.ParseSetup(a.Value)
			if err != nil {
				return srtp.Fingerprint{}, 0, fmt.Errorf("%w: %w", ErrDTLSSDP, err)
			}
			setup = s
		}
	}
	if fpv == "" {
		fpv = sessionAttribute(body, srtp.FingerprintAttribute)
	}
	if setup == srtp.SetupNone {
		if v := sessionAttribute(body, srtp.SetupAttribute); v != "" {
			s, err := srtp.ParseSetup(v)
			if err != nil {
				return srtp.Fingerprint{}, 0, fmt.Errorf("%w: %w", ErrDTLSSDP, err)
			}
			setup = s
		}
	}
	if setup == srtp.SetupNone {
		setup = srtp.SetupActive // RFC 4145 §4: absent means active
	}
	if fpv == "" {
		return srtp.Fingerprint{}, 0, fmt.Errorf("%w: no a=fingerprint", ErrDTLSSDP)
	}
	fp, err := srtp.ParseFingerprint(fpv)
	if err != nil {
		return srtp.Fingerprint{}, 0, fmt.Errorf("%w: %w", ErrDTLSSDP, err)
	}
	return fp, setup, nil
}

// sessionAttribute returns the value of the first session-level a=key
// line of an SDP body (before its first m= line), "" if none; the parser
// keeps media-level attributes only.
func sessionAttribute(body []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(body))
	prefix := "a=" + key + ":"
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "m=") {
			break
		}
		if len(line) > len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
			return strings.TrimSpace(line[len(prefix):])
		}
	}
	return ""
}

// applyDTLSAnswerLocked takes the answer to our DTLS offer: our role from
// its a=setup (active: we are the server; passive: the client), and a
// handshake to start unless the association stays as it is.
func (m *callMedia) applyDTLSAnswerLocked(body []byte, md *sdp.MediaDescription) error {
	d := &m.sec.dtls
	d.offered = false
	fp, setup, err := dtlsParams(body, md)
	if err != nil {
		return err
	}
	var client bool
	switch setup {
	case srtp.SetupActive:
		client = false
	case srtp.SetupPassive:
		client = true
	default:
		return fmt.Errorf("%w: answer a=setup %v (want active or passive)", ErrDTLSSDP, setup)
	}
	m.sec.secured = true
	m.planDTLSLocked(fp, client)
	return nil
}

// prepareDTLSAnswerLocked answers a DTLS-SRTP offer: the answer's
// a=fingerprint and a=setup (RFC 5763 §5: active to actpass; keeping our
// role in a re-offer of the association), and the handshake to start once
// the answer is made.
func (m *callMedia) prepareDTLSAnswerLocked(offer []byte, md *sdp.MediaDescription, cfg *sdp.Config) error {
	if m.sec.policy == srtp.PolicyOff {
		return fmt.Errorf("%w: %w", sdp.ErrNotAcceptable, srtp.ErrSRTPRefused)
	}
	if _, err := m.u.dtlsIdentity(); err != nil {
		return err
	}
	fp, setup, err := dtlsParams(offer, md)
	if err != nil {
		return fmt.Errorf("%w: %w", sdp.ErrNotAcceptable, err)
	}
	d := &m.sec.dtls
	ours := srtp.AnswerSetup(setup)
	if d.on && setup == srtp.SetupActpass && !d.client {
		ours = srtp.SetupPassive // keep being the server of the association
	}
	if ours != srtp.SetupActive && ours != srtp.SetupPassive {
		return fmt.Errorf("%w: %w: offer a=setup %v", sdp.ErrNotAcceptable, ErrDTLSSDP, setup)
	}
	cfg.AcceptProtos = append(cfg.AcceptProtos, md.Proto)
	cfg.Attributes = []sdp.Attribute{
		{Key: srtp.FingerprintAttribute, Value: m.u.dtlsFP.String()},
		{Key: srtp.SetupAttribute, Value: ours.String()},
	}
	m.sec.secured = true
	m.planDTLSLocked(fp, ours == srtp.SetupActive)
	return nil
}

// planDTLSLocked records the association the exchange asks for: a new
// handshake unless one with this peer fingerprint and role is in place.
func (m *callMedia) planDTLSLocked(fp srtp.Fingerprint, client bool) {
	d := &m.sec.dtls
	if d.on && d.client == client && d.remote.Hash == fp.Hash && bytes.Equal(d.remote.Value, fp.Value) {
		return // hold, resume, a new codec: the association stays
	}
	cfg, _ := m.u.dtlsIdentity()
	cfg.Remote, cfg.Client, cfg.Suites = fp, client, m.dtlsSuites()
	d.on, d.client, d.remote, d.pending = true, client, fp, &cfg
	// From now on no plain media, and the peer's first flight is kept.
	if err := m.sess.PrepareDTLS(); err != nil {
		m.u.log.Debug("media: DTLS on a closed session", "err", err.Error())
	}
}

// dtlsSuites are the SRTP profiles use_srtp offers: the configured SDES
// suites DTLS-SRTP has profiles for, else srtp.DefaultDTLSSuites.
func (m *callMedia) dtlsSuites() []srtp.Suite {
	var out []srtp.Suite
	for _, s := range m.sec.suites {
		if s == srtp.AES_CM_128_HMAC_SHA1_80 || s == srtp.AEAD_AES_128_GCM {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return srtp.DefaultDTLSSuites()
	}
	return out
}

// startDTLSLocked starts the planned handshake, once the session knows the
// peer's address; the previous one, if still running, is stopped first.
func (m *callMedia) startDTLSLocked() {
	d := &m.sec.dtls
	cfg := d.pending
	if cfg == nil {
		return
	}
	d.pending = nil
	if d.cancel != nil {
		// A re-key: the old handshake, if still under way, ends; the UA's
		// goroutine group waits for it.
		d.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.cancel, d.done = cancel, done
	sess := m.sess
	if !m.u.goTrack(func() {
		defer close(done)
		err := sess.HandshakeDTLS(ctx, *cfg)
		if err != nil && ctx.Err() == nil {
			m.dtlsFailed(err)
		}
	}) {
		cancel()
		close(done)
	}
}

// stopDTLSLocked stops a handshake under way (close waits for it).
func (m *callMedia) stopDTLSLocked() {
	if d := &m.sec.dtls; d.cancel != nil {
		d.cancel()
	}
}

// endDTLSLocked ends DTLS-SRTP on the call (a re-INVITE to another keying).
func (m *callMedia) endDTLSLocked() error {
	d := &m.sec.dtls
	if !d.on {
		return nil
	}
	m.stopDTLSLocked()
	d.on, d.pending = false, nil
	return m.sess.EndDTLS()
}

// dtlsFailed reports a failed handshake: the call has no media (the
// session sends and plays nothing without keys).
func (m *callMedia) dtlsFailed(err error) {
	c := m.call.Load()
	ev := Event{Kind: EventMediaRefused, Call: c, Err: fmt.Errorf("ua: media: %w", err)}
	if c != nil {
		ev.CallID, ev.Line = c.callID, c.line
	}
	m.u.log.Warn("media: DTLS-SRTP handshake failed; the call has no media", "err", err.Error())
	// On its own goroutine: OnEvent may hang up, and closing the media
	// waits for the handshake's goroutine, this one.
	m.u.goTrack(func() { m.u.emit(ev) })
}
