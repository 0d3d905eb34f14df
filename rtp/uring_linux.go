//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

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
var errURingFeatures = errors.New("rtp: io_uring without single mmap")

// uringSend is one datagram of a batch; res is the kernel's result: bytes
// sent, or a negated errno.
type uringSend struct {
	fd  int
	b   []byte
	sa  unix.RawSockaddrInet6 // or an IPv4 address in its first bytes
	sal uint32
	res int32
}

// uring is a submission and a completion ring. It is used by one goroutine.
type uring struct {
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

	// The kernel reads these while a batch is in flight; the ring keeps
	// them so that they stay reachable.
	msgs []syscall.Msghdr
	iovs []syscall.Iovec
}

// newURing sets up a ring of the given number of entries (a power of two).
func newURing(entries uint32) (*uring, error) {
	var p uringParams
	fd, _, e := syscall.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	r := &uring{fd: int(fd)}
	if p.features&uringFeatSingleMmap == 0 {
		r.close()
		return nil, errURingFeatures
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	r.ring, err = syscall.Mmap(r.fd, uringOffSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, err
	}
	r.sqeMem, err = syscall.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
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

// close unmaps the rings and closes the ring's descriptor.
func (r *uring) close() {
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

// sendAll sends every datagram of items (with MSG_DONTWAIT, so none waits
// for socket buffer space) and sets each one's res. It returns an error
// only when the ring itself failed; then every item it did not complete,
// in the failed batch or after it, has the result -EIO.
func (r *uring) sendAll(items []uringSend) error {
	for i := range items {
		items[i].res = 1 // pending
	}
	for len(items) > 0 {
		n := min(len(items), r.entries)
		if err := r.batch(items[:n]); err != nil {
			for i := range items {
				if items[i].res == 1 {
					items[i].res = -int32(syscall.EIO)
				}
			}
			return err
		}
		items = items[n:]
	}
	return nil
}

// batch submits len(items) ≤ r.entries sends and waits for their
// completions.
func (r *uring) batch(items []uringSend) error {
	tail := atomic.LoadUint32(r.sqTail)
	for i := range items {
		it := &items[i]
		idx := tail & r.sqMask
		r.iovs[i] = syscall.Iovec{Base: &it.b[0]}
		r.iovs[i].SetLen(len(it.b))
		r.msgs[i] = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&it.sa)), Namelen: it.sal, Iov: &r.iovs[i]}
		r.msgs[i].Iovlen = 1
		r.sqes[idx] = uringSQE{
			opcode:   uringOpSendmsg,
			fd:       int32(it.fd),
			addr:     uint64(uintptr(unsafe.Pointer(&r.msgs[i]))),
			len:      1,
			msgFlags: syscall.MSG_DONTWAIT,
			userData: uint64(i),
		}
		tail++
	}
	atomic.StoreUint32(r.sqTail, tail)
	toSubmit, left := len(items), len(items)
	for left > 0 {
		// RawSyscall6: with MSG_DONTWAIT a UDP send completes at once, so
		// the call does not block (see sockets.send).
		n, _, e := syscall.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(toSubmit), uintptr(left), uringEnterGetEvents, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		toSubmit -= min(int(n), toSubmit)
		left -= r.reap(items)
	}
	return nil
}

// reap takes the completions off the ring and returns how many there were.
func (r *uring) reap(items []uringSend) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := &r.cqes[head&r.cqMask]
		if ud := c.userData; ud < uint64(len(items)) {
			items[ud].res = c.res
		}
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// sendBatchEntries is the size of a worker's ring: the datagrams of one
// wake-up go in one system call up to this many, in several beyond.
const sendBatchEntries = 256

// sendBatch collects the packets that the sessions run at one wake-up of
// an engine worker queued, and sends them all through the worker's ring.
// A nil *sendBatch (no io_uring here, or EngineConfig.NoRing) sends each
// session's packets as it runs.
type sendBatch struct {
	ring  *uring
	spans []sendSpan
	items []uringSend
}

// sendSpan is one session's share of the batch.
type sendSpan struct {
	s          *Session
	start, end int // items of its packets that are submitted
	errs       uint64
}

// newSendBatch sets up a worker's ring, or returns nil when the kernel
// refuses (older than 5.6, or io_uring disabled or filtered).
func newSendBatch() *sendBatch {
	r, err := newURing(sendBatchEntries)
	if err != nil {
		return nil
	}
	return &sendBatch{ring: r}
}

// add takes s's queued packets into the batch; false means there is no
// batch and the caller sends them.
func (b *sendBatch) add(s *Session) bool {
	if b == nil || b.ring == nil {
		return false
	}
	t := &s.tx
	if len(t.out) == 0 {
		return true
	}
	sp := sendSpan{s: s, start: len(b.items)}
	out := t.out[t.batched:]
	t.batched = len(t.out)
	if s.socks == nil {
		out = nil // nothing to send with: flush just empties the queue
	}
	for i := range out {
		o := &out[i]
		it := uringSend{b: o.b}
		var err error
		if it.fd, it.sal, err = s.socks.dest(o.to, o.onRTCP, &it.sa); err != nil {
			sp.errs++ // closed
			continue
		}
		if len(o.b) > 0 {
			b.items = append(b.items, it)
		}
	}
	sp.end = len(b.items)
	b.spans = append(b.spans, sp)
	return true
}

// flush sends what the batch holds and settles each session's queue and
// error count. The sessions are still on the worker (its lock is held), so
// their sockets and buffers stay as they are until flush returns.
func (b *sendBatch) flush() {
	if b == nil || len(b.spans) == 0 {
		return
	}
	if err := b.ring.sendAll(b.items); err != nil {
		// The ring broke; what it did not complete is lost (counted as
		// send errors) and the worker sends one by one from now on.
		b.ring.close()
		b.ring = nil
	}
	for i := range b.spans {
		sp := &b.spans[i]
		for _, it := range b.items[sp.start:sp.end] {
			if it.res < 0 {
				sp.errs++
			}
		}
		sp.s.sent(sp.errs)
		b.spans[i] = sendSpan{}
	}
	b.spans = b.spans[:0]
	clear(b.items)
	b.items = b.items[:0]
}

// close releases the ring.
func (b *sendBatch) close() {
	if b != nil && b.ring != nil {
		b.ring.close()
		b.ring = nil
	}
}
