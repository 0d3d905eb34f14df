package ua

import (
	"context"
	"log/slog"
	"time"

	"github.com/dialtone/dialtone/dialog"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
)

// Defaults of Config and LineConfig fields left zero.
const (
	// DefaultExpires is the registration lifetime asked for (RFC 3261
	// §10.2.1.1 suggests 3600 s).
	DefaultExpires = time.Hour
	// DefaultMaxRedirects bounds the 3xx responses one Dial follows.
	DefaultMaxRedirects = 5
	// DefaultMaxCalls bounds the calls alive at once, both directions.
	DefaultMaxCalls = 1 << 20
	// DefaultAnswerTimeout is how long an incoming call may stay unanswered
	// after its handler returned before it is refused with 480.
	DefaultAnswerTimeout = 3 * time.Minute
	// DefaultCloseTimeout bounds how long Close waits for the final
	// responses to the BYEs, CANCELs and un-REGISTERs in flight (see
	// UA.Close): with the default T1 of 500 ms, long enough for a request
	// and three retransmissions (sent at 0, 0.5, 1.5 and 3.5 s), far short
	// of Timer F's 32 s.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultMaxGlareRetries is how many times Reinvite retries after 491
	// Request Pending (RFC 3261 §14.1) before it gives up.
	DefaultMaxGlareRetries = 3
	// DefaultRetryMin and DefaultRetryMax bound the back-off between failed
	// registration attempts when the registrar gives no Retry-After: it
	// starts at RetryMin and doubles up to RetryMax (RFC 5626 §4.5 uses the
	// same shape).
	DefaultRetryMin = 30 * time.Second
	DefaultRetryMax = 30 * time.Minute
	// MinRefresh is the shortest time between two registration refreshes,
	// whatever the registrar grants.
	MinRefresh = time.Second
	// DefaultUserAgent is the User-Agent header value when Config.UserAgent
	// is empty.
	DefaultUserAgent = "dialtone"
)

// ListenConfig is one listener: a network and a "host:port" address
// (port 0 picks one).
type ListenConfig struct {
	Network transport.Network
	Addr    string
}

// Limits are the user agent's bounds. Zero fields take the defaults above.
type Limits struct {
	// MaxCalls bounds calls alive at once; past it incoming INVITEs get
	// 503 and Dial fails with ErrTooManyCalls.
	MaxCalls int
	// MaxRedirects is the default of DialOptions.MaxRedirects.
	MaxRedirects int
	// AnswerTimeout bounds how long an incoming call stays unanswered after
	// Config.OnCall returned (480 Temporarily Unavailable afterwards).
	AnswerTimeout time.Duration
	// CloseTimeout bounds the wait of Close for the outcome of the
	// unregistrations, hang-ups, and BYEs, CANCELs and un-REGISTERs
	// already in flight (UA.Close lists them); Shutdown takes a context
	// instead.
	CloseTimeout time.Duration
	// MaxGlareRetries bounds the retries of a re-INVITE after 491.
	MaxGlareRetries int
	// DrainRetryAfter is the Retry-After of the 503 that new requests get
	// while the UA drains (UA.Drain). 0 means DefaultDrainRetryAfter.
	DrainRetryAfter time.Duration
}

