package proxy

import (
	"errors"
	"log/slog"
	"time"

	"github.com/dialtone/dialtone/sip/digest"
	"github.com/dialtone/dialtone/transaction"
	"github.com/dialtone/dialtone/transport"
)

// Defaults of the Config fields left zero. Every limit the server enforces
// is one of these, overridable in Config.
const (
	// DefaultMinExpires is the shortest registration accepted; shorter
	// ones get 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3
	// step 7).
	DefaultMinExpires = 60 * time.Second
	// DefaultMaxExpires caps the lifetime granted to a binding.
	DefaultMaxExpires = 2 * time.Hour
	// DefaultExpires is the lifetime of a binding registered without an
	// expires parameter or Expires header (RFC 3261 §10.2.1.1).
	DefaultExpires = time.Hour
	// DefaultMaxBindingsPerAOR bounds the contacts of one address of
	// record; a REGISTER that would exceed it is refused 403.
	DefaultMaxBindingsPerAOR = 10
	// DefaultMaxBranches bounds the branches one request forks into
	// (bindings beyond it, lowest q first, are not tried).
	DefaultMaxBranches = 10
	// DefaultSequentialTimeout is how long a branch of sequential forking
	// rings before it is canceled and the next target tried.
	DefaultSequentialTimeout = 20 * time.Second
	// DefaultBranchTimeout is RFC 3261 §16.6 step 11's Timer C: an INVITE
	// branch without a final response after this long is canceled. It
	// runs from the branch's start: unlike the RFC's Timer C it is not
	// restarted by provisional responses, so it also bounds ringing.
	DefaultBranchTimeout = 3 * time.Minute
	// DefaultMaxStateless bounds the messages being forwarded outside a
	// request's handler at one time, each on a short goroutine: ACKs for
	// 2xx, and 2xx that follow a branch's first one. More are dropped;
	// the UAS retransmits its 2xx, the UAC its ACK with each 2xx.
	DefaultMaxStateless = 1024
	// DefaultStatelessTimeout bounds the resolution and send of one
	// statelessly forwarded ACK for a 2xx.
	DefaultStatelessTimeout = 5 * time.Second
	// DefaultSweepInterval is how often expired bindings are removed from
	// the location service.
	DefaultSweepInterval = time.Minute
	// DefaultNonceLifetime is how long a digest nonce of the server stays
	// valid (then stale=true asks for a new one).
	DefaultNonceLifetime = 5 * time.Minute
)

// Mode says what the server does with a request for a user of its domain.
type Mode uint8

const (
	// ModeProxy forwards it to the user's bindings (RFC 3261 §16).
	ModeProxy Mode = iota
	// ModeRedirect answers 302 Moved Temporarily with the bindings as
	// Contact values, highest q first (RFC 3261 §8.3).
	ModeRedirect
)

// Forking says how a request reaches several bindings (RFC 3261 §16.6).
type Forking uint8

const (
	// Parallel sends to every binding at once; the first 2xx wins and the
	// other branches are canceled.
	Parallel Forking = iota
	// Sequential tries the bindings one at a time, highest q first, each
	// for SequentialTimeout or until it fails.
	Sequential
)

// CallAuth says which requests must carry proxy credentials (407 Proxy
// Authentication Required, RFC 3261 §22.3).
type CallAuth uint8

const (
	// AuthLeaving challenges requests outside a dialog that leave the
	// domain (their Request-URI, or a Route left after ours, is not a
	// domain of ours): without it the proxy is an open relay.
	AuthLeaving CallAuth = iota
	// AuthAll challenges every request outside a dialog except REGISTER
	// (which the registrar challenges 401), ACK and CANCEL.
	AuthAll
	// AuthNone challenges nothing.
	AuthNone
)

