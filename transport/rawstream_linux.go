//go:build linux

package transport

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawStream reads and writes a stream socket's descriptor with raw
// system calls through its syscall.RawConn, for the reason rawsend_linux.go
// gives for UDP: net.Conn's Read and Write enter the scheduler's syscall
// state on every call, and the first such call after the process went
// idle wakes the runtime's monitor thread, which then polls until the
// process is idle again. Over one connection at 500 calls/s (SIPp -t t1)
// that was a third of the server's CPU per call. The socket is
// non-blocking (the runtime's poller owns it), so read(2) and send(2)
// return at once; on EAGAIN the RawConn waits in the poller, honouring the
// deadlines set on the connection, exactly as net.Conn's methods do.
type rawStream struct {
	rc       syscall.RawConn
	rmu, wmu sync.Mutex // a read and a write may run at once, two of a kind never
	rop, wop streamOp
}

// streamOp is one read's or write's state, kept with the connection so
// that neither allocates.
type streamOp struct {
	b     []byte
	n     int
	errno syscall.Errno
	f     func(fd uintptr) bool // doRead or doWrite, bound once
}

// newRawStream returns the raw path for nc, or nil when nc is not a TCP
// socket of the operating system (memnet, a wrapped connection).
func newRawStream(nc net.Conn) *rawStream {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawStream{rc: rc}
	r.rop.f = r.rop.doRead
	r.wop.f = r.wop.doWrite
	return r
}

// Read reads into p as net.Conn.Read does: io.EOF at the end of the
// stream, os.ErrDeadlineExceeded (wrapped) when the read deadline passes.
func (r *rawStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno, err := r.run(&r.rmu, &r.rop, p, false)
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p unless an error or the write deadline stops it.
func (r *rawStream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, errno, err := r.run(&r.wmu, &r.wop, p, true)
	if err == nil && errno != 0 {
		err = os.NewSyscallError("send", errno)
	}
	return n, err
}

// run does op over p through the RawConn (its Write when write is set,
// else its Read), one of its kind at a time under mu, and returns what
// the callback left.
func (r *rawStream) run(mu *sync.Mutex, op *streamOp, p []byte, write bool) (int, syscall.Errno, error) {
	mu.Lock()
	defer mu.Unlock()
	op.b, op.n, op.errno = p, 0, 0
	var err error
	if write {
		err = r.rc.Write(op.f)
	} else {
		err = r.rc.Read(op.f)
	}
	op.b = nil
	return op.n, op.errno, err
}

// doRead is the RawConn.Read callback: false asks the poller to wait
// until the socket is readable.
func (op *streamOp) doRead(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&op.b[0])), uintptr(len(op.b)))
		switch e {
		case 0:
			op.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		op.errno = e
		return true
	}
}

// doWrite is the RawConn.Write callback: it sends what is left of op.b
// (MSG_NOSIGNAL: a closed peer is EPIPE, never a signal); false asks the
// poller to wait until the socket is writable again.
func (op *streamOp) doWrite(fd uintptr) bool {
	for op.n < len(op.b) {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&op.b[op.n])), uintptr(len(op.b)-op.n),
			unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			op.n += int(n)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		op.errno = e
		return true
	}
	return true
}
