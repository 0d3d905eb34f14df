package transport

import (
	"hash/maphash"
	"time"

	"github.com/dialtone/dialtone/sip"
)

// udpFanoutMin is the smallest batch of datagrams (one recvmmsg call) whose
// delivery a UDP read loop shares with its helpers: half a batch, the sign
// of a backlog in the socket. Smaller batches are delivered on the read
// loop itself: handing work to another goroutine costs a wake-up, worth
// paying only when there is a backlog to share. A load generator sends in
// bursts (SIPp at 500 calls/s sends five INVITEs every 10 ms), so with a
// threshold of four the hand-off cost a third more CPU per call at that
// rate, for nothing.
const udpFanoutMin = udpBatch / 2

// parsed is a datagram that parsed, waiting for delivery.
type parsed struct {
	m    sip.Message
	flow Flow
}

// fanout shares the delivery of one batch of datagrams between a read loop
// and its helper goroutines, by Call-ID, so that the messages of one call
// keep their order; the loop waits for the helpers before it reads the
// next batch, which keeps the order across batches too. Owned by the read
// loop, which starts and stops the helpers.
type fanout struct {
	l     *Layer
	seed  maphash.Seed
	parts [][]parsed      // parts[0] is the loop's own
	work  []chan []parsed // one per helper
	done  chan struct{}
	at    time.Time
}

// newFanout starts helpers goroutines; nil when there are none to start.
func newFanout(l *Layer, helpers int) *fanout {
	if helpers <= 0 {
		return nil
	}
	f := &fanout{l: l, seed: maphash.MakeSeed(), parts: make([][]parsed, helpers+1),
		work: make([]chan []parsed, helpers), done: make(chan struct{}, helpers)}
	for i := range f.work {
		f.work[i] = make(chan []parsed, 1)
		go f.help(f.work[i])
	}
	return f
}

// help delivers the parts it is given until its channel closes.
func (f *fanout) help(work chan []parsed) {
	for p := range work {
		for _, d := range p {
			f.l.deliver(d.m, d.flow, f.at, nil)
		}
		f.done <- struct{}{}
	}
	f.done <- struct{}{}
}

// stop ends the helpers and waits for them.
func (f *fanout) stop() {
	if f == nil {
		return
	}
	for _, w := range f.work {
		close(w)
	}
	for range f.work {
		<-f.done
	}
}

// add queues a parsed message for the current batch.
func (f *fanout) add(m sip.Message, flow Flow) {
	i := int(maphash.String(f.seed, m.CallID()) % uint64(len(f.parts)))
	f.parts[i] = append(f.parts[i], parsed{m, flow})
}

// deliver hands the batch out, delivers the loop's own part and waits for
// the helpers, then empties the parts for the next batch.
func (f *fanout) deliver(at time.Time) {
	f.at = at
	sent := 0
	for i, w := range f.work {
		if p := f.parts[i+1]; len(p) > 0 {
			w <- p
			sent++
		}
	}
	for _, d := range f.parts[0] {
		f.l.deliver(d.m, d.flow, at, nil)
	}
	for range sent {
		<-f.done
	}
	for i := range f.parts {
		clear(f.parts[i])
		f.parts[i] = f.parts[i][:0]
	}
}
