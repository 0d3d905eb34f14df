package sdp

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/dialtone/dialtone/rtp/audio"
)

// Errors of the offer/answer exchange (RFC 3264).
var (
	// ErrNotAcceptable reports an offer none of whose media streams can be
	// accepted (RFC 3264 §6), or an answer that rejected all of ours. A UA
	// answers such an offer with 488 Not Acceptable Here (RFC 3261 §13.3.1).
	ErrNotAcceptable = errors.New("sdp: no acceptable media stream")
	// ErrAnswerMismatch reports an answer that does not fit its offer: a
	// different number of m= lines, or a payload format that was not
	// offered (RFC 3264 §6).
	ErrAnswerMismatch = errors.New("sdp: answer does not match offer")
	// ErrOfferPending reports a new offer while one of ours is still
	// unanswered (RFC 3264 §4); a UA answers a re-INVITE in that state with
	// 491 Request Pending (RFC 3261 §14.2).
	ErrOfferPending = errors.New("sdp: an offer is already pending")
	// ErrNoOfferPending reports an answer when no offer of ours waits for
	// one.
	ErrNoOfferPending = errors.New("sdp: no offer pending")
	// ErrOfferConfig reports an invalid Config.
	ErrOfferConfig = errors.New("sdp: invalid offer/answer config")
)

// DefaultPtime is the packetization time, in milliseconds, used when
// Config.Ptime is zero (RFC 3551 §4.5: 20 ms for G.711).
const DefaultPtime = 20

// DefaultCodecs returns the codecs offered when Config.Codecs is
// nil, in preference order: PCMU, PCMA, and telephone-event (events 0-15) at
// payload type 101.
func DefaultCodecs() []audio.Codec {
	return []audio.Codec{audio.PCMU(), audio.PCMA(), audio.TelephoneEvent()}
}

// Config describes the local audio stream for offer/answer. Only Addr
// and Port are required; every other zero field means its documented
// default.
type Config struct {
	// Addr is the local RTP address, written to c= and o= (RFC 4566 §5.7).
	// IPv4 or IPv6. 0.0.0.0 is allowed in an offer and tells the peer not
	// to send anything yet (RFC 3264 §8.4).
	Addr netip.Addr
	// Port is the local RTP port; it must not be 0.
	Port uint16
	// RTCPPort, when not 0, is announced with a=rtcp (RFC 3605); otherwise
	// RTCP is on Port+1 (RFC 3550 §11). Unused when rtcp-mux is negotiated.
	RTCPPort uint16
	// RTCPMux offers or accepts RTP and RTCP on one port (RFC 5761 §5.1.1).
	RTCPMux bool
	// Codecs are the payload formats in preference order: the order of
	// our offers; an answer accepts these and keeps the offer's order
	// (RFC 3264 §6.1). nil means DefaultCodecs. Payload types must be
	// unique and at most 127.
	Codecs []audio.Codec
	// Ptime is the packetization time we want to receive, in milliseconds
	// (a=ptime, RFC 4566 §6); 0 means DefaultPtime.
	Ptime int
	// VoIPMetrics offers, or accepts when offered, RTCP XR VoIP Metrics
	// reports (a=rtcp-xr:voip-metrics, RFC 3611 §4.7, §5.1).
	VoIPMetrics bool
	// AnswerInOurOrder makes an answer list the formats it accepts in the
	// order of Codecs rather than the offer's (RFC 3264 §6.1 allows it;
	// by default the offerer's preference wins). Either way the offer's
	// payload type numbers are kept.
	AnswerInOurOrder bool
	// MaxPtime, when not 0, is announced as a=maxptime (RFC 4566 §6): the
	// longest packets we can receive, in milliseconds. It must not be
	// below Ptime.
	MaxPtime int
	// Direction is the local direction preference; the zero value is
	// SendRecv.
	Direction Direction
	// Username is the o= username; empty means "-" (RFC 4566 §5.2).
	Username string
	// SessionName is the s= line; empty means "-".
	SessionName string
	// SessionID is the o= session id; 0 means a random one from
	// crypto/rand.
	SessionID uint64
	// Limits bound the remote SDP bodies a Negotiator parses.
	Limits Limits
	// Proto is the m= profile of our offers; empty means RTP/AVP
	// ("RTP/SAVP" for mandatory SRTP, RFC 3711 §12).
	Proto string
	// AcceptProtos are the profiles an offered audio stream may have
	// besides RTP/AVP (e.g. "RTP/SAVP"); the answer repeats the offer's
	// profile (RFC 3264 §6).
	AcceptProtos []string
	// Attributes are added to the audio m= section of our offers and
	// answers, after the ones this package writes (a=crypto of SDES).
	Attributes []Attribute
}

