//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtpsock

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
	"github.com/dialtone/dialtone/internal/uring"
)

// Settings of a RingReader.
const (
	// ringFirstReads is how many reads a socket gets in a wake-up's first
	// round: one for the datagram a frame period brings and one that finds
	// the socket empty, since the kernel does not say whether a UDP socket
	// holds more.
	ringFirstReads = 2
	// ringMoreReads is how many reads a socket whose reads all brought a
	// datagram gets in the next round.
	ringMoreReads = recvBatch
	// ringMaxPerSocket bounds the datagrams read from one socket at one
	// wake-up, as recvMaxBatches does for Receive, so that a flood aimed
	// at one session cannot hold up the others.
	ringMaxPerSocket = recvBatch * recvMaxBatches
	// RingSlots is how many reads a RingReader's rounds hold at most: its
	// memory grows, as rounds need it, up to that many datagram buffers.
	// More sockets than a round holds are read in further rounds. The
	// ring given to NewRingReader needs no more entries than this; fewer
	// split a round into several system calls.
	RingSlots = 256
)

// RingReader reads the sockets of many Pairs — those of the sessions due
// at one wake-up of their owner — through an io_uring: each round of reads,
// one or two per socket, is one system call for all of them instead of a
// recvmmsg per socket. Every read is complete when Read returns, so nothing
// of the ring refers to a socket after it: the owner may close Pairs
// between Reads as it does between Receives. A RingReader and the Pairs
// it reads are used by one goroutine.
type RingReader struct {
	ring  *uring.Ring
	socks []ringSock // queued by Add since the last Read
	added int        // Add calls since the last Read

	items []uring.Recv // one round, its memory below; grown by grow
	owner []int32      // items[i] reads socks[owner[i]]
	bufs  [][maxDatagram]byte
	names []unix.RawSockaddrInet6
	oob   [][8]uint64 // control messages, 8-byte aligned
}

// ringSock is one socket to read at this wake-up.
type ringSock struct {
	fd       int
	pair     int // the ordinal of the Add that queued it
	rtcpOnly bool
	reads    int // in its next round
	left     int // datagrams it may still bring at this wake-up
}

// NewRingReader reads through ring, which it does not own: ring must stay
// open while the reader is in use, and the caller closes it.
func NewRingReader(ring *uring.Ring) *RingReader {
	return &RingReader{ring: ring}
}

// grow makes room for rounds of n reads, at most RingSlots: the memory at
// least doubles, so that a worker with a few sessions holds a few buffers.
func (rr *RingReader) grow(n int) {
	n = min(n, RingSlots)
	if n <= len(rr.items) {
		return
	}
	n = min(max(n, 2*len(rr.items)), RingSlots)
	rr.items = make([]uring.Recv, n)
	rr.owner = make([]int32, n)
	rr.bufs = make([][maxDatagram]byte, n)
	rr.names = make([]unix.RawSockaddrInet6, n)
	rr.oob = make([][8]uint64, n)
	for i := range rr.items {
		rr.items[i] = uring.Recv{
			B:    rr.bufs[i][:],
			Name: &rr.names[i],
			OOB:  unsafeBytes(&rr.oob[i]),
		}
	}
}

// Add queues k's sockets for the next Read: the RTP socket, and a
// separate RTCP socket when rtcpPollInterval has passed since it was last
// read (as Receive does). Read names k by the ordinal of this call since
// the last Read (0, 1, …). A closed Pair is counted but not read.
func (rr *RingReader) Add(k *Pair, now time.Time) {
	pair := rr.added
	rr.added++
	if k.closed {
		return
	}
	rr.socks = append(rr.socks, ringSock{fd: k.rtp.fd, pair: pair, reads: ringFirstReads, left: ringMaxPerSocket})
	if k.rtcp != nil && !now.Before(k.nextRTCP) {
		k.nextRTCP = now.Add(rtcpPollInterval)
		rr.socks = append(rr.socks, ringSock{fd: k.rtcp.fd, pair: pair, rtcpOnly: true, reads: ringFirstReads, left: ringMaxPerSocket})
	}
}

// Read reads what arrived on the sockets Add queued, up to
// ringMaxPerSocket datagrams each, and hands each datagram to rx(pair),
// pair being the ordinal of the Add that queued its socket; datagrams of
// one socket come in their order. now is the read time, the arrival time of
// a datagram without a usable kernel timestamp. Read then forgets the
// queued Pairs. An error means the ring failed: what it read was handed
// over, and the sockets it did not finish are to be read with Receive.
func (rr *RingReader) Read(now time.Time, rx func(pair int) Receiver) error {
	defer func() {
		clear(rr.socks)
		rr.socks = rr.socks[:0]
		rr.added = 0
	}()
	wall := now.UnixNano()
	pending := rr.socks
	for len(pending) > 0 {
		// One round: as many of the pending sockets' reads as fit.
		want := 0
		for i := range pending {
			want += min(pending[i].reads, pending[i].left)
		}
		rr.grow(want)
		n, taken := 0, 0
		for i := range pending {
			sk := &pending[i]
			k := min(sk.reads, sk.left)
			if n+k > len(rr.items) {
				break
			}
			for range k {
				rr.items[n].FD = sk.fd
				rr.owner[n] = int32(i)
				n++
			}
			taken++
		}
		err := rr.ring.RecvAll(rr.items[:n])
		// Hand over the datagrams in order; a socket whose reads all
		// brought one and that may bring more stays for the next round.
		again := 0
		for j := 0; j < n; {
			i := int(rr.owner[j])
			sk := &pending[i]
			full := true
			for ; j < n && int(rr.owner[j]) == i; j++ {
				it := &rr.items[j]
				switch {
				case it.Res >= 0:
					ts, ok := stampOf(it.OOB[:it.OOBLen])
					rx(sk.pair).Datagram(it.B[:min(int(it.Res), maxDatagram)], sockaddr.Get(it.Name), arrival(now, wall, ts, ok), sk.rtcpOnly)
					sk.left--
				case it.Res == -int32(syscall.EAGAIN):
					full = false
				default:
					if it.Res != -int32(syscall.EIO) || err == nil {
						rx(sk.pair).ReadError()
					}
					full = false
				}
			}
			if full && sk.left > 0 && err == nil {
				sk.reads = ringMoreReads
				pending[again] = *sk
				again++
			}
		}
		if err != nil {
			return err
		}
		// The sockets that did not fit in this round follow those that
		// go on; copy keeps their order.
		again += copy(pending[again:], pending[taken:])
		pending = pending[:again]
	}
	return nil
}

// unsafeBytes is the memory of a control-message buffer as bytes.
func unsafeBytes(b *[8]uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)*8)
}
