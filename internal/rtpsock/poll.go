//go:build !linux || !(amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) || rtp_netpoll

package rtpsock

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Pair is the sockets of one session, read by one goroutine each through
// the Go runtime's network poller (the portable implementation; 64-bit
// Linux builds use raw.go unless built with the rtp_netpoll tag).
type Pair struct {
	rtp, rtcp *net.UDPConn
	readers   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Scratch is empty: the readers have their own buffers.
type Scratch struct{}

// Bind binds the RTP socket to addr:port and, without mux, the RTCP
// socket to port+1. A port another program holds gives an error wrapping
// syscall.EADDRINUSE.
func Bind(addr netip.Addr, port int, mux bool) (*Pair, error) {
	rtp, rtcp, err := ListenUDP(addr, port, mux)
	if err != nil {
		return nil, err
	}
	return &Pair{rtp: rtp, rtcp: rtcp}, nil
}

func (k *Pair) conn(rtcp bool) *net.UDPConn {
	if rtcp && k.rtcp != nil {
		return k.rtcp
	}
	return k.rtp
}

// LocalAddr is the RTP socket's address, or the RTCP one's when rtcp is
// set and there is one.
func (k *Pair) LocalAddr(rtcp bool) netip.AddrPort {
	return k.conn(rtcp).LocalAddr().(*net.UDPAddr).AddrPort()
}

// HasRTCP reports whether RTCP has a socket of its own.
func (k *Pair) HasRTCP() bool { return k.rtcp != nil }

// Start launches one reader per socket, each handing its datagrams to a
// Receiver of its own from newReceiver. Close stops and waits for them.
func (k *Pair) Start(newReceiver func() Receiver) {
	k.readers.Add(1)
	go k.readLoop(newReceiver(), k.rtp, false)
	if k.rtcp != nil {
		k.readers.Add(1)
		go k.readLoop(newReceiver(), k.rtcp, true)
	}
}

// Receive does nothing: the readers hand datagrams over as they arrive.
func (k *Pair) Receive(Receiver, *Scratch, time.Time) {}

// Send writes one datagram to to, from the RTCP socket when rtcp is set
// and there is one.
func (k *Pair) Send(b []byte, to netip.AddrPort, rtcp bool) error {
	_, err := k.conn(rtcp).WriteToUDPAddrPort(b, to)
	return err
}

// Close closes the sockets and waits for the readers. It is idempotent.
func (k *Pair) Close() error {
	k.closeOnce.Do(func() {
		k.closeErr = k.rtp.Close()
		if k.rtcp != nil {
			if err := k.rtcp.Close(); k.closeErr == nil {
				k.closeErr = err
			}
		}
	})
	k.readers.Wait()
	return k.closeErr
}

// readLoop reads one socket until it is closed.
func (k *Pair) readLoop(r Receiver, conn *net.UDPConn, rtcpOnly bool) {
	defer k.readers.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.ReadError()
			continue
		}
		r.Datagram(buf[:n], from, time.Now(), rtcpOnly)
	}
}