// AcceptsProto reports whether an offered audio stream of profile proto
// can be answered: RTP/AVP, or one of AcceptProtos.
func (c Config) AcceptsProto(proto string) bool {
	return strings.EqualFold(proto, "RTP/AVP") ||
		slices.ContainsFunc(c.AcceptProtos, func(p string) bool { return strings.EqualFold(p, proto) })
}

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrOfferConfig}, args...)...)
	}
	if !c.Addr.IsValid() {
		return bad("no local address")
	}
	if c.Port == 0 {
		return bad("no local port")
	}
	if c.Codecs == nil {
		c.Codecs = DefaultCodecs()
	} else {
		c.Codecs = slices.Clone(c.Codecs)
	}
	hasAudio := false
	seen := make(map[uint8]bool, len(c.Codecs))
	for i := range c.Codecs {
		k := &c.Codecs[i]
		if k.Name == "" || strings.TrimSpace(k.Name) != k.Name || strings.ContainsAny(k.Name, "/\r\n") {
			return bad("codec name %q", k.Name)
		}
		if strings.ContainsAny(k.Fmtp, "\r\n") || strings.TrimSpace(k.Fmtp) != k.Fmtp {
			return bad("codec %s fmtp %q", k.Name, k.Fmtp)
		}
		if k.PayloadType > 127 || seen[k.PayloadType] {
			return bad("codec %s payload type %d is out of range or used twice", k.Name, k.PayloadType)
		}
		if k.ClockRate == 0 {
			return bad("codec %s has no clock rate", k.Name)
		}
		if k.Channels < 1 {
			k.Channels = 1
		}
		seen[k.PayloadType] = true
		hasAudio = hasAudio || !isAuxCodec(*k)
	}
	if !hasAudio {
		return bad("no audio codec besides telephone-event and CN")
	}
	switch {
	case c.Ptime < 0:
		return bad("negative ptime")
	case c.MaxPtime < 0 || (c.MaxPtime > 0 && c.MaxPtime < cmp.Or(c.Ptime, DefaultPtime)):
		return bad("maxptime below ptime")
	case c.Ptime == 0:
		c.Ptime = DefaultPtime
	}
	if c.Direction > Inactive {
		return bad("direction %v", c.Direction)
	}
	if c.Username == "" {
		c.Username = "-"
	}
	if !isSDPToken(c.Username) {
		return bad("username %q", c.Username)
	}
	if c.SessionName == "" {
		c.SessionName = "-"
	}
	if strings.ContainsAny(c.SessionName, "\r\n") {
		return bad("session name %q", c.SessionName)
	}
	if c.SessionID == 0 {
		c.SessionID = randomSessionID()
	}
	return c, nil
}

// randomSessionID returns a random non-zero id below 2^62, so that peers
// that parse it as a signed 64-bit number can also add to it.
func randomSessionID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read doc)
	if id := binary.BigEndian.Uint64(b[:]) >> 2; id != 0 {
		return id
	}
	return 1
}

// isAuxCodec reports whether c carries no audio of its own: RFC 4733
// telephone-event or RFC 3389 comfort noise.
func isAuxCodec(c audio.Codec) bool {
	return strings.EqualFold(c.Name, "telephone-event") || strings.EqualFold(c.Name, "CN")
}

func isTelephoneEvent(c audio.Codec) bool { return strings.EqualFold(c.Name, "telephone-event") }

