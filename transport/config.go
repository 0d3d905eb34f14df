package transport

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Defaults of Config fields left zero. Every limit the layer enforces is one
// of these, overridable in Config.
const (
	// DefaultUDPReadBuffer is the socket receive buffer asked for on UDP
	// listeners (SO_RCVBUF; the kernel may cap it).
	DefaultUDPReadBuffer = 4 << 20
	// DefaultUDPWriteBuffer is the socket send buffer asked for on UDP
	// listeners (SO_SNDBUF).
	DefaultUDPWriteBuffer = 1 << 20
	// DefaultMaxConns bounds the stream connections (TCP, TLS, WS, WSS),
	// accepted and dialed together.
	DefaultMaxConns = 8192
	// DefaultMaxConnsPerListener bounds the connections accepted by one
	// listener.
	DefaultMaxConnsPerListener = 4096
	// DefaultIdleTimeout closes a stream connection that carried nothing,
	// in either direction, for this long. It is above the 120 s upper bound
	// of RFC 5626 §4.4.1 keepalive intervals so that kept-alive flows stay.
	DefaultIdleTimeout = 3 * time.Minute
	// DefaultHeaderTimeout is how long a peer has to send a whole message
	// (header block and body) once its first byte has arrived, and to
	// finish a TLS or WebSocket handshake: the slowloris bound.
	DefaultHeaderTimeout = 20 * time.Second
	// DefaultWriteTimeout bounds one write to a stream connection.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultDialTimeout bounds connection setup (TCP connect plus TLS or
	// WebSocket handshake) when the caller's context has no earlier
	// deadline.
	DefaultDialTimeout = 10 * time.Second
	// DefaultKeepaliveInterval is the time between CRLF pings (WebSocket
	// pings on WS flows) on a flow kept alive with Layer.KeepAlive: RFC
	// 5626 §4.4.1 suggests 95 to 120 s for connection-oriented flows.
	DefaultKeepaliveInterval = 100 * time.Second
	// DefaultDeadFlowTimeout is how long a pong may take before the flow is
	// declared dead (RFC 5626 §4.4.1: 10 seconds).
	DefaultDeadFlowTimeout = 10 * time.Second
	// MaxUDPRequest is the size above which a request for a UDP target is
	// sent over TCP instead, unless the target is pinned (RFC 3261
	// §18.1.1: 200 bytes below a 1500-byte path MTU).
	MaxUDPRequest = 1300
	// DefaultSIPPort and DefaultSIPSPort are the ports a sent-by without a
	// port stands for (RFC 3261 §18.2.2, §19.1.2).
	DefaultSIPPort  = 5060
	DefaultSIPSPort = 5061
)

// udpBatch is how many datagrams one ReadBatch call can return.
const udpBatch = 16

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// wsHandshakeMax bounds the HTTP upgrade request of a WebSocket handshake.
const wsHandshakeMax = 16 << 10

