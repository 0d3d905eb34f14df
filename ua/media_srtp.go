package ua

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/srtp"
)

// SDES-SRTP of a call (RFC 4568, RFC 3711): MediaConfig.SRTP chooses, the
// callMedia offers or answers a=crypto through its Negotiator's Config
// (Proto, AcceptProtos, Attributes) and keys its rtp.Session (SetSRTP).

// callSecurity is a call's SRTP state, guarded by callMedia.mu.
type callSecurity struct {
	policy  srtp.Policy  // resolved for the call's URI scheme
	suites  []srtp.Suite // offered and accepted, in preference order
	offered []srtp.Crypto
	// remote and local are the a=crypto of the last exchange that
	// secured the stream: a re-offer repeating remote gets local again.
	remote, local srtp.Crypto
	secured       bool
	dtls          callDTLS // DTLS-SRTP (media_dtls.go)
}

// newCallSecurity resolves cfg's policy for a call whose URIs have scheme.
func newCallSecurity(mc *MediaConfig, scheme string) callSecurity {
	return callSecurity{policy: mc.SRTP.For(scheme), suites: mc.SRTPSuites}
}

// secureAnswerProtos are the profiles an answer may accept when SRTP is
// not off.
var secureAnswerProtos = []string{srtp.ProtoSAVP}

// prepareOfferLocked sets the negotiator up for an offer under the
// policy: the profile and our a=crypto lines (made once per call; once
// the stream is secured, re-offers carry the key in use only, so that a
// re-INVITE does not re-key).
func (m *callMedia) prepareOfferLocked() error {
	sec := &m.sec
	cfg := m.neg.Config()
	cfg.Proto = sec.policy.OfferProto()
	cfg.Attributes = nil
	cfg.AcceptProtos = nil
	sec.dtls.offered = false
	if sec.policy.OffersDTLS() || sec.dtls.on {
		// A call keyed by DTLS-SRTP stays so in our re-offers.
		if err := m.prepareDTLSOfferLocked(&cfg); err != nil {
			return err
		}
		return m.neg.SetConfig(cfg)
	}
	if sec.policy.OffersCrypto() {
		if sec.offered == nil && sec.secured {
			// We answered before: our re-offer keeps the key in use.
			sec.offered = []srtp.Crypto{sec.local}
		}
		if sec.offered == nil {
			c, err := srtp.OfferCryptos(sec.suites)
			if err != nil {
				return err
			}
			sec.offered = c
		}
		for _, c := range sec.offered {
			cfg.Attributes = append(cfg.Attributes, sdp.Attribute{Key: srtp.CryptoAttribute, Value: c.Attribute()})
		}
		cfg.AcceptProtos = secureAnswerProtos
	}
	return m.neg.SetConfig(cfg)
}

// applySecurityLocked keys the session from the answer to our offer
// (body), whose accepted stream p names: SRTP with our offered key and the
// answer's, or plain RTP; a mandatory policy refuses a plain answer.
func (m *callMedia) applySecurityLocked(body []byte, p sdp.MediaParams) error {
	sec := &m.sec
	ans, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	if p.Index >= len(ans.Media) {
		return fmt.Errorf("ua: media: answer has no m= line %d", p.Index)
	}
	md := &ans.Media[p.Index]
	if m.sec.dtls.offered && srtp.IsDTLSProto(md.Proto) {
		return m.applyDTLSAnswerLocked(body, md)
	}
	if err := m.endDTLSLocked(); err != nil {
		return err
	}
	cryptos, _ := srtp.CryptosFrom(md.Attributes)
	secure, err := sec.policy.Accept(md.Proto, len(cryptos) > 0)
	if err != nil {
		return fmt.Errorf("ua: media: %w", err)
	}
	if !secure {
		sec.secured = false
		return m.sess.SetSRTP(nil)
	}
	mine, err := srtp.MatchAnswer(sec.offered, cryptos[0])
	if err != nil {
		return fmt.Errorf("ua: media: %w", err)
	}
	sec.secured = true
	// Re-offers repeat the chosen key only (RFC 4568 §7.1.4), and a
	// re-offer from the peer repeating its key gets ours again.
	sec.offered = []srtp.Crypto{mine}
	sec.remote, sec.local = cryptos[0], mine
	return m.sess.SetSRTP(&srtp.ContextConfig{Local: mine.Keys, Remote: cryptos[0].Keys})
}

