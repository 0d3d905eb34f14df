package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// Network names a transport protocol.
type Network string

// The transports of RFC 3261 §18 and RFC 7118.
const (
	UDP Network = "udp"
	TCP Network = "tcp"
	TLS Network = "tls"
	WS  Network = "ws"
	WSS Network = "wss"
)

// Reliable reports whether the network is connection-oriented, so the
// transaction layer does not retransmit over it (RFC 3261 §17.1.1.2).
func (n Network) Reliable() bool { return n != UDP }

// Secure reports whether the network is TLS or secure WebSocket.
func (n Network) Secure() bool { return n == TLS || n == WSS }

// ViaTransport returns the transport token for a Via header: "UDP", "TCP",
// "TLS", "WS" or "WSS".
func (n Network) ViaTransport() string {
	switch n {
	case UDP:
		return sip.TransportUDP
	case TCP:
		return sip.TransportTCP
	case TLS:
		return sip.TransportTLS
	case WS:
		return sip.TransportWS
	case WSS:
		return sip.TransportWSS
	}
	return string(n)
}

// Target is where to send a request: a resolved address on a network.
type Target struct {
	Network Network
	Addr    netip.AddrPort
	// ServerName is the TLS server name (SNI, certificate check) and the
	// WebSocket Host; empty means the address.
	ServerName string
	// Pinned keeps a UDP request on UDP whatever its size; otherwise a
	// request larger than MaxUDPRequest bytes goes over TCP to the same
	// address (RFC 3261 §18.1.1).
	Pinned bool
}

// Flow identifies the path a message took: the network, the local and
// remote addresses and, for stream transports, the connection. Responses
// and requests that must follow a flow (RFC 3261 §18.2.2, RFC 5626,
// RFC 5923) are sent with SendOn.
type Flow struct {
	Network Network
	Local   netip.AddrPort
	Remote  netip.AddrPort
	// Conn identifies the connection of a stream flow; 0 for UDP.
	Conn uint64
}

// Incoming is a message read from the network.
type Incoming struct {
	Msg  sip.Message
	Flow Flow
	// At is when it was read.
	At time.Time
}

// Handler receives what the layer reads; bind it with Layer.Serve. Its
// methods are called from the layer's reader goroutines, one message at a
// time per connection or socket, and must not block for long.
type Handler interface {
	// HandleMessage gets every message that parsed. Requests carry
	// received= and rport= on their top Via as RFC 3261 §18.2.1 and RFC
	// 3581 §4 require.
	HandleMessage(in Incoming)
	// HandleFlowError reports that a stream flow failed or closed, or
	// that the destination of a UDP flow answered ICMP port unreachable
	// (Linux; err is an *UnreachableError matching ErrPortUnreachable);
	// the transactions that use it fail with a transport error (§17.1.4).
	HandleFlowError(f Flow, err error)
}

// Net is the socket factory the layer uses: the real network, or
// internal/memnet in tests.
type Net interface {
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
	Listen(ctx context.Context, network, address string) (net.Listener, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Errors returned by the layer; the transaction layer maps them to
// transaction.ErrTransport.
var (
	// ErrClosed: the layer is closed.
	ErrClosed = errors.New("transport: closed")
	// ErrUnreachable: no connection could be made to the target, or the
	// flow is gone. Send failures are an *UnreachableError or a
	// *SourceError (unreachable.go), which name the target and match it.
	ErrUnreachable = errors.New("transport: destination unreachable")
	// ErrNoListener: no listener for the network the message needs.
	ErrNoListener = errors.New("transport: no listener for network")
)

// Errors of Layer.Serve: the handler is bound once, before anything is
// read.
var (
	// ErrAlreadyServing: Serve was called a second time.
	ErrAlreadyServing = errors.New("transport: a handler is already bound (Serve called twice)")
	// ErrServeTooLate: Serve was called after a listener or connection
	// was opened, when messages may already have been read and dropped.
	ErrServeTooLate = errors.New("transport: Serve must be called before Listen and before the first send")
	// ErrNilHandler: Serve was given a nil handler.
	ErrNilHandler = errors.New("transport: nil handler")
)

// Direction says whether a traced message was sent or received.
type Direction uint8

// Directions.
const (
	In Direction = iota
	Out
)

// TraceEvent is one message on the wire, as a Tracer sees it.
type TraceEvent struct {
	Time      time.Time
	Direction Direction
	Flow      Flow
	// Data is the message's wire form. It is only valid during the Trace
	// call: copy it to keep it.
	Data []byte
}

// Tracer sees every message the layer sends and receives (our qlog):
// PcapTracer writes a capture file, LogTracer logs through slog. Trace is
// called from the layer's goroutines, concurrently, and must not block.
type Tracer interface {
	Trace(ev TraceEvent)
}