// Config configures a UA. The zero value is valid: a UA listening on UDP on
// an ephemeral port of every interface, with no lines, refusing incoming calls
// with 480, with the RFC 3261 timers and DNS resolution (RFC 3263).
type Config struct {
	// Listen lists the listeners. Empty: UDP on "0.0.0.0:0".
	Listen []ListenConfig
	// Lines are the accounts; those with a Registrar register at New unless
	// LineConfig.Manual is set.
	Lines []LineConfig
	// Transport configures the transport layer beneath the UA, whole:
	// sockets (Net: nil is the operating system's; tests pass an
	// internal/memnet network), TLS for listeners and ClientTLS for
	// outgoing connections, the parser's Limits, UDP buffers, connection
	// limits and timeouts, the Tracer that sees every message sent and
	// received. Zero fields take the transport's defaults; a nil Logger
	// takes Config.Logger. OnFlowClosed and OnSTUN must be left nil: the
	// UA handles flows and STUN answers itself.
	Transport TransportConfig
	// Transaction configures the transaction layer, whole: RFC 3261's
	// Timers T1, T2 and T4 (zero fields: 500 ms, 4 s, 5 s; tests shorten
	// nothing, they run in virtual time), Shards, limits. Handler must be
	// left nil: the UA is the transaction user. A nil Logger takes
	// Config.Logger.
	Transaction TransactionConfig
	// Resolver turns URIs into targets (RFC 3263). Nil: a
	// transport.DNSResolver over /etc/resolv.conf.
	Resolver transport.Resolver
	// Logger gets warnings and debug records; nil is silent.
	Logger *slog.Logger
	// UserAgent is the User-Agent (and Server) header value; empty:
	// DefaultUserAgent.
	UserAgent string
	// Limits are the user agent's bounds.
	Limits Limits
	// ContactHost is the host put in Contact headers when a listener is
	// bound to a wildcard address (e.g. a public address known in advance).
	// Empty: the local address toward the peer.
	ContactHost string

	// OnEvent receives registration and call events. It is called from the
	// UA's goroutines, possibly concurrently, and must not block; nil drops
	// them.
	OnEvent func(Event)
	// OnCall is called for each new incoming INVITE, on its own goroutine,
	// after the automatic checks (sip.Validate). It answers through the
	// IncomingCall, before or after returning; ctx ends when the caller
	// cancels (CANCEL) or the UA closes. Nil refuses every call with 480.
	OnCall func(ctx context.Context, c *IncomingCall)
	// InlineOnCall promises that OnCall returns at once — it answers,
	// rejects, or hands the call to a goroutine of its own, and never
	// waits — so the UA calls it on the transport goroutine that received
	// the INVITE instead of a goroutine of its own. That saves a hand-off
	// between goroutines (a context switch) per call; an OnCall that
	// blocks then stalls every message behind the INVITE. The UA waits
	// for a late answer (Limits.AnswerTimeout, CANCEL) on a goroutine of
	// its own either way.
	InlineOnCall bool
	// OnReinvite answers a re-INVITE (or UPDATE) from the peer: it gets the
	// offer (nil for an offerless re-INVITE) and returns the SDP answer, or
	// an error (an *AnswerError gives its status, anything else 488). ctx
	// is the request's: it ends if the transaction fails or the UA closes.
	// Nil answers with the current local SDP, its direction mirroring the
	// offer's (hold is answered recvonly, resume sendrecv).
	//
	// Every callback that acts on something takes the context first and
	// the object acted on second, as OnCall does.
	OnReinvite func(ctx context.Context, c *Call, offer []byte) ([]byte, error)
	// OnMessage receives MESSAGE requests (RFC 3428), in or out of a
	// dialog; it returns the status to answer (0 means 200). Nil refuses
	// MESSAGE with 405.
	OnMessage func(ctx context.Context, m *Message) int
	// OnInfo receives INFO requests of a call (RFC 6086); they are answered
	// 200 whether it is set or not.
	OnInfo func(ctx context.Context, c *Call, req *sip.Request)
	// AllowUpdate answers UPDATE (RFC 3311) in a dialog with 200; without
	// it UPDATE gets 501 Not Implemented.
	AllowUpdate bool
	// Rand draws the glare back-off of RFC 3261 §14.1; nil is crypto/rand.
	Rand dialog.Rand
	// Media configures the RTP sessions of calls (package rtp); by default
	// every call without host SDP gets one. See MediaConfig.
	Media MediaConfig
	// DeadTargets remembers the targets that failed (RFC 3263 §4.3
	// failover: a timeout, a transport error, a 503), shared by every line
	// and call, so that the next request skips them for
	// transport.DeadTargetsConfig.DeadTime (30 s) or the 503's
	// Retry-After. Nil: a memory of the UA's own with the defaults; a
	// host may share one among UAs, or with a proxy.
	DeadTargets *transport.DeadTargets

	// Subscriptions to us (RFC 6665; issue 18).
	//
	// OnSubscribe gets each new SUBSCRIBE, on a goroutine of its own: it
	// accepts it (IncomingSubscription.Accept sends the 200 and the first
	// NOTIFY, and returns the Notifier for the later ones) or rejects it;
	// one still unanswered when it returns gets 489 Bad Event. Nil
	// refuses SUBSCRIBE with 405 and leaves it out of Allow.
	OnSubscribe func(ctx context.Context, s *IncomingSubscription)
	// MaxSubscriptionExpires bounds the lifetime granted to a
	// subscription to us (0: DefaultMaxSubscriptionExpires).
	MaxSubscriptionExpires time.Duration
	// OnRefer gets each REFER received in a call (a transfer, RFC 3515),
	// on a goroutine of its own; ctx ends when the UA closes. It accepts
	// it (IncomingRefer.Accept places the new call and reports its
	// progress to the transferor) or rejects it; one still unanswered
	// when it returns gets 603 Decline. Nil refuses REFER with 405 and
	// leaves REFER out of Allow and norefersub out of Supported.
	OnRefer func(ctx context.Context, r *IncomingRefer)

	// Session timers (RFC 4028; issue 18).
	//
	// SessionExpires is the session interval our INVITEs ask for and our
	// 2xx grant (0: DefaultSessionExpires, 1800 s; negative: no session
	// timers, and "timer" leaves Supported). The refresher refreshes at
	// half the interval, by UPDATE when the peer allows it, else by
	// re-INVITE; a session the peer should refresh and does not is ended
	// with a BYE (Call.Err is ErrSessionExpired). LineConfig.SessionExpires
	// overrides it for a line's calls.
	SessionExpires time.Duration
	// MinSessionExpires is the smallest interval accepted: an INVITE
	// asking for less gets 422 with it as Min-SE (0 and anything below:
	// RFC 4028's 90 s).
	MinSessionExpires time.Duration

	// Reliable provisional responses (RFC 3262; issue 18), both roles,
	// for calls of no line or of a line that leaves it to the UA
	// (LineConfig.Reliable): see ReliablePolicy (ReliableSupported, the
	// zero value, PRACKs every
	// reliable 1xx and sends Ring and Progress reliably to INVITEs that
	// require it: retransmitted from T1 doubling until the PRACK, 500
	// after 64·T1 without one, one awaiting its PRACK at a time).
	Reliable ReliablePolicy
}

func (c *Config) fill() {
	if len(c.Listen) == 0 {
		c.Listen = []ListenConfig{{Network: transport.UDP, Addr: "0.0.0.0:0"}}
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	l := &c.Limits
	if l.MaxCalls <= 0 {
		l.MaxCalls = DefaultMaxCalls
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = DefaultMaxRedirects
	}
	if l.AnswerTimeout <= 0 {
		l.AnswerTimeout = DefaultAnswerTimeout
	}
	if l.CloseTimeout <= 0 {
		l.CloseTimeout = DefaultCloseTimeout
	}
	if l.MaxGlareRetries <= 0 {
		l.MaxGlareRetries = DefaultMaxGlareRetries
	}
	if l.DrainRetryAfter <= 0 {
		l.DrainRetryAfter = DefaultDrainRetryAfter
	}
}
