//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// errQueue is Linux-only (IP_RECVERR); elsewhere ICMP errors are not
// read and an unreachable UDP peer is found out by Timer B or F.
type errQueue struct{}

func enableRecvErr(*net.UDPConn) *errQueue { return nil }

func (*errQueue) disable() {}

func (*errQueue) drain() (dsts []netip.AddrPort, read bool) { return nil, false }

func icmpSendError(error) (maybe, surely bool) { return false, false }
