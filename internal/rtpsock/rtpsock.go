// Package rtpsock is the UDP sockets of one RTP session, behind the small
// interface package rtp's engine drives them with.
//
// On 64-bit Linux (raw.go) the sockets live outside the Go runtime's network
// poller: nobody waits on them, the owner reads them at each tick — many
// Pairs at once with a RingReader (ring.go: a round of io_uring reads for
// all of them in one system call), or one Pair with Receive (recvmmsg) where
// there is no ring — with MSG_DONTWAIT and the kernel's SO_TIMESTAMPNS
// arrival times, and Dest gives what an io_uring send (internal/uring)
// needs. Elsewhere, and
// with the rtp_netpoll build tag (poll.go), they are net.UDPConns that Start
// reads with one goroutine each, stopped and waited for by Close.
//
// Either way a Receiver gets each datagram, so that the sockets know nothing
// of the session they serve. The package imports only internal/sockaddr and
// internal/uring of the project.
package rtpsock

import (
	"net/netip"
	"time"
)

// maxDatagram is the largest datagram read.
const maxDatagram = 1500

// Receiver takes the datagrams the sockets read.
type Receiver interface {
	// Datagram handles one datagram from from, which arrived at arrival;
	// rtcpOnly is set when it came on the separate RTCP socket. pkt is only
	// valid during the call.
	Datagram(pkt []byte, from netip.AddrPort, arrival time.Time, rtcpOnly bool)
	// ReadError counts a read that failed.
	ReadError()
}
