package ua

import (
	"context"
	"time"

	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transport"
)

// LineConfig is an account: an address of record and how to register it
// (RFC 3261 §10).
type LineConfig struct {
	// AOR is the address of record, "sip:alice@example.com" (required).
	AOR string
	// DisplayName goes into From headers.
	DisplayName string
	// Username is the digest user name; empty: the AOR's user part.
	Username string
	// Password, or HA1 values by algorithm, answer digest challenges
	// (RFC 3261 §22, RFC 8760). Neither: challenges fail the request.
	Password string
	HA1      map[digest.Algorithm]string
	// Registrar is the registrar's URI, "sip:example.com". Empty: the line
	// does not register (it still places calls).
	Registrar string
	// OutboundProxy, when set, is where every request of the line goes
	// first, with a loose Route to it (RFC 3261 §8.1.2).
	OutboundProxy string
	// Transport is the network for the line's requests (udp, tcp, tls);
	// empty: as the registrar's or target's URI resolves.
	Transport transport.Network
	// Contact overrides the Contact URI registered and used in calls
	// ("sip:alice@203.0.113.5:5060"). Empty: built from the listener, and
	// corrected once from the registrar's received/rport (RFC 3581).
	Contact string
	// Expires is the registration lifetime asked for (0: DefaultExpires).
	Expires time.Duration
	// Manual keeps New from registering; call Line.Register.
	Manual bool
	// RetryMin and RetryMax bound the back-off after failures (0:
	// DefaultRetryMin, DefaultRetryMax).
	RetryMin, RetryMax time.Duration

	// Reachability behind NAT and over connections (RFC 5626, RFC 3581,
	// RFC 8489); see contact.go and keepalive.go.
	//
	// Keepalive is the interval of the keepalives on the registration's
	// flow once registered: a CRLF ping on TCP, TLS, WS and WSS (RFC 5626
	// §4.4.1), a STUN binding request on UDP (§4.4.2). 0: 25 s on UDP
	// (DefaultUDPKeepalive), 120 s on connections
	// (DefaultStreamKeepalive); negative: none.
	Keepalive time.Duration
	// STUNServer, "host:port" (port 3478 when missing), is asked for the
	// public address of the SIP UDP socket before the line registers over
	// UDP; that address goes into every Contact of the line and the SDP.
	// Each call of the line also asks it for the mappings of the call's
	// RTP and RTCP sockets, which its SDP then announces (media_stun.go).
	// Empty: the registrar's received/rport teach it instead.
	STUNServer string
	// InstanceID is the line's +sip.instance (RFC 5626 §4.1), a URN such
	// as "urn:uuid:…" that should stay the same across restarts of the
	// device; empty: a random one made by New.
	InstanceID string
	// NoOutbound keeps RFC 5626 outbound out of the registration: no
	// +sip.instance and reg-id Contact parameters, no Supported: outbound.
	NoOutbound bool
	// Failover and redundancy (failover.go, probe.go; RFC 3263 §4.3).
	//
	// FailoverAfter ends the attempt on a target that has sent nothing at
	// all (no 100 Trying, no provisional) for this long when another
	// target remains: the request goes to the next one. A target that has
	// answered is never abandoned. 0: DefaultFailoverAfter (4 s);
	// negative: wait for Timer B or F (32 s).
	FailoverAfter time.Duration
	// ProbeInterval is how often the line, while it works through a
	// server other than its most preferred one, asks the preferred ones
	// with OPTIONS whether they are back; it moves back (and
	// re-registers there) when one answers. 0: DefaultProbeInterval
	// (30 s); negative: no probing.
	ProbeInterval time.Duration
	// AlternateProxy is a second registrar and proxy ("sip:backup.example.com"),
	// tried after every target of Registrar (or of the callee's domain)
	// failed. Empty: none.
	AlternateProxy string
	// AlternateOutboundProxy is a second outbound proxy, tried after
	// every target of OutboundProxy failed. Empty: none.
	AlternateOutboundProxy string
	// DualRegistration registers the line with both the primary
	// (Registrar, through OutboundProxy) and the alternate
	// (AlternateProxy, through AlternateOutboundProxy) and keeps both
	// bindings refreshed. Requests go to the primary first, and straight
	// to the alternate while the primary registration has failed.
	DualRegistration bool
	// Message waiting (RFC 3842; issue 18).
	//
	// MessageWaiting subscribes the line to its message-summary at New,
	// at Voicemail (empty: the AOR), and keeps the subscription up while
	// the UA runs: refreshed, and subscribed again when it ends (at once
	// when the notifier deactivated it, after RetryMin doubling up to
	// RetryMax when it failed, never when the notifier rejected it).
	MessageWaiting bool
	Voicemail      string
	// OnMessageWaiting gets each message summary the voicemail notifies
	// (Line.MessageWaiting keeps the latest), on the NOTIFY's goroutine;
	// ctx is the NOTIFY's.
	OnMessageWaiting func(ctx context.Context, l *Line, s MessageSummary)
	// SessionExpires overrides Config.SessionExpires for the line's calls
	// (0: the UA's; negative: no session timer).
	SessionExpires time.Duration
	// Reliable is the line's reliable provisional policy (RFC 3262):
	// ReliableOff or ReliableRequired override Config.Reliable for its
	// calls; ReliableSupported, the zero value, leaves the UA's.
	Reliable ReliablePolicy
}
