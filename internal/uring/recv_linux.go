//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package uring

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring ABI of the receive (include/uapi/linux/io_uring.h).
const (
	uringOpRecvmsg = 10
	// uringCQESockNonempty: after this receive the socket held more data
	// (Linux 5.19 and later, where the protocol reports it).
	uringCQESockNonempty = 1 << 2
)

// Recv is one datagram read of a batch, into memory the caller owns. RecvAll
// sets its results.
type Recv struct {
	// FD is the socket read.
	FD int
	// B receives the datagram; it must not be empty.
	B []byte
	// Name receives the source address.
	Name *unix.RawSockaddrInet6
	// OOB receives the control messages (SO_TIMESTAMPNS…); it may be empty.
	OOB []byte

	// Res is the length of the datagram read, or a negated errno: -EAGAIN
	// when the socket held none.
	Res int32
	// Flags are the datagram's msg_flags (MSG_TRUNC, MSG_CTRUNC).
	Flags int32
	// OOBLen is how many bytes of OOB the control messages fill.
	OOBLen int
	// More is set when the kernel reported that the socket held more data
	// after this read; a kernel that does not report it leaves it unset.
	More bool
}

// RecvAll reads one datagram for each item, without waiting (MSG_DONTWAIT:
// an empty socket gives -EAGAIN at once), and sets each one's results.
// Items on the same socket read its datagrams in their order. Every read is
// complete when RecvAll returns, so that nothing of the ring refers to the
// sockets or the memory afterwards: the caller may close them. It returns
// an error only when the ring itself failed, or ErrClosed after Close;
// then every item it did not complete has the result -EIO.
func (r *Ring) RecvAll(items []Recv) error {
	return inBatches(r, items, func(it *Recv) *int32 { return &it.Res }, r.recvBatch)
}

// recvBatch submits len(items) ≤ r.entries reads and waits for their
// completions.
func (r *Ring) recvBatch(items []Recv) error {
	tail := atomic.LoadUint32(r.sqTail)
	for i := range items {
		it := &items[i]
		idx := tail & r.sqMask
		m := r.msg(i, it.B, unsafe.Pointer(it.Name), unix.SizeofSockaddrInet6)
		if len(it.OOB) > 0 {
			m.Control = &it.OOB[0]
			m.SetControllen(len(it.OOB))
		}
		r.sqes[idx] = uringSQE{
			opcode:   uringOpRecvmsg,
			fd:       int32(it.FD),
			addr:     uint64(uintptr(unsafe.Pointer(m))),
			len:      1,
			msgFlags: syscall.MSG_DONTWAIT,
			userData: uint64(i),
		}
		tail++
	}
	atomic.StoreUint32(r.sqTail, tail)
	err := r.enter(len(items), func(ud uint64, res int32, flags uint32) {
		if ud < uint64(len(items)) {
			it := &items[ud]
			it.Res = res
			it.More = flags&uringCQESockNonempty != 0
		}
	})
	for i := range items {
		// The kernel wrote the lengths and flags back into the headers.
		it := &items[i]
		if it.Res >= 0 {
			it.Flags = r.msgs[i].Flags
			it.OOBLen = min(int(r.msgs[i].Controllen), len(it.OOB))
		}
		r.msgs[i] = syscall.Msghdr{}
		r.iovs[i] = syscall.Iovec{}
	}
	return err
}