// Config configures a Layer. The zero value is valid: real sockets and
// the defaults above. The handler of what the layer reads is bound with
// Layer.Serve, not here.
type Config struct {
	// Net makes sockets; nil means the operating system's, through
	// net.ListenConfig and net.Dialer.
	Net Net
	// TLS configures TLS and WSS listeners (certificates, client
	// authentication). Listening on TLS or WSS without it fails.
	TLS *tls.Config
	// ClientTLS configures outgoing TLS and WSS connections; nil means the
	// system roots with verification on. ServerName is set per connection
	// from Target.ServerName (or the address). Client certificates go in
	// Certificates or GetClientCertificate.
	ClientTLS *tls.Config
	// Limits bound what the parser and stream framer accept.
	Limits sip.Limits
	// UDPReadBuffer and UDPWriteBuffer are the socket buffer sizes of UDP
	// listeners (0: DefaultUDPReadBuffer, DefaultUDPWriteBuffer; negative:
	// leave the system default).
	UDPReadBuffer  int
	UDPWriteBuffer int
	// UDPWorkers is how many goroutines share the handling of a UDP
	// socket's datagrams when they arrive faster than one goroutine
	// handles them (batches of udpFanoutMin or more per read); lighter
	// traffic is handled on the read loop alone. The messages of one
	// Call-ID keep their order. 0 means GOMAXPROCS; 1 (or less) the read
	// loop only.
	UDPWorkers int
	// MaxConns bounds the stream connections in total (0:
	// DefaultMaxConns). Connections accepted beyond it are closed at once;
	// dials beyond it fail with ErrConnLimit.
	MaxConns int
	// MaxConnsPerListener bounds the connections one listener holds (0:
	// DefaultMaxConnsPerListener).
	MaxConnsPerListener int
	// IdleTimeout closes stream connections idle in both directions (0:
	// DefaultIdleTimeout).
	IdleTimeout time.Duration
	// HeaderTimeout bounds how long a started message, TLS handshake or
	// WebSocket handshake may take to arrive (0: DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// WriteTimeout bounds one write on a stream (0: DefaultWriteTimeout).
	WriteTimeout time.Duration
	// DialTimeout bounds connection setup (0: DefaultDialTimeout).
	DialTimeout time.Duration
	// KeepaliveInterval is the ping period of kept-alive flows (0:
	// DefaultKeepaliveInterval).
	KeepaliveInterval time.Duration
	// DeadFlowTimeout is how long a ping may wait for its pong (0:
	// DefaultDeadFlowTimeout).
	DeadFlowTimeout time.Duration
	// Tracer sees every message in and out; nil means none.
	Tracer Tracer
	// Logger receives warnings (peers breaking the protocol) and debug
	// records (connections opened and closed); nil means silent.
	Logger *slog.Logger
	// OnFlowClosed, when set, is told of every stream connection that ends
	// while the layer is open (dead flow, peer close, idle, write error),
	// after the handler; it must not block.
	OnFlowClosed func(f Flow, err error)
	// OnSTUN, when set, gets the STUN messages (RFC 8489) read on the UDP
	// sockets, told apart from SIP by their first byte (RFC 7983), on the
	// reader goroutine: b is its own copy; it must not block. Unset, they
	// are dropped as malformed SIP.
	OnSTUN func(f Flow, b []byte)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.UDPWorkers, runtime.GOMAXPROCS(0))
	def(&c.UDPReadBuffer, DefaultUDPReadBuffer)
	def(&c.UDPWriteBuffer, DefaultUDPWriteBuffer)
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxConnsPerListener, DefaultMaxConnsPerListener)
	defD(&c.IdleTimeout, DefaultIdleTimeout)
	defD(&c.HeaderTimeout, DefaultHeaderTimeout)
	defD(&c.WriteTimeout, DefaultWriteTimeout)
	defD(&c.DialTimeout, DefaultDialTimeout)
	defD(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	defD(&c.DeadFlowTimeout, DefaultDeadFlowTimeout)
	if c.Limits.MaxHeadBytes <= 0 {
		c.Limits.MaxHeadBytes = sip.DefaultMaxHeadBytes
	}
	if c.Limits.MaxBodyBytes <= 0 {
		c.Limits.MaxBodyBytes = sip.DefaultMaxBodyBytes
	}
	if c.Limits.MaxHeaders <= 0 {
		c.Limits.MaxHeaders = sip.DefaultMaxHeaders
	}
	if c.Net == nil {
		c.Net = sysNet{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// sysNet is the operating system's network.
type sysNet struct{}

func (sysNet) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, address)
}

// Listen listens without TCP keepalives on the connections it accepts:
// the layer ends idle connections itself (IdleTimeout) and watches flows
// with RFC 5626 pings, and Go's default keepalive costs four setsockopt
// calls per accepted connection, which a connection per call pays for
// every call.
func (sysNet) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(ctx, network, address)
}

// DialContext dials without TCP keepalives, as Listen accepts.
func (sysNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1}
	return d.DialContext(ctx, network, address)
}