// sameCodec reports whether a and b name the same format: same encoding name
// (case-insensitive), clock rate and channel count (RFC 3264 §6.1).
func sameCodec(a, b audio.Codec) bool {
	ch := func(c audio.Codec) int { return max(c.Channels, 1) }
	return a.Name != "" && strings.EqualFold(a.Name, b.Name) && a.ClockRate == b.ClockRate && ch(a) == ch(b)
}

// MediaParams is the result of an offer/answer exchange for the one audio
// stream, from the local point of view. The RTP session layer uses it to
// address, encode and gate media.
type MediaParams struct {
	// Index is the position of the audio stream among the m= lines.
	Index int
	// RemoteRTP is where to send RTP. An unspecified address (0.0.0.0,
	// RFC 3264 §8.4) means send nothing.
	RemoteRTP netip.AddrPort
	// RemoteRTCP is where to send RTCP: RemoteRTP with rtcp-mux, otherwise
	// the a=rtcp port and address or RTP port + 1 (RFC 3605, RFC 3550 §11).
	RemoteRTCP netip.AddrPort
	// RTCPMux reports that both sides agreed on rtcp-mux (RFC 5761).
	RTCPMux bool
	// Codec is the audio codec to send with: the first audio format of the
	// answer (RFC 3264 §6.1). Its PayloadType is the one to put in RTP
	// headers.
	Codec audio.Codec
	// RemoteFmtp is the peer's own a=fmtp for Codec's payload type, empty
	// when it sent none. Codec.Fmtp may be ours (an answer puts our
	// parameters in); declarative parameters such as Opus' (RFC 7587 §6.1:
	// what the peer wants to receive) are read from here.
	RemoteFmtp string
	// TelephoneEvent is the negotiated RFC 4733 format, if HasTelephoneEvent.
	TelephoneEvent audio.Codec
	// HasTelephoneEvent reports that telephone-event was negotiated.
	HasTelephoneEvent bool
	// Codecs are all formats of the answer, in its order: the ones either
	// side may send.
	Codecs []audio.Codec
	// Direction is the effective local direction: whether we may send
	// (Sends) and must expect media (Receives). It is the offered direction
	// intersected with the reverse of the answered one (RFC 3264 §6.1), and
	// loses "send" when the peer's address is 0.0.0.0.
	Direction Direction
	// RemotePtime is the peer's a=ptime in milliseconds, 0 if it sent none;
	// it is the packetization the peer wants to receive.
	RemotePtime int
	// RemoteMaxPtime is the peer's a=maxptime in milliseconds, 0 if it
	// sent none: the longest packets the peer can receive.
	RemoteMaxPtime int
	// VoIPMetrics reports that both sides announced RTCP XR VoIP Metrics
	// (a=rtcp-xr:voip-metrics): the session adds the block to its reports.
	VoIPMetrics bool
}

// sessionFor returns an empty description carrying cfg's origin and
// connection address. SessionVersion is left 0 for the caller.
func sessionFor(cfg Config) *SessionDescription {
	return &SessionDescription{
		Origin: Origin{
			Username:    cfg.Username,
			SessionID:   cfg.SessionID,
			AddressType: sdpAddrType(cfg.Addr),
			Address:     cfg.Addr.String(),
		},
		SessionName: cfg.SessionName,
		Connection:  cfg.Addr,
	}
}

// audioMediaFor returns the local audio m= section for cfg. a=rtcp is written
// unless rtcp-mux was negotiated in an answer (RFC 5761 §5.1.1).
func audioMediaFor(cfg Config, formats []audio.Codec, dir Direction, mux, answer bool) MediaDescription {
	m := MediaDescription{
		Type:        "audio",
		Port:        cfg.Port,
		Proto:       cmp.Or(cfg.Proto, "RTP/AVP"),
		Formats:     formats,
		Connection:  cfg.Addr,
		Direction:   dir,
		Ptime:       cfg.Ptime,
		MaxPtime:    cfg.MaxPtime,
		RTCPMux:     mux,
		VoIPMetrics: cfg.VoIPMetrics,
		Attributes:  slices.Clone(cfg.Attributes),
	}
	if !mux || !answer {
		m.RTCPPort = cfg.RTCPPort
	}
	return m
}

