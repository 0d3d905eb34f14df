package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/dialtone/dialtone/sip"
)

// streamListener is a TCP, TLS, WS or WSS listener.
type streamListener struct {
	network Network
	ln      net.Listener
	addr    netip.AddrPort
	n       atomic.Int64 // connections it holds
}

func (l *Layer) listenStream(ctx context.Context, n Network, addr string) (net.Addr, error) {
	ln, err := l.cfg.Net.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	sl := &streamListener{network: n, ln: ln, addr: addrPortOf(ln.Addr())}
	if !l.track(func() { l.lns = append(l.lns, sl) }) {
		_ = ln.Close()
		return nil, ErrClosed
	}
	go l.acceptLoop(sl)
	return ln.Addr(), nil
}

func (l *Layer) acceptLoop(sl *streamListener) {
	defer l.wg.Done()
	for {
		nc, err := sl.ln.Accept()
		if err != nil {
			if isClosedErr(err) || l.ctx.Err() != nil {
				return
			}
			// EMFILE and the like: back off a little.
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if !l.admit(sl) {
			l.st.connsRefused.Add(1)
			_ = nc.Close()
			continue
		}
		c := l.newConn(sl.network, nc, sl)
		if !l.register(c) {
			c.release()
			_ = nc.Close()
			return
		}
		l.st.connsAccepted.Add(1)
		l.runReader(c)
	}
}

// admit counts a new connection against MaxConns and the listener's
// MaxConnsPerListener (sl nil for dialed ones).
func (l *Layer) admit(sl *streamListener) bool {
	if l.nconns.Add(1) > int64(l.cfg.MaxConns) {
		l.nconns.Add(-1)
		return false
	}
	if sl != nil && sl.n.Add(1) > int64(l.cfg.MaxConnsPerListener) {
		sl.n.Add(-1)
		l.nconns.Add(-1)
		return false
	}
	return true
}

// conn is one stream connection. Its reader goroutine (serve) owns the
// fields marked reader-owned; writes are serialized by wmu so that TLS
// records and WebSocket frames of different messages never interleave.
type conn struct {
	l             *Layer
	id            uint64
	network       Network
	local, remote netip.AddrPort
	sl            *streamListener // accepting listener; nil when dialed
	sock          net.Conn        // the socket, for deadlines and Close
	rw            io.ReadWriter   // what messages are read from and written to (TLS over timed socket)
	ws            *websocket.Conn // WS and WSS
	raw           *rawStream      // the socket through raw system calls; nil where unsupported
	keys          []poolKey       // guarded by l.mu

	wmu sync.Mutex

	closeOnce sync.Once
	done      chan struct{}
	released  atomic.Bool

	lastIn, lastOut atomic.Int64 // unix nanoseconds
	keepalive       atomic.Bool
	nextPing        atomic.Int64
	pongDue         atomic.Int64
	kick            atomic.Bool

	// reader-owned
	armed       bool      // timedRead applies the layer's deadlines
	msgStart    int64     // when the message being read began; 0 between messages
	curDeadline time.Time // last read deadline set
	capture     []byte    // bytes of the message being read, for a 400
	scratch     []byte    // wire form for the tracer
}

func (l *Layer) newConn(n Network, nc net.Conn, sl *streamListener) *conn {
	now := time.Now().UnixNano()
	c := &conn{
		l:       l,
		id:      l.nextID.Add(1),
		network: n,
		local:   addrPortOf(nc.LocalAddr()),
		remote:  addrPortOf(nc.RemoteAddr()),
		sl:      sl,
		sock:    nc,
		done:    make(chan struct{}),
	}
	c.raw = newRawStream(nc)
	c.rw = timedConn{nc, c}
	c.lastIn.Store(now)
	c.lastOut.Store(now)
	return c
}

func (c *conn) flow() Flow {
	return Flow{Network: c.network, Local: c.local, Remote: c.remote, Conn: c.id}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// release gives back the connection's slots in the limits.
func (c *conn) release() {
	if c.released.Swap(true) {
		return
	}
	c.l.nconns.Add(-1)
	if c.sl != nil {
		c.sl.n.Add(-1)
	}
}

// close ends the connection once; err is reported to the handler unless
// the layer is closing.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		close(c.done)
		if c.ws != nil {
			_ = c.ws.CloseNow()
		}
		_ = c.sock.Close()
		c.l.unregister(c)
		c.release()
		if c.l.ctx.Err() != nil {
			return
		}
		c.l.debug("connection closed", c.flow(), err)
		if h := c.l.h; h != nil {
			h.HandleFlowError(c.flow(), err)
		}
		if cb := c.l.cfg.OnFlowClosed; cb != nil {
			cb(c.flow(), err)
		}
	})
}

