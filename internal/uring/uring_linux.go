//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package uring

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal io_uring (Linux 5.6 and later) that sends a batch of datagrams,
// each on its own socket, with one system call. An engine worker sends the
// frames of every session due at a wake-up, tens of them on as many
// sockets; sendmmsg batches only on one socket, so without the ring each
// frame costs a sendto, and on a virtual machine the system call's entry
// and exit cost about as much as the UDP send itself.

// io_uring ABI (include/uapi/linux/io_uring.h).
const (
	sysIOURingSetup = 425 // the same number on every architecture
	sysIOURingEnter = 426

	uringOpSendmsg      = 9
	uringOpSend         = 26 // with a destination in addr2: Linux 6.0 and later
	uringEnterGetEvents = 1
	uringOffSQRing      = 0
	uringOffSQEs        = 0x10000000
	uringFeatSingleMmap = 1
)

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// errURingFeatures: the kernel's ring lacks a feature this code relies on.
var errURingFeatures = errors.New("uring: io_uring without single mmap")

// ErrClosed is the error of SendAll and RecvAll on a closed Ring.
var ErrClosed = errors.New("uring: ring closed")

// Send is one datagram of a batch; Res is the kernel's result: bytes
// sent, or a negated errno.
type Send struct {
	// FD is the socket that sends it.
	FD int
	// B is the datagram; it must not be empty.
	B []byte
	// SA is the destination (an IPv4 address in its first bytes), SALen
	// its length, as internal/sockaddr.Put writes them.
	SA    unix.RawSockaddrInet6
	SALen uint32
	// Res is set by SendAll.
	Res int32
}

// Ring is a submission and a completion ring. It is used by one goroutine.
type Ring struct {
	fd      int
	ring    []byte // SQ and CQ rings, one mapping
	sqeMem  []byte
	sqes    []uringSQE
	cqes    []uringCQE
	sqTail  *uint32
	sqMask  uint32
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	entries int
	// sendmsg makes the sends IORING_OP_SENDMSG: set when the kernel
	// refused a send with a destination (IORING_OP_SEND with addr2, Linux
	// 6.0 and later), which needs no message header for the kernel to copy
	// and take apart at each datagram.
	sendmsg bool

	// The kernel reads these while a batch is in flight; the ring keeps
	// them so that they stay reachable.
	msgs  []syscall.Msghdr
	iovs  []syscall.Iovec
	again []Send // sends retried as sendmsg
}

