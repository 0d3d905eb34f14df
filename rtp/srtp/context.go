package srtp

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	pionrtcp "github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	pionsrtp "github.com/pion/srtp/v3"
)

// Context settings.
const (
	// DefaultReplayWindow is the replay window, in packets, when
	// ContextConfig.ReplayWindow is zero (RFC 3711 §3.3.2 asks for at
	// least 64).
	DefaultReplayWindow = 128
	// MaxReplayWindow bounds ContextConfig.ReplayWindow.
	MaxReplayWindow = 1 << 15
)

// Errors of Unprotect, each counted in Stats.
var (
	// ErrReplayed reports a packet whose index was already received, or
	// is too old for the replay window (RFC 3711 §3.3.2).
	ErrReplayed = errors.New("srtp: replayed packet")
	// ErrAuth reports a packet that fails authentication: tampered, or
	// protected with other keys.
	ErrAuth = errors.New("srtp: packet fails authentication")
	// ErrMalformed reports a packet too short or not RTP/RTCP.
	ErrMalformed = errors.New("srtp: malformed packet")
	// ErrContextConfig reports invalid keys or settings.
	ErrContextConfig = errors.New("srtp: invalid context configuration")
)

// ContextConfig configures a Context.
type ContextConfig struct {
	// Local keys protect what we send; Remote keys unprotect what we
	// receive. Both with the same suite under SDES (RFC 4568 §6.1).
	Local, Remote Keys
	// RTCP, when set, keys SRTCP apart from SRTP: DTLS-SRTP without
	// rtcp-mux has a second association on the RTCP port whose exported
	// keys protect SRTCP (RFC 5764 §4.1, §4.2). Nil: Local and Remote key
	// both.
	RTCP *KeyPair
	// ReplayWindow is the replay window of SRTP and SRTCP in packets; 0
	// means DefaultReplayWindow.
	ReplayWindow int
}

// KeyPair is the keys of one direction each: Local protects what we send,
// Remote unprotects what we receive.
type KeyPair struct {
	Local, Remote Keys
}

// Counters count one kind of packet (RTP or RTCP) through a Context.
type Counters struct {
	// Protected and Unprotected count packets that went through.
	Protected, Unprotected uint64
	// Replayed, AuthFailed and Malformed count received packets refused.
	Replayed, AuthFailed, Malformed uint64
}

// Stats are a Context's counters.
type Stats struct {
	RTP, RTCP Counters
}

type counters struct {
	protected, unprotected, replayed, authFailed, malformed atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Protected: c.protected.Load(), Unprotected: c.unprotected.Load(),
		Replayed: c.replayed.Load(), AuthFailed: c.authFailed.Load(), Malformed: c.malformed.Load(),
	}
}

// Context protects one session's outgoing RTP and RTCP with its local
// keys and unprotects the incoming with the remote ones (RFC 3711). It is
// safe for concurrent use: the sending side and the receiving side each
// have a lock, so a sender and a receiver do not wait for each other.
type Context struct {
	keysMu sync.Mutex // guards keys.RTCP (SetRTCPKeys)
	keys   ContextConfig
	window uint // the replay window

	txMu     sync.Mutex
	enc      *pionsrtp.Context
	encRTCP  *pionsrtp.Context // enc unless ContextConfig.RTCP
	txHdr    pionrtp.Header
	txRTCPHd pionrtcp.Header

	rxMu     sync.Mutex
	dec      *pionsrtp.Context
	decRTCP  *pionsrtp.Context // dec unless ContextConfig.RTCP
	rxHdr    pionrtp.Header
	rxRTCPHd pionrtcp.Header

	rtp, rtcp counters
}

