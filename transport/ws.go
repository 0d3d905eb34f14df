package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/dialtone/dialtone/sip"
)

// wsSubprotocol is the WebSocket subprotocol of SIP (RFC 7118 §4.1).
const wsSubprotocol = "sip"

// ErrWSSubprotocol: a WebSocket peer did not agree on the "sip"
// subprotocol (RFC 7118 §4.1).
var ErrWSSubprotocol = errors.New("transport: websocket peer did not negotiate the sip subprotocol")

// limitedReader reads at most n bytes while limited (the HTTP upgrade
// request), then without limit (the WebSocket frames that follow).
type limitedReader struct {
	r       io.Reader
	n       int
	limited bool
}

func (lr *limitedReader) Read(p []byte) (int, error) {
	if !lr.limited {
		return lr.r.Read(p)
	}
	if lr.n <= 0 {
		return 0, errors.New("transport: websocket handshake too large")
	}
	n, err := lr.r.Read(p[:min(len(p), lr.n)])
	lr.n -= n
	return n, err
}

// hijackWriter is the http.ResponseWriter of a handshake the layer reads
// itself (no net/http server, so that every goroutine is the layer's).
type hijackWriter struct {
	conn        io.ReadWriteCloser
	nc          net.Conn
	br          *bufio.Reader
	hdr         http.Header
	wroteHeader bool
	err         error
}

func (w *hijackWriter) Header() http.Header { return w.hdr }

func (w *hijackWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	if code != http.StatusSwitchingProtocols {
		w.hdr.Set("Connection", "close")
	}
	_ = w.hdr.Write(&b)
	b.WriteString("\r\n")
	_, w.err = w.conn.Write(b.Bytes())
}

func (w *hijackWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.err != nil {
		return 0, w.err
	}
	return w.conn.Write(p)
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, bufio.NewReadWriter(w.br, bufio.NewWriter(w.conn)), nil
}

// rwConn presents the connection's reader/writer (TLS or the timed
// socket) as a net.Conn for coder/websocket.
type rwConn struct {
	net.Conn
	rw io.ReadWriter
}

func (r rwConn) Read(p []byte) (int, error)  { return r.rw.Read(p) }
func (r rwConn) Write(p []byte) (int, error) { return r.rw.Write(p) }

// acceptWS reads the HTTP upgrade request and accepts it when it asks for
// the sip subprotocol (RFC 7118 §4.1); otherwise it answers 400.
func (c *conn) acceptWS() error {
	lr := &limitedReader{r: c.rw, n: wsHandshakeMax, limited: true}
	br := bufio.NewReader(lr)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	nc := rwConn{c.sock, c.rw}
	w := &hijackWriter{conn: nc, nc: nc, br: br, hdr: http.Header{}}
	if !hasToken(req.Header, "Sec-WebSocket-Protocol", wsSubprotocol) {
		c.l.st.connsRefused.Add(1)
		http.Error(w, "the sip WebSocket subprotocol is required (RFC 7118)", http.StatusBadRequest)
		return ErrWSSubprotocol
	}
	ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{
		Subprotocols: []string{wsSubprotocol},
		// SIP clients in browsers come from any origin; the SIP layer
		// authenticates requests (digest), not the handshake.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return err
	}
	lr.limited = false
	ws.SetReadLimit(int64(c.l.cfg.Limits.MaxHeadBytes + c.l.cfg.Limits.MaxBodyBytes))
	c.ws = ws
	return nil
}

func hasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWS reads one SIP message per WebSocket message (RFC 7118 §5).
func (c *conn) serveWS() error {
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				return io.EOF
			}
			return err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		c.msgStart = 0
		now := time.Now()
		b := buf.Bytes()
		if isCRLFOnly(b) {
			continue
		}
		f := c.flow()
		c.l.trace(In, f, b, now)
		// The message keeps its bytes (sip.Parse aliases its input); buf
		// is reused for the next frame.
		m, err := sip.ParseWith(bytes.Clone(b), c.l.cfg.Limits)
		if err != nil {
			c.capture = append(c.capture[:0], b...)
			return c.readError(err)
		}
		c.l.deliver(m, f, now, c)
	}
}

// dialWS opens a WebSocket connection (RFC 7118 §4) over the layer's Net.
func (l *Layer) dialWS(ctx context.Context, n Network, dst netip.AddrPort, serverName string) (*conn, error) {
	var c *conn
	dialTCP := func(ctx context.Context) (net.Conn, error) {
		nc, err := l.cfg.Net.DialContext(ctx, "tcp", dst.String())
		if err != nil {
			return nil, err
		}
		c = l.newConn(n, nc, nil)
		return timedConn{nc, c}, nil
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dialTCP(ctx) },
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			nc, err := dialTCP(ctx)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(nc, l.clientTLS(serverName, dst))
			if err := tc.HandshakeContext(ctx); err != nil {
				_ = nc.Close()
				return nil, err
			}
			return tc, nil
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	scheme := "ws"
	if n == WSS {
		scheme = "wss"
	}
	host := serverName
	if host == "" {
		host = hostString(dst.Addr())
	}
	u := fmt.Sprintf("%s://%s/", scheme, net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(int(dst.Port()))))
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{wsSubprotocol},
	})
	if resp != nil && resp.Body != nil && err != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if c != nil {
			_ = c.sock.Close()
		}
		return nil, err
	}
	if c == nil {
		_ = ws.CloseNow()
		return nil, errors.New("transport: websocket dial did not use the layer's dialer")
	}
	if ws.Subprotocol() != wsSubprotocol {
		_ = ws.CloseNow()
		return nil, ErrWSSubprotocol
	}
	ws.SetReadLimit(int64(l.cfg.Limits.MaxHeadBytes + l.cfg.Limits.MaxBodyBytes))
	c.ws = ws
	return c, nil
}
