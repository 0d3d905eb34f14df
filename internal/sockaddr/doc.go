// Package sockaddr converts between netip.AddrPort and the kernel's
// socket addresses, for the raw system calls (sendto, recvmmsg, io_uring
// SENDMSG) that package transport and package rtp make on Linux.
//
// Both families are held in a [unix.RawSockaddrInet6], which is large
// enough for either: an IPv4 address occupies its first bytes as a
// [unix.RawSockaddrInet4]. Ports are stored in network byte order.
//
// The package is empty on other systems.
package sockaddr