// NewContext returns a Context for cfg. Errors wrap ErrContextConfig and
// never show a key.
func NewContext(cfg ContextConfig) (*Context, error) {
	w := cfg.ReplayWindow
	if w == 0 {
		w = DefaultReplayWindow
	}
	if w < 0 || w > MaxReplayWindow {
		return nil, fmt.Errorf("%w: ReplayWindow %d not in 1..%d", ErrContextConfig, cfg.ReplayWindow, MaxReplayWindow)
	}
	keys := []Keys{cfg.Local, cfg.Remote}
	if cfg.RTCP != nil {
		keys = append(keys, cfg.RTCP.Local, cfg.RTCP.Remote)
	}
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrContextConfig, err)
		}
	}
	enc, err := newPionContext(cfg.Local)
	if err != nil {
		return nil, err
	}
	dec, err := newPionContext(cfg.Remote,
		pionsrtp.SRTPReplayProtection(uint(w)), pionsrtp.SRTCPReplayProtection(uint(w)))
	if err != nil {
		return nil, err
	}
	c := &Context{keys: cfg, window: uint(w), enc: enc, dec: dec, encRTCP: enc, decRTCP: dec}
	c.keys.RTCP = nil
	if cfg.RTCP != nil {
		if err := c.SetRTCPKeys(*cfg.RTCP); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SetRTCPKeys keys SRTCP apart from SRTP from the next RTCP packet on, as
// ContextConfig.RTCP does, keeping the SRTP state (rollover counter,
// replay window): the RTCP port's DTLS association may end after the RTP
// port's has keyed the media. Invalid keys give an error wrapping
// ErrContextConfig, and nothing changes.
func (c *Context) SetRTCPKeys(k KeyPair) error {
	for _, key := range []Keys{k.Local, k.Remote} {
		if err := key.check(); err != nil {
			return fmt.Errorf("%w: %w", ErrContextConfig, err)
		}
	}
	// pion derives SRTP and SRTCP session keys from one master key; SRTCP
	// keyed apart takes contexts of its own, used for RTCP only.
	enc, err := newPionContext(k.Local)
	if err != nil {
		return err
	}
	dec, err := newPionContext(k.Remote, pionsrtp.SRTCPReplayProtection(c.window))
	if err != nil {
		return err
	}
	c.txMu.Lock()
	c.encRTCP = enc
	c.txMu.Unlock()
	c.rxMu.Lock()
	c.decRTCP = dec
	c.rxMu.Unlock()
	c.keysMu.Lock()
	c.keys.RTCP = &KeyPair{Local: k.Local, Remote: k.Remote}
	c.keysMu.Unlock()
	return nil
}

func newPionContext(k Keys, opts ...pionsrtp.ContextOption) (*pionsrtp.Context, error) {
	if len(k.MKI) > 0 {
		opts = append(opts, pionsrtp.MasterKeyIndicator(k.MKI))
	}
	c, err := pionsrtp.CreateContext(k.Key, k.Salt, k.Suite.info().profile, opts...)
	if err != nil {
		// pion's errors name no key material.
		return nil, fmt.Errorf("%w: %s: %w", ErrContextConfig, k.Suite, err)
	}
	return c, nil
}

// ProtectRTP appends to dst the SRTP packet of the RTP packet pkt and
// returns it.
func (c *Context) ProtectRTP(dst, pkt []byte) ([]byte, error) {
	c.txMu.Lock()
	out, err := c.enc.EncryptRTP(dst[len(dst):], pkt, &c.txHdr)
	c.txMu.Unlock()
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.rtp.protected.Add(1)
	return appendResult(dst, out), nil
}

// UnprotectRTP appends to dst the RTP packet of the SRTP packet pkt and
// returns it. A refused packet gives an error wrapping ErrReplayed, ErrAuth
// or ErrMalformed, and is counted.
func (c *Context) UnprotectRTP(dst, pkt []byte) ([]byte, error) {
	c.rxMu.Lock()
	out, err := c.dec.DecryptRTP(dst[len(dst):], pkt, &c.rxHdr)
	c.rxMu.Unlock()
	if err != nil {
		return dst, c.refused(&c.rtp, err)
	}
	c.rtp.unprotected.Add(1)
	return appendResult(dst, out), nil
}

// ProtectRTCP appends to dst the SRTCP packet of the RTCP compound
// packet pkt (encrypted, RFC 3711 §3.4) and returns it.
func (c *Context) ProtectRTCP(dst, pkt []byte) ([]byte, error) {
	c.txMu.Lock()
	out, err := c.encRTCP.EncryptRTCP(dst[len(dst):], pkt, &c.txRTCPHd)
	c.txMu.Unlock()
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.rtcp.protected.Add(1)
	return appendResult(dst, out), nil
}

// UnprotectRTCP appends to dst the RTCP packet of the SRTCP packet pkt
// and returns it; refusals as UnprotectRTP.
func (c *Context) UnprotectRTCP(dst, pkt []byte) ([]byte, error) {
	c.rxMu.Lock()
	out, err := c.decRTCP.DecryptRTCP(dst[len(dst):], pkt, &c.rxRTCPHd)
	c.rxMu.Unlock()
	if err != nil {
		return dst, c.refused(&c.rtcp, err)
	}
	c.rtcp.unprotected.Add(1)
	return appendResult(dst, out), nil
}

// Suite is the suite of the keys that protect what is sent.
func (c *Context) Suite() Suite { return c.keys.Local.Suite }

// SameKeys reports whether the Context uses the keys of cfg, so that a
// re-offer that repeats them keeps the Context (and its rollover and replay
// state) rather than starting a new one.
func (c *Context) SameKeys(cfg ContextConfig) bool {
	c.keysMu.Lock()
	rtcp := c.keys.RTCP
	c.keysMu.Unlock()
	if (rtcp == nil) != (cfg.RTCP == nil) {
		return false
	}
	if rtcp != nil && !(sameKeys(rtcp.Local, cfg.RTCP.Local) && sameKeys(rtcp.Remote, cfg.RTCP.Remote)) {
		return false
	}
	return sameKeys(c.keys.Local, cfg.Local) && sameKeys(c.keys.Remote, cfg.Remote)
}

func sameKeys(a, b Keys) bool {
	return a.Suite == b.Suite && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Salt, b.Salt) && bytes.Equal(a.MKI, b.MKI)
}

