package transport

import (
	"bufio"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Capture file constants: the classic libpcap format ("pcap", not
// pcapng), microsecond timestamps, raw IP packets.
const (
	// PcapSnapLen is the snapshot length written in the file header.
	PcapSnapLen = 262144
	// PcapLinkTypeRaw is LINKTYPE_RAW: each packet starts with an IPv4 or
	// IPv6 header, which Wireshark, tshark and sngrep all read.
	PcapLinkTypeRaw = 101
	// PcapMaxStreams bounds the TCP sequence state PcapTracer keeps, one
	// entry per traced connection. Past it, an arbitrary entry is
	// forgotten; if that connection is traced again its numbering restarts
	// from the clock, as a new connection's would.
	PcapMaxStreams = 4096

	pcapMagic        = 0xa1b2c3d4
	pcapHeaderLen    = 24
	pcapRecordLen    = 16
	pcapIPv4Len      = 20
	pcapIPv6Len      = 40
	pcapUDPLen       = 8
	pcapTCPLen       = 20
	pcapMaxIPLen     = 65535
	pcapBufferSize   = 64 << 10
	pcapProtoTCP     = 6
	pcapProtoUDP     = 17
	pcapTCPFlagsPSHA = 0x18 // PSH|ACK
)

// PcapTracer is a Tracer that writes a capture file that Wireshark, tshark
// and sngrep open: the classic libpcap format with link type
// LINKTYPE_RAW, one packet per SIP message. Each packet is a synthetic
// IPv4 or IPv6 header (as the flow's addresses are; an IPv4 address meets
// an IPv6 one as ::ffff:a.b.c.d), then a UDP header for UDP flows or a
// TCP header for TCP, TLS, WS and WSS flows, with the flow's real ports,
// valid checksums, PSH|ACK and per-direction sequence numbers that advance
// by the payload length (so Wireshark's stream analysis and reassembly
// accept them), and the message as payload.
//
// For TLS, WS and WSS the payload is the plaintext SIP message, not the
// TLS records or WebSocket frames that went on the wire: Wireshark expects
// TLS on port 5061 and HTTP on WebSocket ports, so use "Decode As… SIP"
// (tshark -d tcp.port==5061,sip) for those ports.
//
// A message larger than fits in one IP packet (65535 bytes) is truncated;
// the record keeps its original length, as a capture cut by the snapshot
// length does.
//
// Trace is safe for concurrent use. It writes into a buffer and never
// blocks on anything but w, when the buffer fills: give it a fast writer
// such as a file. Flush pushes the buffer to w; Close flushes and stops
// the tracer. The first error from w is kept and reported by Err; from
// then on messages are dropped.
type PcapTracer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	err     error
	closed  bool
	ipID    uint16
	streams map[pcapStreamKey]*pcapStream
	buf     []byte
}

// pcapStreamKey names a connection; a and b are ordered so both
// directions share the key.
type pcapStreamKey struct {
	conn uint64
	a, b netip.AddrPort
}

// pcapStream holds the next sequence number of each direction: [0] for
// a→b, [1] for b→a.
type pcapStream struct {
	next [2]uint32
}

// NewPcapTracer writes the capture file header to w and returns a tracer
// that appends packets to it.
func NewPcapTracer(w io.Writer) (*PcapTracer, error) {
	t := &PcapTracer{
		w:       bufio.NewWriterSize(w, pcapBufferSize),
		streams: make(map[pcapStreamKey]*pcapStream),
	}
	var h [pcapHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	// thiszone and sigfigs: 0
	le.PutUint32(h[16:], PcapSnapLen)
	le.PutUint32(h[20:], PcapLinkTypeRaw)
	if _, err := t.w.Write(h[:]); err != nil {
		return nil, err
	}
	if err := t.w.Flush(); err != nil {
		return nil, err
	}
	return t, nil
}

// Trace implements Tracer: it appends one packet for ev.
func (t *PcapTracer) Trace(ev TraceEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil || t.closed {
		return
	}
	t.buf = t.appendRecord(t.buf[:0], &ev)
	if _, err := t.w.Write(t.buf); err != nil {
		t.err = err
	}
	if cap(t.buf) > 2*pcapBufferSize {
		t.buf = nil // do not keep a huge message's buffer
	}
}

// Flush writes buffered packets to w.
func (t *PcapTracer) Flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flushLocked()
}

func (t *PcapTracer) flushLocked() error {
	if t.err != nil {
		return t.err
	}
	if err := t.w.Flush(); err != nil {
		t.err = err
	}
	return t.err
}

// Close flushes and stops the tracer; later messages are dropped. It does
// not close w. It is idempotent and returns the first write error, if any.
func (t *PcapTracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.err
	}
	err := t.flushLocked()
	t.closed = true
	return err
}