// write sends one message (or keepalive) as a unit.
func (c *conn) write(ctx context.Context, b []byte) error {
	if c.isClosed() {
		return fmt.Errorf("%w: connection %d closed", ErrUnreachable, c.id)
	}
	c.wmu.Lock()
	var err error
	if c.ws != nil {
		typ := websocket.MessageText
		if !utf8.Valid(b) {
			typ = websocket.MessageBinary
		}
		wctx, cancel := context.WithTimeout(ctx, c.l.cfg.WriteTimeout)
		err = c.ws.Write(wctx, typ, b)
		cancel()
	} else {
		d := time.Now().Add(c.l.cfg.WriteTimeout)
		if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
			d = cd
		}
		_ = c.sock.SetWriteDeadline(d)
		_, err = c.rw.Write(b)
	}
	c.wmu.Unlock()
	if err != nil {
		c.l.st.writeErrors.Add(1)
		c.close(err)
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	c.lastOut.Store(time.Now().UnixNano())
	return nil
}

func (c *conn) setKeepalive(on bool) {
	if on {
		c.nextPing.Store(time.Now().Add(c.l.cfg.KeepaliveInterval).UnixNano())
	} else {
		c.pongDue.Store(0)
	}
	c.keepalive.Store(on)
	c.kick.Store(true)
	_ = c.sock.SetReadDeadline(time.Unix(1, 0)) // wake the reader to re-plan
}

// timedConn applies the layer's read deadlines (message timeout, idle
// timeout, keepalive schedule) to a socket once armed.
type timedConn struct {
	net.Conn
	c *conn
}

func (t timedConn) Read(p []byte) (int, error) { return t.c.timedRead(t.Conn, p) }

// Write writes to the socket, through the raw path when there is one.
func (t timedConn) Write(p []byte) (int, error) {
	if t.c.raw != nil {
		return t.c.raw.Write(p)
	}
	return t.Conn.Write(p)
}

// readSock reads from the connection's socket nc, through the raw path
// when there is one.
func (c *conn) readSock(nc net.Conn, p []byte) (int, error) {
	if c.raw != nil {
		return c.raw.Read(p)
	}
	return nc.Read(p)
}

// deadline is the earliest instant something must happen on the
// connection.
func (c *conn) deadline() time.Time {
	cfg := &c.l.cfg
	last := max(c.lastIn.Load(), c.lastOut.Load())
	d := last + int64(cfg.IdleTimeout)
	if c.msgStart != 0 {
		d = min(d, c.msgStart+int64(cfg.HeaderTimeout))
	}
	if c.keepalive.Load() {
		d = min(d, c.nextPing.Load())
	}
	if p := c.pongDue.Load(); p != 0 { // a ping of ours, scheduled or not (Ping)
		d = min(d, p)
	}
	return time.Unix(0, d)
}

func (c *conn) timedRead(nc net.Conn, p []byte) (int, error) {
	if !c.armed {
		return c.readSock(nc, p)
	}
	for {
		kicked := c.kick.Swap(false)
		if d := c.deadline(); kicked || !d.Equal(c.curDeadline) {
			_ = nc.SetReadDeadline(d)
			c.curDeadline = d
		}
		if c.kick.Load() {
			continue
		}
		n, err := c.readSock(nc, p)
		if n > 0 {
			now := time.Now().UnixNano()
			c.lastIn.Store(now)
			if c.msgStart == 0 {
				c.msgStart = now
			}
			return n, err
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, err
		}
		c.curDeadline = time.Time{} // the deadline passed: always set the next one
		if err := c.onTimer(time.Now()); err != nil {
			return 0, err
		}
	}
}

