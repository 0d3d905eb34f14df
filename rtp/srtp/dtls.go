package srtp

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	piondtls "github.com/pion/dtls/v3"
)

// The DTLS-SRTP handshake (RFC 5763, RFC 5764): over a packet connection
// to the peer's media address, the DTLS client (a=setup:active) or server
// (a=setup:passive) runs the handshake with the use_srtp extension, checks
// the certificate the peer presents against its a=fingerprint, and exports
// the SRTP master keys and salts (RFC 5764 §4.2). Handshake retransmission
// is pion/dtls's.

// Errors of the DTLS handshake.
var (
	// ErrDTLS reports a DTLS handshake that failed or did not end in
	// time (the error wraps the context's error then).
	ErrDTLS = errors.New("srtp: DTLS handshake")
	// ErrFingerprintMismatch reports a peer certificate that does not
	// match its a=fingerprint (RFC 5763 §5: the media is refused). It
	// also wraps ErrDTLS and ErrFingerprint.
	ErrFingerprintMismatch = errors.New("srtp: the peer's DTLS certificate does not match its a=fingerprint")
)

// DefaultDTLSRetransmit is the first retransmission interval of a
// handshake flight when DTLSConfig.Retransmit is zero; it doubles with each
// retransmission (pion/dtls's back-off). It is below RFC 6347 §4.2.4.1's
// 1 s because a lost first flight is the common case here: the answerer,
// the DTLS client, sends its ClientHello with its answer, often before the
// offerer has read the answer and is ready for it (baresip drops it), and
// a second at 1 s would add a second of silence to every such call.
const DefaultDTLSRetransmit = 250 * time.Millisecond

// DefaultDTLSSuites are the SRTP protection profiles offered in use_srtp
// when DTLSConfig.Suites is empty, in preference order (RFC 5764 §4.1.2,
// RFC 7714 §14.2).
func DefaultDTLSSuites() []Suite {
	return []Suite{AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM}
}

// dtlsProfiles maps the suites DTLS-SRTP can negotiate to use_srtp values.
var dtlsProfiles = map[Suite]piondtls.SRTPProtectionProfile{
	AES_CM_128_HMAC_SHA1_80: piondtls.SRTP_AES128_CM_HMAC_SHA1_80,
	AES_CM_128_HMAC_SHA1_32: piondtls.SRTP_AES128_CM_HMAC_SHA1_32,
	AEAD_AES_128_GCM:        piondtls.SRTP_AEAD_AES_128_GCM,
	AEAD_AES_256_GCM:        piondtls.SRTP_AEAD_AES_256_GCM,
}

// DTLSConfig configures one DTLS-SRTP handshake.
type DTLSConfig struct {
	// Certificate is ours (NewCertificate); its fingerprint is the one
	// our SDP announces.
	Certificate tls.Certificate
	// Remote is the peer's a=fingerprint; its certificate must match.
	Remote Fingerprint
	// Client is true when we start the handshake (our a=setup is active).
	Client bool
	// Suites are the SRTP profiles offered (client) or accepted (server)
	// in preference order; empty means DefaultDTLSSuites. Suites DTLS-SRTP
	// has no profile for are left out.
	Suites []Suite
	// ReplayWindow is the SRTP replay window of the keys (ContextConfig).
	ReplayWindow int
	// Retransmit is the first retransmission interval of a flight; 0
	// means DefaultDTLSRetransmit.
	Retransmit time.Duration
	// Logger gets pion/dtls's messages at debug level; nil: none (pion
	// would write its errors to stderr).
	Logger *slog.Logger
}

// DTLSResult is what a finished handshake gives: the SRTP keys and the
// DTLS connection, which the caller keeps until the media ends (it
// answers the peer's retransmitted last flight and close_notify) and
// closes then.
type DTLSResult struct {
	Keys ContextConfig
	Conn *piondtls.Conn
}

