package transport

import (
	"time"

	"github.com/dialtone/dialtone/sip"
)

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

// readerState is what a reader goroutine keeps from one connection to
// the next: the framer of the stream connections it reads, with its
// buffer, made at its first stream connection and Reset for each later
// one (a connection per call framed without a new Reader and its 4 KiB).
type readerState struct {
	sr *sip.Reader
	cr captureReader // sr's source, for the connection being read
}

// framer returns the Reader of c's stream, reading through the capture
// of c's bytes (bounded by max).
func (rs *readerState) framer(c *conn, lim sip.Limits, max int) *sip.Reader {
	rs.cr = captureReader{r: c.rw, c: c, max: max}
	if rs.sr == nil {
		rs.sr = sip.NewReader(&rs.cr, lim)
	} else {
		rs.sr.Reset(&rs.cr)
	}
	return rs.sr
}

// done drops the references to the connection just read.
func (rs *readerState) done() {
	if rs.sr != nil {
		rs.sr.Reset(nil)
	}
	rs.cr = captureReader{}
}

// reader serves c, then the connections handed to it while it waits idle
// for up to ReaderLinger. While idle it counts itself in l.wg: the count
// is taken before c's is given back, so that Close never sees zero while
// the goroutine lives.
func (l *Layer) reader(c *conn) {
	var (
		t  *time.Timer
		rs readerState
	)
	for {
		c.serve(&rs)
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