// New sets up a ring of the given number of entries (a power of two). It
// fails where the kernel refuses one (older than 5.6, io_uring disabled or
// filtered).
func New(entries uint32) (*Ring, error) {
	var p uringParams
	fd, _, e := syscall.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	r := &Ring{fd: int(fd)}
	if p.features&uringFeatSingleMmap == 0 {
		r.Close()
		return nil, errURingFeatures
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	r.ring, err = syscall.Mmap(r.fd, uringOffSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.sqeMem, err = syscall.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.ring[p.cqOff.cqes])), p.cqEntries)
	r.sqTail = (*uint32)(unsafe.Pointer(&r.ring[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&r.ring[p.sqOff.ringMask]))
	r.cqHead = (*uint32)(unsafe.Pointer(&r.ring[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&r.ring[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&r.ring[p.cqOff.ringMask]))
	// Slot i of the submission array always names SQE i.
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.ring[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.entries = int(p.sqEntries)
	r.msgs = make([]syscall.Msghdr, r.entries)
	r.iovs = make([]syscall.Iovec, r.entries)
	return r, nil
}

// Close unmaps the rings and closes the ring's descriptor. It is
// idempotent.
func (r *Ring) Close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
		r.sqeMem, r.sqes = nil, nil
	}
	if r.ring != nil {
		_ = syscall.Munmap(r.ring)
		r.ring, r.cqes = nil, nil
	}
	if r.fd >= 0 {
		_ = syscall.Close(r.fd)
		r.fd = -1
	}
}

// SendAll sends every datagram of items (with MSG_DONTWAIT, so none waits
// for socket buffer space) and sets each one's res. It returns an error
// only when the ring itself failed, or ErrClosed after Close; then every
// item it did not complete, in the failed batch or after it, has the
// result -EIO.
func (r *Ring) SendAll(items []Send) error {
	return inBatches(r, items, func(it *Send) *int32 { return &it.Res }, r.batch)
}

// inBatches runs do over items, at most r.entries at a time, with each
// item's result (res) pending until do sets it. When the ring failed (or
// was closed: ErrClosed) it returns that error, and every item not
// completed, in the failed batch or after it, gets -EIO.
func inBatches[T any](r *Ring, items []T, res func(*T) *int32, do func([]T) error) error {
	for i := range items {
		*res(&items[i]) = 1 // pending
	}
	for len(items) > 0 {
		n := min(len(items), r.entries)
		err := ErrClosed
		if r.sqes != nil {
			err = do(items[:n])
		}
		if err != nil {
			for i := range items {
				if p := res(&items[i]); *p == 1 {
					*p = -int32(syscall.EIO)
				}
			}
			return err
		}
		items = items[n:]
	}
	return nil
}

// msg sets slot i's message header to one buffer, b, and the address
// buffer name of namelen bytes, and returns it for the SQE to point at.
func (r *Ring) msg(i int, b []byte, name unsafe.Pointer, namelen uint32) *syscall.Msghdr {
	r.iovs[i] = syscall.Iovec{Base: &b[0]}
	r.iovs[i].SetLen(len(b))
	r.msgs[i] = syscall.Msghdr{Name: (*byte)(name), Namelen: namelen, Iov: &r.iovs[i]}
	r.msgs[i].Iovlen = 1
	return &r.msgs[i]
}

// batch submits len(items) ≤ r.entries sends and waits for their
// completions. Where the kernel refuses the send with a destination
// (EINVAL), the refused items are sent again as sendmsg; when that form
// succeeds, the ring keeps to it.
func (r *Ring) batch(items []Send) error {
	err := r.sendBatch(items, r.sendmsg)
	if err != nil || r.sendmsg {
		return err
	}
	var retry []int
	for i := range items {
		if items[i].Res == -int32(syscall.EINVAL) {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return nil
	}
	// The kernel reads the datagrams and addresses through pointers the
	// compiler cannot see: they stay in the ring's own (heap) memory, never
	// in a slice the stack could move.
	r.again = r.again[:0]
	for _, i := range retry {
		r.again = append(r.again, items[i])
	}
	defer clear(r.again)
	if err := r.sendBatch(r.again, true); err != nil {
		return err
	}
	for j, i := range retry {
		items[i].Res = r.again[j].Res
		if r.again[j].Res >= 0 {
			r.sendmsg = true // EINVAL was the form, not the datagram
		}
	}
	return nil
}

// sendBatch submits len(items) ≤ r.entries sends, as sendmsg or as send
// with a destination, and waits for their completions.
func (r *Ring) sendBatch(items []Send, sendmsg bool) error {
	tail := atomic.LoadUint32(r.sqTail)
	for i := range items {
		it := &items[i]
		idx := tail & r.sqMask
		if sendmsg {
			r.msg(i, it.B, unsafe.Pointer(&it.SA), it.SALen)
			r.sqes[idx] = uringSQE{
				opcode:   uringOpSendmsg,
				fd:       int32(it.FD),
				addr:     uint64(uintptr(unsafe.Pointer(&r.msgs[i]))),
				len:      1,
				msgFlags: syscall.MSG_DONTWAIT,
				userData: uint64(i),
			}
		} else {
			// addr2 (off) is the destination; its length, addr_len, is
			// the first 16 bits of splice_fd_in's word
			// (include/uapi/linux/io_uring.h), in the machine's order.
			sqe := &r.sqes[idx]
			*sqe = uringSQE{
				opcode:   uringOpSend,
				fd:       int32(it.FD),
				off:      uint64(uintptr(unsafe.Pointer(&it.SA))),
				addr:     uint64(uintptr(unsafe.Pointer(&it.B[0]))),
				len:      uint32(len(it.B)),
				msgFlags: syscall.MSG_DONTWAIT,
				userData: uint64(i),
			}
			*(*uint16)(unsafe.Pointer(&sqe.spliceFdIn)) = uint16(it.SALen)
		}
		tail++
	}
	atomic.StoreUint32(r.sqTail, tail)
	err := r.enter(len(items), func(ud uint64, res int32, _ uint32) {
		if ud < uint64(len(items)) {
			items[ud].Res = res
		}
	})
	if sendmsg {
		for i := range items {
			r.msgs[i] = syscall.Msghdr{}
			r.iovs[i] = syscall.Iovec{}
		}
	}
	return err
}

// enter submits the n entries queued and waits for their n completions,
// handing each to done with its user data, result and flags.
func (r *Ring) enter(n int, done func(ud uint64, res int32, flags uint32)) error {
	toSubmit, left := n, n
	for left > 0 {
		// RawSyscall6: with MSG_DONTWAIT a UDP send or receive completes
		// at once, so the call does not block (see rtpsock.Pair.Send).
		got, _, e := syscall.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(toSubmit), uintptr(left), uringEnterGetEvents, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		toSubmit -= min(int(got), toSubmit)
		left -= r.reap(done)
	}
	return nil
}

// reap takes the completions off the ring and returns how many there were.
func (r *Ring) reap(done func(ud uint64, res int32, flags uint32)) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := &r.cqes[head&r.cqMask]
		done(c.userData, c.res, c.flags)
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}