// onTimer does what is due at now: fail a message that took too long, a
// flow whose pong is late or an idle connection; send a ping.
func (c *conn) onTimer(t time.Time) error {
	cfg := &c.l.cfg
	now := t.UnixNano()
	if c.msgStart != 0 && now >= c.msgStart+int64(cfg.HeaderTimeout) {
		c.l.st.messageTimeouts.Add(1)
		return ErrMessageTimeout
	}
	if p := c.pongDue.Load(); p != 0 && now >= p {
		c.l.st.deadFlows.Add(1)
		return ErrDeadFlow
	}
	if c.keepalive.Load() {
		if now >= c.nextPing.Load() {
			c.nextPing.Store(now + int64(cfg.KeepaliveInterval))
			if c.pongDue.Load() == 0 {
				c.pongDue.Store(now + int64(cfg.DeadFlowTimeout))
			}
			c.sendPing()
		}
	}
	if now >= max(c.lastIn.Load(), c.lastOut.Load())+int64(cfg.IdleTimeout) {
		c.l.st.idleCloses.Add(1)
		return ErrIdle
	}
	return nil
}

// sendPing sends an RFC 5626 §4.4.1 double-CRLF ping, or a WebSocket ping
// whose pong coder/websocket reads for us (on a goroutine, since Ping waits
// for the reader to see the pong).
func (c *conn) sendPing() {
	c.l.st.pingsSent.Add(1)
	if c.ws == nil {
		_ = c.write(context.Background(), []byte("\r\n\r\n"))
		return
	}
	if !c.l.start() {
		return
	}
	go func() {
		defer c.l.wg.Done()
		ctx, cancel := context.WithTimeout(c.l.ctx, c.l.cfg.DeadFlowTimeout)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			if ctx.Err() != nil && c.l.ctx.Err() == nil {
				c.l.st.deadFlows.Add(1)
				c.close(ErrDeadFlow)
			}
			return
		}
		c.pongDue.Store(0)
	}()
}

// captureReader keeps the bytes of the message being framed (bounded), so
// that a message that fails to parse can still get a 400.
type captureReader struct {
	r   io.Reader
	c   *conn
	max int
}

func (cr *captureReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	if n > 0 && len(cr.c.capture) < cr.max {
		cr.c.capture = append(cr.c.capture, p[:min(n, cr.max-len(cr.c.capture))]...)
	}
	return n, err
}

// trimCapture keeps only the last buffered bytes, those of the next
// message, after a message has been framed.
func (c *conn) trimCapture(buffered int) {
	if buffered == 0 || buffered > len(c.capture) {
		c.capture = c.capture[:0]
		return
	}
	c.capture = c.capture[:copy(c.capture, c.capture[len(c.capture)-buffered:])]
}

// serve reads the connection until it ends, on a reader goroutine
// (Layer.reader) whose state it uses, which gives back the connection's
// count in l.wg.
func (c *conn) serve(rs *readerState) {
	var err error
	defer func() { c.close(err) }()
	if err = c.handshake(); err != nil {
		return
	}
	if c.ws != nil {
		err = c.serveWS()
		return
	}
	err = c.serveStream(rs)
}

// handshake finishes TLS and WebSocket setup of an accepted connection
// within HeaderTimeout.
func (c *conn) handshake() error {
	if c.sl == nil || c.network == TCP {
		c.armed = true
		return nil
	}
	_ = c.sock.SetDeadline(time.Now().Add(c.l.cfg.HeaderTimeout))
	if c.network.Secure() {
		tc := tls.Server(timedConn{c.sock, c}, c.l.cfg.TLS)
		if err := tc.HandshakeContext(c.l.ctx); err != nil {
			c.l.st.messageTimeouts.Add(boolU(errors.Is(err, os.ErrDeadlineExceeded)))
			return err
		}
		c.rw = tc
	}
	if c.network == WS || c.network == WSS {
		if err := c.acceptWS(); err != nil {
			return err
		}
	}
	_ = c.sock.SetDeadline(time.Time{})
	c.armed = true
	return nil
}