// Config configures a Server. Domains and Users are required.
type Config struct {
	// Domains are the domains whose users the server registers and
	// serves ("example.com"), compared case-insensitively.
	Domains []string
	// Self lists the server's own addresses ("192.0.2.1:5060"): a Route
	// or Request-URI naming one of them (or a domain without a port) is
	// the server itself (RFC 3261 §16.4).
	Self []string
	// RecordRoute is the URI put in Record-Route on dialog-creating
	// requests (RFC 3261 §16.6 step 4), such as "sip:192.0.2.1:5060;lr".
	// Empty: "sip:" + Self[0] + ";lr" (or the first address given to
	// Server.AddSelf); no address known: none added.
	RecordRoute string
	// Users are the accounts: digest credentials, and the AOR
	// sip:name@domain each owns.
	Users Users
	// Aliases map other addresses to AORs; nil means none.
	Aliases Aliases
	// Location stores the bindings; nil means a new MemoryLocation.
	Location Location
	// Resolver turns URIs into targets (RFC 3263) for requests leaving
	// the domain and contacts with names. Nil: a transport.DNSResolver.
	Resolver transport.Resolver
	// DeadTargets remembers the next hops that failed without any
	// response (a timeout, a transport error), so that the branches that
	// follow skip them for its DeadTime (RFC 3263 §4.3). Nil: a memory of
	// the Server's own with the defaults.
	DeadTargets *transport.DeadTargets
	// Mode is ModeProxy or ModeRedirect.
	Mode Mode
	// Forking is Parallel or Sequential.
	Forking Forking
	// CallAuth says which calls are challenged 407.
	CallAuth CallAuth
	// Realm is the digest realm; empty: Domains[0].
	Realm string
	// Algorithms are the digest algorithms offered, strongest first;
	// empty: SHA-256 and MD5 (digest.ServerConfig).
	Algorithms []digest.Algorithm
	// NonceSecret keys the nonces (at least digest.MinSecretLength
	// bytes) and, through a key derived from it, the flow tokens of
	// Record-Route; instances sharing it accept each other's nonces and
	// tokens. Nil: random.
	NonceSecret []byte
	// NonceLifetime: zero means DefaultNonceLifetime.
	NonceLifetime time.Duration
	// MinExpires, MaxExpires, DefaultExpires: see the defaults.
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// MaxBindingsPerAOR: zero means DefaultMaxBindingsPerAOR.
	MaxBindingsPerAOR int
	// MaxBranches: zero means DefaultMaxBranches.
	MaxBranches int
	// SequentialTimeout: zero means DefaultSequentialTimeout.
	SequentialTimeout time.Duration
	// BranchTimeout is Timer C: zero means DefaultBranchTimeout.
	BranchTimeout time.Duration
	// MaxStateless: zero means DefaultMaxStateless.
	MaxStateless int
	// StatelessTimeout: zero means DefaultStatelessTimeout.
	StatelessTimeout time.Duration
	// SweepInterval: zero means DefaultSweepInterval.
	SweepInterval time.Duration
	// Transaction configures the transaction layer New builds (timers,
	// shards, limits); its Handler is the Server's.
	Transaction transaction.Config
	// OnRegister, when set, is called after each REGISTER the registrar
	// accepted, with the AOR and its bindings afterwards. It runs on the
	// request's goroutine and must return quickly.
	OnRegister func(aor string, bindings []Binding)
	// Logger gets warnings and debug records; nil is silent.
	Logger *slog.Logger
}

// ErrConfig reports a Config that cannot work.
var ErrConfig = errors.New("proxy: invalid configuration")

func orDur(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}

func orInt(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func (c *Config) fill() error {
	if len(c.Domains) == 0 {
		return errors.Join(ErrConfig, errors.New("no domain"))
	}
	if c.Users == nil {
		return errors.Join(ErrConfig, errors.New("no Users"))
	}
	if c.Realm == "" {
		c.Realm = c.Domains[0]
	}
	if c.RecordRoute == "" && len(c.Self) > 0 {
		c.RecordRoute = "sip:" + c.Self[0] + ";lr"
	}
	if c.Location == nil {
		c.Location = NewMemoryLocation()
	}
	if c.Aliases == nil {
		c.Aliases = &AliasTable{}
	}
	c.NonceLifetime = orDur(c.NonceLifetime, DefaultNonceLifetime)
	c.MinExpires = orDur(c.MinExpires, DefaultMinExpires)
	c.MaxExpires = orDur(c.MaxExpires, DefaultMaxExpires)
	c.DefaultExpires = orDur(c.DefaultExpires, DefaultExpires)
	c.MaxBindingsPerAOR = orInt(c.MaxBindingsPerAOR, DefaultMaxBindingsPerAOR)
	c.MaxBranches = orInt(c.MaxBranches, DefaultMaxBranches)
	c.SequentialTimeout = orDur(c.SequentialTimeout, DefaultSequentialTimeout)
	c.BranchTimeout = orDur(c.BranchTimeout, DefaultBranchTimeout)
	c.MaxStateless = orInt(c.MaxStateless, DefaultMaxStateless)
	c.StatelessTimeout = orDur(c.StatelessTimeout, DefaultStatelessTimeout)
	c.SweepInterval = orDur(c.SweepInterval, DefaultSweepInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
