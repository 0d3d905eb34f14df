//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtp

import (
	"time"

	"github.com/dialtone/dialtone/internal/rtpsock"
	"github.com/dialtone/dialtone/internal/uring"
)

// sendBatchEntries is the size of a worker's ring: the datagrams of one
// wake-up go in one system call up to this many, in several beyond.
const sendBatchEntries = 256

// sendBatch is an engine worker's io_uring. It reads the sockets of the
// sessions due at one wake-up (receive), then collects the packets they
// queue and sends them all (add, flush): a round of reads is one system
// call, and so are the sends. A nil *sendBatch (no io_uring here, or
// EngineConfig.NoRing) leaves each session to read its own sockets and
// send its own packets as it runs.
type sendBatch struct {
	ring  *uring.Ring
	spans []sendSpan
	items []uring.Send

	rx      *rtpsock.RingReader
	rxSess  []*Session // by rx's pair ordinal
	rxScrap *recvScratch
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
	return &sendBatch{ring: r, rx: rtpsock.NewRingReader(r)}
}

// receive reads the sockets of the sessions among jobs through the ring
// and hands each session what arrived, with sc's parsing scratch; now is
// the read time. false means there is no ring (or it just broke): each
// session reads its own sockets in its tick.
func (b *sendBatch) receive(jobs []engineJob, sc *recvScratch, now time.Time) bool {
	if b == nil || b.ring == nil || b.rx == nil {
		return false
	}
	for _, j := range jobs {
		if s, ok := j.(*Session); ok && s.socks != nil {
			b.rx.Add(s.socks.Pair, now)
			b.rxSess = append(b.rxSess, s)
		}
	}
	b.rxScrap = sc
	err := b.rx.Read(now, b.handTo)
	sc.rx.s = nil
	clear(b.rxSess)
	b.rxSess = b.rxSess[:0]
	if err != nil {
		// The ring broke: the sessions read their own sockets from now
		// on, starting with these; the sends find out at their flush.
		b.rx = nil
		return false
	}
	return true
}

// handTo is the receiver of the pair of ordinal i: the worker's, aimed at
// the session.
func (b *sendBatch) handTo(i int) rtpsock.Receiver {
	b.rxScrap.rx.s = b.rxSess[i]
	return &b.rxScrap.rx
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
