//go:build linux

package transport

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dialtone/dialtone/internal/sockaddr"
)

// Why raw system calls: a socket the runtime's poller owns is
// non-blocking, so recvmmsg and sendto on it return at once (EAGAIN when
// they would wait, and then the poller waits). The syscall package's
// Syscall tells the scheduler about every call (entersyscall), and the
// first such call after the process went idle wakes the runtime's monitor
// thread (sysmon), which then polls until the process is idle again: two
// futex calls and a string of short sleeps per burst of traffic — at a
// few hundred calls per second, more CPU than the SIP work itself.
// RawSyscall skips that; it is safe here because the call cannot block.

// rawSender sends datagrams with sendto(2) as a raw system call on a UDP
// socket's descriptor.
type rawSender struct {
	rc   syscall.RawConn
	six  bool // the socket is AF_INET6: IPv4 destinations go v4-mapped
	pool sync.Pool
}

// sendOp is one send's state, pooled so that sending does not allocate.
type sendOp struct {
	b     []byte
	sa    unix.RawSockaddrInet6 // or an IPv4 address in its first bytes
	salen uint32
	errno syscall.Errno
	f     func(fd uintptr) bool
}

func newRawSender(uc *net.UDPConn, local netip.AddrPort) *rawSender {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	return &rawSender{rc: rc, six: local.Addr().Is6() && !local.Addr().Is4In6()}
}

// send writes b to dst; ok is false when dst needs the standard path (an
// IPv6 zone).
func (r *rawSender) send(b []byte, dst netip.AddrPort) (ok bool, err error) {
	if dst.Addr().Zone() != "" || len(b) == 0 {
		return false, nil
	}
	op, _ := r.pool.Get().(*sendOp)
	if op == nil {
		op = new(sendOp)
		op.f = op.run
	}
	op.b = b
	op.salen = sockaddr.Put(&op.sa, dst, r.six)
	op.errno = 0
	err = r.rc.Write(op.f)
	if err == nil && op.errno != 0 {
		err = os.NewSyscallError("sendto", op.errno)
	}
	op.b = nil
	r.pool.Put(op)
	return true, err
}

// run is the RawConn.Write callback: false asks the poller to wait until
// the socket is writable.
func (op *sendOp) run(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&op.b[0])), uintptr(len(op.b)),
			unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&op.sa)), uintptr(op.salen))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		op.errno = e
		return true
	}
}