// prepareAnswerLocked looks at the offer's audio stream before the
// negotiator answers it: under the policy, it sets the answer's a=crypto
// (or none) and returns the keys to apply once the answer is made, nil for
// plain RTP. A plain offer to a mandatory line, a secure one to a line
// with SRTP off, or a secure one without an acceptable suite give an error
// wrapping sdp.ErrNotAcceptable (488).
func (m *callMedia) prepareAnswerLocked(offer []byte) (*srtp.ContextConfig, int, error) {
	sec := &m.sec
	cfg := m.neg.Config()
	cfg.Attributes = nil
	cfg.AcceptProtos = nil
	sec.dtls.answering = false
	if sec.policy != srtp.PolicyOff {
		cfg.AcceptProtos = secureAnswerProtos
	}
	sd, err := sdp.Parse(offer)
	if err != nil {
		return nil, -1, err
	}
	idx := -1
	for i := range sd.Media {
		md := &sd.Media[i]
		if md.Port != 0 && strings.EqualFold(md.Type, "audio") && (cfg.AcceptsProto(md.Proto) || srtp.IsSecureProto(md.Proto)) {
			idx = i
			break
		}
	}
	if idx < 0 {
		// Nothing to secure: the negotiator says why it refuses.
		return nil, -1, m.neg.SetConfig(cfg)
	}
	md := &sd.Media[idx]
	if srtp.IsDTLSProto(md.Proto) {
		if err := m.prepareDTLSAnswerLocked(offer, md, &cfg); err != nil {
			return nil, -1, err
		}
		sec.dtls.answering = true
		return nil, idx, m.neg.SetConfig(cfg)
	}
	cryptos, _ := srtp.CryptosFrom(md.Attributes)
	remote, local, cerr := srtp.AnswerCrypto(cryptos, sec.suites)
	secure, err := sec.policy.Accept(md.Proto, cerr == nil)
	if err != nil {
		return nil, -1, fmt.Errorf("%w: %w", sdp.ErrNotAcceptable, err)
	}
	var keys *srtp.ContextConfig
	if secure {
		if sec.secured && sameCrypto(remote, sec.remote) {
			local = sec.local // a re-offer that keeps its key keeps ours
		}
		cfg.Attributes = []sdp.Attribute{{Key: srtp.CryptoAttribute, Value: local.Attribute()}}
		keys = &srtp.ContextConfig{Local: local.Keys, Remote: remote.Keys}
		sec.remote, sec.local = remote, local
	}
	return keys, idx, m.neg.SetConfig(cfg)
}

func sameCrypto(a, b srtp.Crypto) bool {
	return a.Tag == b.Tag && a.Keys.Suite == b.Keys.Suite && bytes.Equal(a.Keys.Key, b.Keys.Key) && bytes.Equal(a.Keys.Salt, b.Keys.Salt)
}

// applyAnswerSecurityLocked keys the session after our answer to stream
// idx of the offer went out.
func (m *callMedia) applyAnswerSecurityLocked(keys *srtp.ContextConfig, idx int, p sdp.MediaParams) error {
	if (keys != nil || m.sec.dtls.answering) && p.Index != idx {
		return fmt.Errorf("%w: the secured stream %d is not the one answered (%d)", sdp.ErrNotAcceptable, idx, p.Index)
	}
	if m.sec.dtls.answering {
		return nil // keyed by the handshake startDTLSLocked starts
	}
	if err := m.endDTLSLocked(); err != nil {
		return err
	}
	m.sec.secured = keys != nil
	return m.sess.SetSRTP(keys)
}

// cryptoKey matches the key of an SDES inline key parameter (RFC 4568
// §9.1: "inline:" then base64 up to "|", a space or the line's end).
var cryptoKey = regexp.MustCompile(`(?i)(a=crypto:[^\r\n]*?inline:)[A-Za-z0-9+/=]+`)

// redactSDES returns b with the keys of its a=crypto lines replaced by
// "[redacted]", or b itself when it has none.
func redactSDES(b []byte) []byte {
	if !bytes.Contains(b, []byte("inline:")) {
		return b
	}
	return cryptoKey.ReplaceAll(b, []byte("${1}[redacted]"))
}

// redactingTracer hides SDES keys from the SIP messages a Tracer sees.
type redactingTracer struct{ next Tracer }

// Trace implements Tracer.
func (r redactingTracer) Trace(ev TraceEvent) {
	ev.Data = redactSDES(ev.Data)
	r.next.Trace(ev)
}

// withoutKeys wraps t so that it never sees an SDES key; nil stays nil.
func withoutKeys(t Tracer) Tracer {
	if t == nil {
		return nil
	}
	return redactingTracer{next: t}
}
