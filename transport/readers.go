package transport

import "time"

// ReaderLinger is how long the goroutine that read a stream connection
// waits, once that connection has ended, to read the next connection
// accepted or dialed before it exits. A goroutine that has served a
// connection has the stack the SIP path needs; a new goroutine for every
// connection grows its stack again by copying, which with a connection
// per call (SIPp -t tn, phones that connect per request) cost about as
// much as the call's messages. At most the connections ended in the last
// ReaderLinger keep a goroutine each; Close ends them at once.
const ReaderLinger = time.Second

// runReader starts reading c on an idle reader goroutine, or on a new one
// when none is idle. c is counted in l.wg already (register).
func (l *Layer) runReader(c *conn) {
	select {
	case l.idle <- c:
	default:
		l.readersStarted.Add(1)
		go l.reader(c)
	}
}

// reader serves c, then the connections handed to it while it waits idle
// for up to ReaderLinger. While idle it counts itself in l.wg: the count
// is taken before c's is given back, so that Close never sees zero while
// the goroutine lives.
func (l *Layer) reader(c *conn) {
	var t *time.Timer
	for {
		c.serve()
		idle := l.start()
		l.wg.Done() // c's
		if !idle {
			return
		}
		if t == nil {
			t = time.NewTimer(ReaderLinger)
		} else {
			t.Reset(ReaderLinger)
		}
		l.readersIdle.Add(1)
		select {
		case c = <-l.idle:
			l.readersIdle.Add(-1)
			l.wg.Done() // the idle count; c has its own
			continue
		case <-t.C:
		case <-l.ctx.Done():
		}
		l.readersIdle.Add(-1)
		t.Stop()
		l.wg.Done()
		return
	}
}
