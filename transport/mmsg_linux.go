//go:build linux

package transport

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
)

// mmsgReader reads a batch of datagrams with one recvmmsg(2) call into
// buffers it owns, and decodes the source addresses without allocating
// (golang.org/x/net's ReadBatch allocates a *net.UDPAddr per datagram).
// It is owned by one read loop.
type mmsgReader struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	bufs  [][]byte
	// results of the last recv call
	n     int
	errno syscall.Errno
	recvF func(fd uintptr) bool // r.recv, bound once so Read does not allocate
	// eq is the socket's error queue (nil without IP_RECVERR); unreach
	// the destinations that answered port unreachable, read when recvmmsg
	// failed with the socket's pending ICMP error (recverr_linux.go).
	eq      *errQueue
	unreach []netip.AddrPort
}

func newMmsgReader(uc *net.UDPConn, batch, size int, eq *errQueue) (*mmsgReader, bool) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, false
	}
	r := &mmsgReader{
		rc:    rc,
		hdrs:  make([]unix.Mmsghdr, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		bufs:  make([][]byte, batch),
		eq:    eq,
	}
	for i := range batch {
		r.bufs[i] = make([]byte, size)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(size)
		r.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	r.recvF = r.recv
	return r, true
}

// recv runs inside RawConn.Read: false asks the poller to wait for the
// socket to become readable.
func (r *mmsgReader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		r.hdrs[i].Len = 0
	}
	for {
		// Raw: the socket is non-blocking and MSG_DONTWAIT says so again,
		// so the call cannot block (see rawsend_linux.go for why).
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		if e != 0 && r.eq != nil && icmpErrno(e) {
			// The socket's pending ICMP error: the details are on the
			// error queue. Return no datagram, so the loop reports them.
			r.unreach, _ = r.eq.drainFD(fd, r.unreach)
			r.n, r.errno = 0, 0
			return true
		}
		r.n, r.errno = int(n), e
		return true
	}
}

// read fills up to len(bufs) datagrams and returns how many. Zero
// datagrams and no error means an ICMP error was read: see unreachable.
func (r *mmsgReader) read() (int, error) {
	if err := r.rc.Read(r.recvF); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	return r.n, nil
}

// datagram returns the i-th datagram of the last read and its source.
func (r *mmsgReader) datagram(i int) ([]byte, netip.AddrPort) {
	from := sockaddr.Get(&r.names[i])
	return r.bufs[i][:r.hdrs[i].Len], netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// unreachable returns the destinations that answered port unreachable
// since the last call; only valid until the next read.
func (r *mmsgReader) unreachable() []netip.AddrPort {
	u := r.unreach
	r.unreach = r.unreach[:0]
	return u
}