// disabledMedia returns m with port 0: how an answer rejects a stream and how
// a later offer keeps an m= line it no longer uses (RFC 3264 §6, §8.2). The
// format list is kept, as at least one format is required.
func disabledMedia(m *MediaDescription, conn netip.Addr) MediaDescription {
	return MediaDescription{
		Type:       m.Type,
		Port:       0,
		Proto:      m.Proto,
		Formats:    slices.Clone(m.Formats),
		RawFormats: slices.Clone(m.RawFormats),
		Connection: conn,
		Direction:  Inactive,
	}
}

// NewOffer returns an initial offer (RFC 3264 §5) with one audio stream
// described by cfg. Its o= line carries cfg.SessionID (random if 0) and
// session version 1. A Negotiator does this and also tracks versions.
func NewOffer(cfg Config) (*SessionDescription, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sd := sessionFor(cfg)
	sd.Origin.SessionVersion = 1
	sd.Media = []MediaDescription{audioMediaFor(cfg, cfg.Codecs, cfg.Direction, cfg.RTCPMux, false)}
	return sd, nil
}

// Answer answers offer with cfg (RFC 3264 §6). The answer has the offer's
// number and order of m= lines. The first audio stream over RTP/AVP with a
// common audio codec is accepted:
//   - its formats are the offered ones cfg.Codecs accepts, in the offer's
//     order (RFC 3264 §6.1 recommends keeping it), each with the offer's
//     payload type number, so a telephone-event offered at 96 is answered
//     at 96 (RFC 3264 §6.1);
//     a format's fmtp is cfg's when cfg has one, else the offer's;
//   - its direction is the reverse of the offered one intersected with
//     cfg.Direction (sendonly → recvonly, recvonly → sendonly, inactive →
//     inactive), and an offer from 0.0.0.0 counts as one that will not
//     receive (RFC 3264 §8.4);
//   - rtcp-mux is accepted when both offer it (RFC 5761 §5.1.1).
//
// Every other stream, including further audio streams, is rejected with port
// 0 and its format list echoed. If no stream is accepted the error wraps
// ErrNotAcceptable. The answer's o= line carries cfg.SessionID and version 1;
// a Negotiator keeps versions across a dialog.
func Answer(offer *SessionDescription, cfg Config) (*SessionDescription, MediaParams, error) {
	if offer == nil {
		return nil, MediaParams{}, &Error{Reason: "no offer"}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, MediaParams{}, err
	}
	return answerWith(offer, cfg, cfg.Direction)
}

func answerWith(offer *SessionDescription, cfg Config, want Direction) (*SessionDescription, MediaParams, error) {
	ans := sessionFor(cfg)
	ans.Origin.SessionVersion = 1
	accepted := -1
	var params MediaParams
	var reasons []string
	for i := range offer.Media {
		om := &offer.Media[i]
		reason := ""
		switch {
		case om.Port == 0:
			reason = "disabled by the offerer"
		case !strings.EqualFold(om.Type, "audio"):
			reason = "media type " + om.Type + " not supported"
		case !cfg.AcceptsProto(om.Proto):
			reason = "protocol " + om.Proto + " not supported"
		case accepted >= 0:
			reason = "only one audio stream is supported"
		}
		var formats []audio.Codec
		if reason == "" {
			formats = commonCodecs(om.Formats, cfg.Codecs)
			if cfg.AnswerInOurOrder {
				formats = inOrderOf(formats, cfg.Codecs)
			}
			if !slices.ContainsFunc(formats, func(c audio.Codec) bool { return !isAuxCodec(c) }) {
				reason = "no common codec"
			}
		}
		if reason == "" && !om.Connection.IsValid() {
			return nil, MediaParams{}, &Error{Reason: fmt.Sprintf("offered audio stream %d has no c= address", i)}
		}
		if reason != "" {
			reasons = append(reasons, fmt.Sprintf("m-line %d: %s", i, reason))
			ans.Media = append(ans.Media, disabledMedia(om, cfg.Addr))
			continue
		}
		offered := om.Direction
		if om.Connection.IsUnspecified() {
			offered = offered.Intersect(SendOnly) // RFC 3264 §8.4: offerer will not receive
		}
		dir := offered.Reverse().Intersect(want)
		mux := om.RTCPMux && cfg.RTCPMux
		am := audioMediaFor(cfg, formats, dir, mux, true)
		am.Proto = om.Proto // RFC 3264 §6: the answer keeps the offer's profile
		ans.Media = append(ans.Media, am)
		accepted = i
		params = mediaParamsFor(i, om, slices.Clone(formats), dir, mux)
		params.VoIPMetrics = cfg.VoIPMetrics && om.VoIPMetrics
		ans.Media[len(ans.Media)-1].VoIPMetrics = params.VoIPMetrics
	}
	if accepted < 0 {
		if len(reasons) == 0 {
			reasons = append(reasons, "no media lines")
		}
		return nil, MediaParams{}, fmt.Errorf("%w: %s", ErrNotAcceptable, strings.Join(reasons, "; "))
	}
	return ans, params, nil
}

