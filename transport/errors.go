package transport

import "errors"

// Errors of the layer beyond those of the contract in transport.go.
var (
	// ErrConnLimit: MaxConns or MaxConnsPerListener is reached.
	ErrConnLimit = errors.New("transport: connection limit reached")
	// ErrDeadFlow: a kept-alive flow did not answer a ping within
	// DeadFlowTimeout (RFC 5626 §4.4.1).
	ErrDeadFlow = errors.New("transport: flow dead (no pong)")
	// ErrMessageTimeout: a peer started a message, TLS or WebSocket
	// handshake and did not finish it within HeaderTimeout.
	ErrMessageTimeout = errors.New("transport: message not completed in time")
	// ErrIdle: a stream connection carried nothing for IdleTimeout.
	ErrIdle = errors.New("transport: connection idle")
	// ErrKeepaliveUnsupported: KeepAlive was asked for a UDP flow; RFC 5626
	// §4.4.2 STUN keepalives are not implemented.
	ErrKeepaliveUnsupported = errors.New("transport: keepalive needs a stream flow")
	// ErrNoTLSConfig: a TLS or WSS listener was asked for without
	// Config.TLS.
	ErrNoTLSConfig = errors.New("transport: TLS listener needs Config.TLS")
	// ErrUnknownNetwork: the Network is not one of UDP, TCP, TLS, WS, WSS.
	ErrUnknownNetwork = errors.New("transport: unknown network")
	// ErrNoVia: a response has no Via to route it by.
	ErrNoVia = errors.New("transport: response without Via")
	// ErrDatagramDropped: this host refused to send a UDP datagram: a
	// firewall rule dropped it on its way out (EPERM) or the send buffer
	// was full (ENOBUFS). To the protocol above that is loss, not an
	// unreachable peer: RFC 3261 retransmissions repeat it.
	ErrDatagramDropped = errors.New("transport: datagram dropped by this host (firewall rule or full send buffer)")
)
