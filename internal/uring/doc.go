// Package uring is a minimal io_uring (Linux 5.6 and later, 64-bit) that
// sends or reads a batch of datagrams, each on its own socket, with one
// system call: New sets up a Ring, SendAll sends a batch of Send items and
// RecvAll reads a batch of Recv items, each reporting every item's result.
// Both use MSG_DONTWAIT and wait for every completion, so no request
// outlives the call. package rtp's engine workers read the sockets of the
// sessions due at one wake-up (through internal/rtpsock.RingReader) and
// send their frames through a ring of their own. A Ring is used by one
// goroutine. Elsewhere the package is empty; builds with the rtp_netpoll
// tag do not use it.
//
// It imports nothing of the project.
package uring
