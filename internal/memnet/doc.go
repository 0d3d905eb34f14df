// Package memnet is an in-memory IP network for tests: datagram sockets,
// stream connections and listeners that behave like the net package's UDP
// and TCP ones, on a network that can lose, duplicate, reorder and delay
// traffic, drop oversized datagrams, and put hosts behind NATs.
//
// The transport, transaction, dialog and ua tests run over it inside
// testing/synctest bubbles, so that RFC 3261 timers (64·T1, registration
// refreshes) pass in virtual time. memnet starts no long-lived goroutine:
// blocking calls wait on channels, and delays use time.AfterFunc and
// time.Timer, which follow the bubble's fake clock. Nothing is left running
// once sockets are closed, and a forgotten socket leaks no goroutine.
//
// # Addresses
//
// Any IPv4 or IPv6 address can be bound ("127.0.0.1:5060", "[::1]:5060",
// "192.0.2.10:5060"); names other than "localhost" are not resolved. Port 0
// picks a free port in the dynamic range (RFC 6335 §6). LocalAddr,
// RemoteAddr and ReadFrom return *net.UDPAddr and *net.TCPAddr, so callers
// can type-switch as with real sockets. [Network.Host] gives a view of the
// network as a machine with given addresses, to place clients behind a NAT
// or on separate hosts.
//
// # Datagrams
//
// [Network.ListenPacket] and DialContext("udp", …) return a *[PacketConn].
// Every datagram goes through the conditions of its path ([Conditions]:
// Loss, Duplicate, Reorder, Latency, Jitter, MTU), decided by a seeded
// math/rand/v2 PCG source so that a seed gives the same outcome every run.
// Datagrams in flight are delivered in order of arrival time, then of
// sending, so without Jitter or Reorder a path never reorders. Each socket
// has a bounded receive queue; what does not fit is dropped. [Network.Stats]
// counts every fate.
//
// # Streams
//
// [Network.Listen] and DialContext("tcp", …) give *[Conn] pairs: buffered
// full-duplex byte streams with TCP's close semantics (Close, CloseWrite,
// CloseRead) and a bounded window, which pass golang.org/x/net/nettest's
// TestConn. Stream bytes get the path's Latency and nothing else; there is
// no loss to recover from. Connection setup is instant: dialing a port with
// no listener is refused at once.
//
// # NAT
//
// [Network.AddNAT] places a prefix behind a NAT with RFC 4787 mapping and
// filtering behaviour: [EndpointIndependent], [AddressDependent],
// [PortRestricted], or [AddressPortDependent] (symmetric), with an optional
// mapping timeout. This is where rport (RFC 3581), Contact rewriting,
// keepalives (RFC 5626 §4.4) and symmetric RTP are tested.
//
// # Deadlines and errors
//
// All conns support SetDeadline, SetReadDeadline and SetWriteDeadline. A
// deadline returns a *net.OpError wrapping [os.ErrDeadlineExceeded] (a
// [net.Error] with Timeout true); Close unblocks everything with
// [net.ErrClosed]. Refused dials, taken addresses and resets wrap the errno
// values real sockets do (syscall.ECONNREFUSED, EADDRINUSE, ECONNRESET,
// EPIPE), so errors.Is works the same on memnet and on the net package.
//
// # Limits of the model
//
// There is no ICMP: datagrams to a port nobody listens on vanish (counted as
// Unreachable) and a connected datagram socket never reports
// ECONNREFUSED. A socket bound to an unspecified address sends from the
// loopback address of the destination's family. Listeners have no Accept
// deadline; Close unblocks Accept. A Network must be created and used inside
// one synctest bubble, or outside any.
package memnet