// inOrderOf returns formats sorted by the position of the matching
// preferred format in prefs (stable).
func inOrderOf(formats, prefs []audio.Codec) []audio.Codec {
	rank := func(c audio.Codec) int {
		for i, p := range prefs {
			if sameCodec(c, p) {
				return i
			}
		}
		return len(prefs)
	}
	slices.SortStableFunc(formats, func(a, b audio.Codec) int { return cmp.Compare(rank(a), rank(b)) })
	return formats
}

// commonCodecs returns, in the offer's order, the offered formats that
// match a preferred one, each preferred format matching once, with the
// offered payload type and the preferred fmtp when set. RFC 3264 §6.1
// recommends that an answer keep the offer's relative order unless the
// answerer has a reason not to; prefs only choose what is acceptable.
func commonCodecs(offered, prefs []audio.Codec) []audio.Codec {
	used := make([]bool, len(prefs))
	var out []audio.Codec
	for _, o := range offered {
		if slices.ContainsFunc(out, func(c audio.Codec) bool { return c.PayloadType == o.PayloadType }) {
			continue
		}
		for i, p := range prefs {
			if used[i] || !sameCodec(o, p) {
				continue
			}
			used[i] = true
			if p.Fmtp != "" {
				o.Fmtp = p.Fmtp
			}
			out = append(out, o)
			break
		}
	}
	return out
}

// mediaParamsFor builds the local view of a negotiated stream whose remote
// side is remote.
func mediaParamsFor(idx int, remote *MediaDescription, codecs []audio.Codec, dir Direction, mux bool) MediaParams {
	p := MediaParams{
		Index:          idx,
		RemoteRTP:      netip.AddrPortFrom(remote.Connection, remote.Port),
		RTCPMux:        mux,
		Codecs:         codecs,
		Direction:      dir,
		RemotePtime:    remote.Ptime,
		RemoteMaxPtime: remote.MaxPtime,
	}
	if remote.Connection.IsUnspecified() {
		p.Direction = p.Direction.Intersect(RecvOnly) // RFC 3264 §8.4: send nothing
	}
	if mux {
		p.RemoteRTCP = p.RemoteRTP
	} else {
		addr, port := remote.Connection, remote.RTCPPort
		if remote.RTCPAddr.IsValid() {
			addr = remote.RTCPAddr
		}
		if port == 0 && remote.Port < 65535 {
			port = remote.Port + 1
		}
		p.RemoteRTCP = netip.AddrPortFrom(addr, port)
	}
	for _, c := range codecs {
		if !isAuxCodec(c) {
			p.Codec = c
			break
		}
	}
	if i := slices.IndexFunc(remote.Formats, func(f audio.Codec) bool { return f.PayloadType == p.Codec.PayloadType }); i >= 0 {
		p.RemoteFmtp = remote.Formats[i].Fmtp
	}
	// Prefer the telephone-event at the audio codec's clock rate (RFC 4733 §2.1).
	i := slices.IndexFunc(codecs, func(c audio.Codec) bool { return isTelephoneEvent(c) && c.ClockRate == p.Codec.ClockRate })
	if i < 0 {
		i = slices.IndexFunc(codecs, isTelephoneEvent)
	}
	if i >= 0 {
		p.TelephoneEvent, p.HasTelephoneEvent = codecs[i], true
	}
	return p
}