func boolU(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (c *conn) serveStream(rs *readerState) error {
	lim := c.l.cfg.Limits
	// The capture buffer comes from the layer's pool: with a connection
	// per call (SIPp -t tn, many phones) growing one per connection was a
	// good part of a connection's allocations.
	cp := c.l.getBuf()
	c.capture = (*cp)[:0]
	defer func() {
		*cp = c.capture[:0]
		c.capture = nil
		c.l.putBuf(cp)
		rs.done()
	}()
	r := rs.framer(c, lim, lim.MaxHeadBytes+4096)
	for {
		m, ka, err := r.Next()
		if err != nil {
			return c.readError(err)
		}
		now := time.Now()
		buffered := r.Buffered()
		if buffered == 0 {
			c.msgStart = 0
		} else {
			c.msgStart = now.UnixNano()
		}
		c.trimCapture(buffered)
		if ka == sip.KeepalivePing && c.pongDue.Load() != 0 {
			// sip.Reader reports a lone CRLF that follows an earlier
			// lone CRLF as the second half of a ping; while we wait for
			// a pong it is the peer's pong.
			ka = sip.KeepalivePong
		}
		switch ka {
		case sip.KeepalivePing:
			c.l.st.pingsAnswered.Add(1)
			_ = c.write(context.Background(), []byte("\r\n")) // RFC 5626 §4.4.1 pong
			continue
		case sip.KeepalivePong:
			c.pongDue.Store(0)
			continue
		}
		c.handle(m, now)
	}
}

func (c *conn) handle(m sip.Message, now time.Time) {
	f := c.flow()
	if c.l.cfg.Tracer != nil {
		c.scratch = m.AppendTo(c.scratch[:0])
		c.l.trace(In, f, c.scratch, now)
	}
	c.l.deliver(m, f, now, c)
}

// readError turns the end of a stream into the error reported for the
// flow, answering a request that did not parse with a 400 first.
func (c *conn) readError(err error) error {
	var pe *sip.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	c.l.st.malformedStream.Add(1)
	c.l.warn("malformed message on stream", c.flow(), err)
	if res := badRequest(c.capture, parseReason(err)); res != nil {
		if c.write(context.Background(), res) == nil {
			c.l.st.badRequestsSent.Add(1)
			c.l.trace(Out, c.flow(), res, time.Now())
		}
	}
	return err
}

// dial opens a connection to dst for a request or response.
func (l *Layer) dial(ctx context.Context, n Network, dst netip.AddrPort, serverName string) (*conn, error) {
	if !l.admit(nil) {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, ErrConnLimit)
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.DialTimeout)
	defer cancel()
	var (
		c   *conn
		err error
	)
	if n == WS || n == WSS {
		c, err = l.dialWS(ctx, n, dst, serverName)
	} else {
		c, err = l.dialStream(ctx, n, dst, serverName)
	}
	if err != nil {
		l.nconns.Add(-1)
		if l.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: %s %v: %w", ErrUnreachable, n, dst, err)
	}
	c.armed = true
	if !l.register(c) {
		c.release()
		_ = c.sock.Close()
		return nil, ErrClosed
	}
	l.st.connsDialed.Add(1)
	l.runReader(c)
	return c, nil
}

func (l *Layer) dialStream(ctx context.Context, n Network, dst netip.AddrPort, serverName string) (*conn, error) {
	nc, err := l.cfg.Net.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return nil, err
	}
	c := l.newConn(n, nc, nil)
	if n == TLS {
		tc := tls.Client(timedConn{nc, c}, l.clientTLS(serverName, dst))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		c.rw = tc
	}
	return c, nil
}

// clientTLS is the configuration of an outgoing TLS connection: ClientTLS
// or the defaults (system roots, verification on), with the server name
// of the target (SNI, certificate check).
func (l *Layer) clientTLS(serverName string, dst netip.AddrPort) *tls.Config {
	var cfg *tls.Config
	if l.cfg.ClientTLS != nil {
		cfg = l.cfg.ClientTLS.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if serverName != "" {
		cfg.ServerName = serverName
	} else if cfg.ServerName == "" {
		cfg.ServerName = dst.Addr().String()
	}
	return cfg
}
