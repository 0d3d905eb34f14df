package transport

import (
	"errors"
	"syscall"
)

// localDrop reports whether a failed UDP send was refused by this host
// rather than the network: EPERM when a firewall rule (netfilter OUTPUT)
// drops the datagram, ENOBUFS when the interface's queue is full. Both are
// loss to the protocol above.
func localDrop(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOBUFS)
}
