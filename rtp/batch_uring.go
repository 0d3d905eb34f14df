//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

import (
	"github.com/dialtone/dialtone/internal/uring"
)

// sendBatchEntries is the size of a worker's ring: the datagrams of one
// wake-up go in one system call up to this many, in several beyond.
const sendBatchEntries = 256

// sendBatch collects the packets that the sessions run at one wake-up of
// an engine worker queued, and sends them all through the worker's ring.
// A nil *sendBatch (no io_uring here, or EngineConfig.NoRing) sends each
// session's packets as it runs.
type sendBatch struct {
	ring  *uring.Ring
	spans []sendSpan
	items []uring.Send
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
	r, err := uring.New(sendBatchEntries)
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
		t.sinkOut(out)
		out = nil // nothing to send with: flush just empties the queue
	}
	for i := range out {
		o := &out[i]
		it := uring.Send{B: o.b}
		var err error
		if it.FD, it.SALen, err = s.socks.Dest(o.to, o.onRTCP, &it.SA); err != nil {
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
	if err := b.ring.SendAll(b.items); err != nil {
		// The ring broke; what it did not complete is lost (counted as
		// send errors) and the worker sends one by one from now on.
		b.ring.Close()
		b.ring = nil
	}
	for i := range b.spans {
		sp := &b.spans[i]
		for _, it := range b.items[sp.start:sp.end] {
			if it.Res < 0 {
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
		b.ring.Close()
		b.ring = nil
	}
}