// ApplyAnswer returns the outcome of our offer and the peer's answer
// (RFC 3264 §7). The answer must have as many m= lines as the offer, and
// every format it lists for the accepted stream must have been offered:
// matched by payload type, or by name, clock rate and channels when the
// answerer renumbered it (then Codec carries the answer's number, the one the
// peer expects to receive). Otherwise the error wraps ErrAnswerMismatch. If
// the answer rejected every audio stream the error wraps ErrNotAcceptable.
func ApplyAnswer(offer, answer *SessionDescription) (MediaParams, error) {
	if offer == nil || answer == nil {
		return MediaParams{}, &Error{Reason: "no offer or no answer"}
	}
	if len(answer.Media) != len(offer.Media) {
		return MediaParams{}, fmt.Errorf("%w: %d m-lines answered to %d offered", ErrAnswerMismatch, len(answer.Media), len(offer.Media))
	}
	for i := range offer.Media {
		om, am := &offer.Media[i], &answer.Media[i]
		if om.Port == 0 || am.Port == 0 || !strings.EqualFold(om.Type, "audio") || !om.IsRTP() {
			continue
		}
		if !strings.EqualFold(om.Type, am.Type) || !strings.EqualFold(om.Proto, am.Proto) {
			return MediaParams{}, fmt.Errorf("%w: m-line %d answered as %s %s", ErrAnswerMismatch, i, am.Type, am.Proto)
		}
		codecs, err := answeredCodecs(om.Formats, am.Formats)
		if err != nil {
			return MediaParams{}, fmt.Errorf("%w: m-line %d: %v", ErrAnswerMismatch, i, err)
		}
		if !slices.ContainsFunc(codecs, func(c audio.Codec) bool { return !isAuxCodec(c) }) {
			return MediaParams{}, fmt.Errorf("%w: m-line %d: answer has no audio codec", ErrAnswerMismatch, i)
		}
		if !am.Connection.IsValid() {
			return MediaParams{}, &Error{Reason: fmt.Sprintf("answered audio stream %d has no c= address", i)}
		}
		dir := om.Direction.Intersect(am.Direction.Reverse())
		if om.Connection.IsUnspecified() {
			dir = dir.Intersect(SendOnly)
		}
		p := mediaParamsFor(i, am, codecs, dir, om.RTCPMux && am.RTCPMux)
		p.VoIPMetrics = om.VoIPMetrics && am.VoIPMetrics
		return p, nil
	}
	return MediaParams{}, fmt.Errorf("%w: the answer rejected every audio stream", ErrNotAcceptable)
}

// answeredCodecs checks the answered formats against the offered ones and
// returns them with names filled in from the offer where the answer had no
// a=rtpmap.
func answeredCodecs(offered, answered []audio.Codec) ([]audio.Codec, error) {
	out := make([]audio.Codec, 0, len(answered))
	for _, a := range answered {
		i := slices.IndexFunc(offered, func(o audio.Codec) bool {
			return o.PayloadType == a.PayloadType && (a.Name == "" || sameCodec(o, a))
		})
		if i < 0 && a.Name != "" {
			i = slices.IndexFunc(offered, func(o audio.Codec) bool { return sameCodec(o, a) })
		}
		if i < 0 {
			return nil, fmt.Errorf("payload type %d (%s) was not offered", a.PayloadType, a.Name)
		}
		if a.Name == "" {
			fmtp := a.Fmtp
			a = offered[i]
			a.Fmtp = cmp.Or(fmtp, a.Fmtp)
		}
		out = append(out, a)
	}
	return out, nil
}