// Handshake runs the DTLS-SRTP handshake over conn with the peer at
// raddr. ctx bounds it (the caller sets the timeout). On success the
// result's Keys protect what we send with our write keys (client or server,
// RFC 5764 §4.2) and unprotect with the peer's. A certificate that does not
// match cfg.Remote gives an error wrapping ErrFingerprintMismatch; other
// failures wrap ErrDTLS. The error never shows key material.
func Handshake(ctx context.Context, conn net.PacketConn, raddr net.Addr, cfg DTLSConfig) (*DTLSResult, error) {
	if len(cfg.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrDTLS)
	}
	if _, ok := fingerprintHashes[cfg.Remote.Hash]; !ok || len(cfg.Remote.Value) == 0 {
		return nil, fmt.Errorf("%w: no usable peer fingerprint", ErrDTLS)
	}
	suites := cfg.Suites
	if len(suites) == 0 {
		suites = DefaultDTLSSuites()
	}
	var profiles []piondtls.SRTPProtectionProfile
	for _, s := range suites {
		if p, ok := dtlsProfiles[s]; ok {
			profiles = append(profiles, p)
		}
	}
	if len(profiles) == 0 {
		return nil, fmt.Errorf("%w: no suite DTLS-SRTP can negotiate", ErrDTLS)
	}
	var mismatch atomic.Bool
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		// RFC 5763 §5: the certificate is self-signed; what counts is
		// that it is the one the signalling announced.
		if len(raw) == 0 || !cfg.Remote.Matches(raw[0]) {
			mismatch.Store(true)
			return ErrFingerprintMismatch
		}
		return nil
	}
	opts := []piondtls.Option{
		piondtls.WithCertificates(cfg.Certificate),
		piondtls.WithSRTPProtectionProfiles(profiles...),
		piondtls.WithExtendedMasterSecret(piondtls.RequestExtendedMasterSecret),
		piondtls.WithInsecureSkipVerify(true), // the fingerprint is the check
		piondtls.WithVerifyPeerCertificate(verify),
		piondtls.WithFlightInterval(cmp.Or(cfg.Retransmit, DefaultDTLSRetransmit)),
		piondtls.WithLoggerFactory(slogFactory{log: cfg.Logger}),
	}
	var dc *piondtls.Conn
	var err error
	if cfg.Client {
		copts := make([]piondtls.ClientOption, 0, len(opts))
		for _, o := range opts {
			copts = append(copts, o)
		}
		dc, err = piondtls.ClientWithOptions(conn, raddr, copts...)
	} else {
		sopts := make([]piondtls.ServerOption, 0, len(opts)+1)
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		sopts = append(sopts, piondtls.WithClientAuth(piondtls.RequireAnyClientCert))
		dc, err = piondtls.ServerWithOptions(conn, raddr, sopts...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDTLS, err)
	}
	if err := dc.HandshakeContext(ctx); err != nil {
		_ = dc.Close()
		if mismatch.Load() {
			return nil, fmt.Errorf("%w: %w: %w", ErrDTLS, ErrFingerprint, ErrFingerprintMismatch)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrDTLS, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrDTLS, err)
	}
	keys, err := exportKeys(dc, cfg)
	if err != nil {
		_ = dc.Close()
		return nil, err
	}
	return &DTLSResult{Keys: keys, Conn: dc}, nil
}

// exportKeys derives the SRTP keys from a finished handshake (RFC 5764
// §4.2): client key, server key, client salt, server salt.
func exportKeys(dc *piondtls.Conn, cfg DTLSConfig) (ContextConfig, error) {
	prof, ok := dc.SelectedSRTPProtectionProfile()
	if !ok {
		return ContextConfig{}, fmt.Errorf("%w: the peer negotiated no SRTP profile (use_srtp)", ErrDTLS)
	}
	var suite Suite
	for s, p := range dtlsProfiles {
		if p == prof {
			suite = s
		}
	}
	if suite == 0 {
		return ContextConfig{}, fmt.Errorf("%w: SRTP profile %#x not supported", ErrDTLS, uint16(prof))
	}
	st, ok := dc.ConnectionState()
	if !ok {
		return ContextConfig{}, fmt.Errorf("%w: no connection state", ErrDTLS)
	}
	kl, sl := suite.KeyLen(), suite.SaltLen()
	m, err := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 2*(kl+sl))
	if err != nil {
		return ContextConfig{}, fmt.Errorf("%w: exporter: %w", ErrDTLS, err)
	}
	client := Keys{Suite: suite, Key: m[:kl], Salt: m[2*kl : 2*kl+sl]}
	server := Keys{Suite: suite, Key: m[kl : 2*kl], Salt: m[2*kl+sl:]}
	if cfg.Client {
		return ContextConfig{Local: client, Remote: server, ReplayWindow: cfg.ReplayWindow}, nil
	}
	return ContextConfig{Local: server, Remote: client, ReplayWindow: cfg.ReplayWindow}, nil
}
