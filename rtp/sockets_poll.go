//go:build !linux || !(amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) || rtp_netpoll

package rtp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp/dtmf"

	pionrtp "github.com/pion/rtp"
)

// sockets are the sockets of one session, read by one goroutine each
// through the Go runtime's network poller (the portable implementation;
// 64-bit Linux builds use sockets_raw.go unless built with the rtp_netpoll tag).
type sockets struct {
	ports   *UDPPorts
	readers sync.WaitGroup
}

// recvScratch is empty: the readers have their own buffers.
type recvScratch struct{}

// openSockets binds the sockets of a session from alloc.
func openSockets(ctx context.Context, alloc *PortAllocator, addr netip.Addr, mux bool) (*sockets, error) {
	p, err := alloc.Allocate(ctx, addr, mux)
	if err != nil {
		return nil, err
	}
	return &sockets{ports: p}, nil
}

func (k *sockets) localAddr(rtcp bool) netip.AddrPort {
	c := k.ports.RTP
	if rtcp && k.ports.RTCP != nil {
		c = k.ports.RTCP
	}
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (k *sockets) hasRTCP() bool { return k.ports.RTCP != nil }

// start launches one reader per socket.
func (k *sockets) start(s *Session) {
	k.readers.Add(1)
	go k.readLoop(s, k.ports.RTP, false)
	if k.ports.RTCP != nil {
		k.readers.Add(1)
		go k.readLoop(s, k.ports.RTCP, true)
	}
}

// receive does nothing: the readers hand packets over as they arrive.
func (k *sockets) receive(*Session, *recvScratch, time.Time) {}

func (k *sockets) send(b []byte, to netip.AddrPort, rtcp bool) error {
	c := k.ports.RTP
	if rtcp && k.ports.RTCP != nil {
		c = k.ports.RTCP
	}
	_, err := c.WriteToUDPAddrPort(b, to)
	return err
}

// close closes the sockets, waits for the readers and releases the ports.
func (k *sockets) close() error {
	err := k.ports.Close()
	k.readers.Wait()
	return err
}

// readLoop reads one socket until it is closed.
func (k *sockets) readLoop(s *Session, conn *net.UDPConn, rtcpOnly bool) {
	defer k.readers.Done()
	buf := make([]byte, maxDatagram)
	var h pionrtp.Header
	var digits []dtmf.Digit
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.readErrors.Add(1)
			continue
		}
		now := time.Now()
		pkt := buf[:n]
		s.traceIn(now, rtcpOnly, from, pkt)
		if rtcpOnly || isRTCP(pkt) {
			s.handleRTCP(pkt, from, now)
			continue
		}
		digits = s.handleRTP(&h, pkt, from, now, digits[:0])
		s.deliverDTMF(digits)
	}
}

// sendBatch exists only with the Linux raw sockets; here every session
// sends its own packets.
type sendBatch struct{}

func newSendBatch() *sendBatch         { return nil }
func (b *sendBatch) add(*Session) bool { return false }
func (b *sendBatch) flush()            {}
func (b *sendBatch) close()            {}
