// Package uring is a minimal io_uring (Linux 5.6 and later, 64-bit) that
// sends a batch of datagrams, each on its own socket, with one system call:
// New sets up a Ring, SendAll sends a batch of Send items and reports each
// one's result. package rtp's engine workers send the frames of all the
// sessions due at one wake-up through a ring of their own. A Ring is used
// by one goroutine. Elsewhere the package is empty; builds with the
// rtp_netpoll tag do not use it.
//
// It imports nothing of the project.
package uring