// Stats returns the counters.
func (c *Context) Stats() Stats {
	return Stats{RTP: c.rtp.snapshot(), RTCP: c.rtcp.snapshot()}
}

// refused classifies and counts an unprotect failure.
func (c *Context) refused(n *counters, err error) error {
	switch {
	case errors.Is(err, pionsrtp.ErrFailedToVerifyAuthTag):
		n.authFailed.Add(1)
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.Is(err, errPionDuplicated()):
		n.replayed.Add(1)
		return fmt.Errorf("%w: %w", ErrReplayed, err)
	default:
		n.malformed.Add(1)
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

// appendResult returns dst extended by out: in place when pion wrote into
// dst's spare capacity, by copying when it had to allocate.
func appendResult(dst, out []byte) []byte {
	if len(out) == 0 {
		return dst
	}
	if spare := dst[len(dst):cap(dst)]; len(out) <= len(spare) && &spare[:1][0] == &out[0] {
		return dst[:len(dst)+len(out)]
	}
	return append(dst, out...)
}

// errPionDuplicated is the sentinel pion/srtp wraps in its replay error,
// which it does not export: learnt once by replaying a packet.
var errPionDuplicated = sync.OnceValue(func() error {
	key := make([]byte, 16)
	salt := make([]byte, 14)
	p := pionsrtp.ProtectionProfileAes128CmHmacSha1_80
	enc, err1 := pionsrtp.CreateContext(key, salt, p)
	dec, err2 := pionsrtp.CreateContext(key, salt, p, pionsrtp.SRTPReplayProtection(64))
	if err1 != nil || err2 != nil {
		return errSentinelUnknown
	}
	pkt, _ := (&pionrtp.Packet{Header: pionrtp.Header{Version: 2, SSRC: 1, SequenceNumber: 1}, Payload: []byte{0}}).Marshal()
	srtp, err := enc.EncryptRTP(nil, pkt, nil)
	if err != nil {
		return errSentinelUnknown
	}
	if _, err := dec.DecryptRTP(nil, srtp, nil); err != nil {
		return errSentinelUnknown
	}
	_, err = dec.DecryptRTP(nil, srtp, nil)
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	if err == nil {
		return errSentinelUnknown
	}
	return err
})

// errSentinelUnknown stands for pion's replay sentinel when it cannot be
// learnt; it matches nothing, so replays count as malformed.
var errSentinelUnknown = errors.New("srtp: pion replay sentinel unknown")