// Err returns the first error writing to w, or nil.
func (t *PcapTracer) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// pcapEndpoints returns the packet's source and destination, both of one
// address family.
func pcapEndpoints(ev *TraceEvent) (src, dst netip.AddrPort) {
	src, dst = ev.Flow.Local, ev.Flow.Remote
	if ev.Direction == In {
		src, dst = dst, src
	}
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	switch {
	case !s.IsValid() && !d.IsValid():
		s, d = netip.IPv4Unspecified(), netip.IPv4Unspecified()
	case !s.IsValid():
		s = pcapUnspecified(d)
	case !d.IsValid():
		d = pcapUnspecified(s)
	}
	if s.Is4() != d.Is4() {
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return netip.AddrPortFrom(s.WithZone(""), src.Port()), netip.AddrPortFrom(d.WithZone(""), dst.Port())
}

func pcapUnspecified(like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// appendRecord appends the record header and packet for ev to b.
func (t *PcapTracer) appendRecord(b []byte, ev *TraceEvent) []byte {
	src, dst := pcapEndpoints(ev)
	v4 := src.Addr().Is4()
	stream := ev.Flow.Network.Reliable()
	ipLen, l4Len := pcapIPv6Len, pcapUDPLen
	if v4 {
		ipLen = pcapIPv4Len
	}
	if stream {
		l4Len = pcapTCPLen
	}
	data := ev.Data
	origLen := len(data)
	maxData := pcapMaxIPLen - l4Len
	if v4 {
		maxData -= pcapIPv4Len
	}
	if len(data) > maxData {
		data = data[:maxData]
	}
	l4Total := l4Len + len(data)

	now := ev.Time
	if now.IsZero() {
		now = time.Now()
	}
	usec := max(now.UnixMicro(), 0)
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(usec/1e6))
	b = le.AppendUint32(b, uint32(usec%1e6))
	b = le.AppendUint32(b, uint32(ipLen+l4Total))
	b = le.AppendUint32(b, uint32(min(int64(ipLen+l4Len+origLen), 1<<32-1)))

	proto := byte(pcapProtoUDP)
	if stream {
		proto = pcapProtoTCP
	}
	be := binary.BigEndian
	sa, da := src.Addr().AsSlice(), dst.Addr().AsSlice()

	// IP header.
	ip := len(b)
	if v4 {
		t.ipID++
		b = append(b, 0x45, 0)
		b = be.AppendUint16(b, uint16(pcapIPv4Len+l4Total))
		b = be.AppendUint16(b, t.ipID)
		b = be.AppendUint16(b, 0x4000) // DF
		b = append(b, 64, proto, 0, 0)
		b = append(b, sa...)
		b = append(b, da...)
		be.PutUint16(b[ip+10:], pcapFold(pcapSum(0, b[ip:])))
	} else {
		b = append(b, 0x60, 0, 0, 0)
		b = be.AppendUint16(b, uint16(l4Total))
		b = append(b, proto, 64)
		b = append(b, sa...)
		b = append(b, da...)
	}

	// Transport header; its checksum covers a pseudo-header (RFC 768,
	// RFC 9293 §3.1, RFC 8200 §8.1).
	l4 := len(b)
	sum := pcapSum(0, sa)
	sum = pcapSum(sum, da)
	sum += uint32(proto) + uint32(l4Total)
	if stream {
		seq, ack := t.sequence(ev.Flow.Conn, src, dst, origLen, now)
		b = be.AppendUint16(b, src.Port())
		b = be.AppendUint16(b, dst.Port())
		b = be.AppendUint32(b, seq)
		b = be.AppendUint32(b, ack)
		b = append(b, pcapTCPLen/4<<4, pcapTCPFlagsPSHA)
		b = be.AppendUint16(b, 0xffff) // window
		b = append(b, 0, 0, 0, 0)      // checksum, urgent pointer
		b = append(b, data...)
		be.PutUint16(b[l4+16:], pcapFold(pcapSum(sum, b[l4:])))
	} else {
		b = be.AppendUint16(b, src.Port())
		b = be.AppendUint16(b, dst.Port())
		b = be.AppendUint16(b, uint16(l4Total))
		b = append(b, 0, 0)
		b = append(b, data...)
		c := pcapFold(pcapSum(sum, b[l4:]))
		if c == 0 {
			c = 0xffff // RFC 768: zero means no checksum
		}
		be.PutUint16(b[l4+6:], c)
	}
	return b
}

// sequence returns the sequence and acknowledgment numbers of a segment of
// n bytes from src to dst on connection conn, and advances the sender's.
// A connection seen for the first time starts both directions from a
// clock, in 4 µs steps as RFC 9293 §3.4.1 suggests for initial numbers.
func (t *PcapTracer) sequence(conn uint64, src, dst netip.AddrPort, n int, now time.Time) (seq, ack uint32) {
	k := pcapStreamKey{conn: conn, a: src, b: dst}
	dir := 0
	if src.Compare(dst) > 0 {
		k.a, k.b = dst, src
		dir = 1
	}
	s, ok := t.streams[k]
	if !ok {
		if len(t.streams) >= PcapMaxStreams {
			for old := range t.streams {
				delete(t.streams, old)
				break
			}
		}
		isn := uint32(now.UnixMicro() / 4)
		s = &pcapStream{next: [2]uint32{isn, isn + 0x40000000}}
		t.streams[k] = s
	}
	seq, ack = s.next[dir], s.next[1-dir]
	s.next[dir] += uint32(n)
	return seq, ack
}

// pcapSum adds b to a ones' complement sum of 16-bit big-endian words
// (RFC 1071).
func pcapSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// pcapFold folds a sum to 16 bits and complements it.
func pcapFold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
