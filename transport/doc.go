// Package transport moves SIP messages between sockets and the transaction
// layer (RFC 3261 §18): UDP, TCP, TLS, and WebSocket and secure WebSocket
// (RFC 7118), over IPv4 and IPv6.
//
// A Layer owns every listener and connection. It hands each message it
// reads, with the Flow it came on, to the one Handler bound with Serve
// (before Listen: nothing is read before someone is there to take it), and
// sends: SendRequest to a Target, SendResponse by the rules of §18.2.2 and
// RFC 3581, SendOn for retransmissions on a known flow. The transaction
// layer binds itself with Serve and sends through these three methods.
//
// # What it does
//
//   - Received requests get received= and rport= on the top Via (§18.2.1,
//     RFC 3581 §4) before the handler sees them.
//   - Outgoing requests get the top Via's transport, sent-by (the listener's
//     address, or the socket's local address for wildcard listeners) and
//     rport (RFC 3581 §3); the branch the caller set is kept. UDP requests
//     over MaxUDPRequest bytes go over TCP unless the Target is pinned
//     (§18.1.1).
//   - Connections a peer opened are used for requests back to its address
//     and, with the Via alias parameter, to its sent-by (RFC 5923);
//     outgoing connections are pooled per remote address and closed after
//     IdleTimeout. Connection and write failures wrap ErrUnreachable; a
//     stream flow that ends is reported to Handler.HandleFlowError.
//   - Errors say what happened and are typed (errors.Is, errors.As): a
//     datagram refused because the socket is bound to a loopback address
//     and the target is not is a *SourceError ("cannot reach
//     192.0.2.1:5060 from a socket bound to 127.0.0.1",
//     ErrLoopbackSource); other send failures an *UnreachableError that
//     names the target and transport; a host that does not exist a
//     *ResolveError matching ErrNoSuchHost (`cannot resolve
//     "nosuch.invalid": no such host`).
//   - On Linux, UDP sockets read ICMP errors (IP_RECVERR, IPV6_RECVERR):
//     a port unreachable for a datagram we sent is reported to
//     Handler.HandleFlowError as an *UnreachableError matching
//     ErrPortUnreachable ("nothing listens on 127.0.0.1:5099 over UDP"),
//     so the transactions waiting on that peer end at once instead of at
//     Timer B or F. The error queue is read only when the socket reports
//     an error: the normal path makes no system call more.
//   - Streams are framed by sip.Reader within Config.Limits. A message that
//     does not parse gets a best-effort 400 (when its request line, Via,
//     From, To, Call-ID and CSeq can be read) and the connection is closed;
//     an unparseable datagram is counted, answered the same way when
//     possible, and dropped. A request without branch or whose Via the
//     parser accepts is passed up: answering it is the transaction
//     layer's or the user agent's job (sip.Validate).
//   - Double-CRLF pings are answered with a CRLF pong (RFC 5626 §4.4.1);
//     KeepAlive sends pings on a flow and declares it dead when a pong is
//     late. WS flows use WebSocket pings.
//   - Limits: HeaderTimeout (a started message or handshake must finish in
//     time: slowloris), IdleTimeout, WriteTimeout, MaxConns,
//     MaxConnsPerListener, and the parser's Limits. Stats counts what was
//     refused, dropped or timed out.
//   - The Tracer hook sees every message in and out.
//
// RFC 3263 resolution of names into Targets is in resolve.go; transaction
// matching, retransmission and the 503 for transport errors (§17.1.4) are
// the transaction package's.
//
// # Goroutines
//
// Each UDP socket has one read goroutine (reading in batches with
// recvmmsg through golang.org/x/net/ipv4 and ipv6 on operating-system
// sockets), each stream listener one accept goroutine, and each stream
// connection one reader goroutine, which also runs that connection's
// timers through read deadlines (a WebSocket ping adds a short-lived
// goroutine). The Handler is called on these goroutines, one message at a
// time per socket or connection, so it must not block for long. Writes on
// a connection are serialized, so TLS records and WebSocket frames of two
// messages never interleave. Close stops everything and waits for every
// goroutine.
//
// # Buffers
//
// Read buffers belong to the read goroutines and are reused at once:
// sip.ParseWith copies what it keeps. Messages handed to the Handler are
// its own. Send methods serialize into pooled scratch buffers and do not
// keep the message. TraceEvent.Data is valid only during Trace.
//
// # RFCs
//
// RFC 3261 §18 (transport layer), §18.1.1 (size switch), §18.2.1 and
// §18.2.2 (received, response routing), §18.3 (framing); RFC 3581 (rport);
// RFC 5626 §4.4.1 (CRLF keepalive); RFC 5923 (connection reuse); RFC 7118
// (WebSocket).
package transport
