package main

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// ladderMaxLines bounds the messages the ladder keeps; a demo run sends a
// few dozen.
const ladderMaxLines = 1000

// ladder is a transport.Tracer that keeps one line per SIP message, for
// a call flow in the manner of sngrep: time since the start, sender ->
// receiver (by name), the request line or status, and the SDP direction of
// a body. All three endpoints trace into it, so it sees each message twice,
// sent and received; it keeps one line per message sent (retransmissions
// included) and stamps it with the earlier of the two times. The transport
// stamps a message sent once the socket took it, by when the peer may
// have answered it: the receiver's time puts a request before its answer.
type ladder struct {
	start time.Time
	seed  maphash.Seed

	mu      sync.Mutex
	names   map[netip.AddrPort]string
	lines   []ladderLine
	early   map[uint64][]time.Time // arrivals traced before their sending
	dropped int
}

type ladderLine struct {
	at       time.Time
	from, to netip.AddrPort
	text     string
	key      uint64
	arrived  bool
}

func newLadder(start time.Time) *ladder {
	return &ladder{start: start, seed: maphash.MakeSeed(), names: make(map[netip.AddrPort]string),
		early: make(map[uint64][]time.Time)}
}

// Name gives the endpoint at a the name the ladder shows.
func (l *ladder) Name(a netip.AddrPort, name string) {
	l.mu.Lock()
	l.names[a] = name
	l.mu.Unlock()
}

// key identifies a datagram on its way from one address to another.
func (l *ladder) key(from, to netip.AddrPort, data []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	f, t := from.String(), to.String()
	h.WriteString(f)
	h.WriteByte(0)
	h.WriteString(t)
	h.WriteByte(0)
	h.Write(data)
	return h.Sum64()
}

// Trace implements transport.Tracer.
func (l *ladder) Trace(ev transport.TraceEvent) {
	if ev.Direction == transport.In {
		l.arrived(l.key(ev.Flow.Remote, ev.Flow.Local, ev.Data), ev.Time)
		return
	}
	text := describe(ev.Data)
	if text == "" {
		return // a keepalive
	}
	k := l.key(ev.Flow.Local, ev.Flow.Remote, ev.Data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) >= ladderMaxLines {
		l.dropped++
		return
	}
	ln := ladderLine{at: ev.Time, from: ev.Flow.Local, to: ev.Flow.Remote, text: text, key: k}
	if ts := l.early[k]; len(ts) > 0 {
		ln.at, ln.arrived = minTime(ln.at, ts[0]), true
		if l.early[k] = ts[1:]; len(ts) == 1 {
			delete(l.early, k)
		}
	}
	l.lines = append(l.lines, ln)
}

// arrived notes that the datagram with key k arrived at at.
func (l *ladder) arrived(k uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.lines {
		if ln := &l.lines[i]; ln.key == k && !ln.arrived {
			ln.at, ln.arrived = minTime(ln.at, at), true
			return
		}
	}
	if len(l.early) < ladderMaxLines {
		l.early[k] = append(l.early[k], at)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// describe summarizes one SIP message: "REGISTER sip:demo.test",
// "401 Unauthorized (REGISTER)", "re-INVITE sip:… [sdp sendonly]".
func describe(data []byte) string {
	m, err := sip.Parse(bytes.Clone(data))
	if err != nil {
		line, _, _ := bytes.Cut(data, []byte("\r\n"))
		return strings.TrimSpace(string(line))
	}
	var b strings.Builder
	switch m := m.(type) {
	case *sip.Request:
		to, _ := m.To()
		if m.Method == sip.INVITE && to.Tag() != "" {
			b.WriteString("re-")
		}
		b.WriteString(string(m.Method))
		b.WriteString(" ")
		b.WriteString(m.URI.String())
		if m.Method == sip.REGISTER {
			if len(m.Authorization()) > 0 {
				b.WriteString(" (with credentials")
			} else {
				b.WriteString(" (no credentials")
			}
			if e := m.Header("Expires"); e != "" {
				b.WriteString(", Expires: " + e)
			}
			b.WriteString(")")
		}
	case *sip.Response:
		cseq, _ := m.CSeq()
		fmt.Fprintf(&b, "%d %s (%s)", m.StatusCode, m.Reason, cseq.Method)
	}
	if body := m.Body(); len(body) > 0 && strings.HasPrefix(strings.ToLower(m.Header("Content-Type")), "application/sdp") {
		b.WriteString(" [sdp ")
		b.WriteString(ua.SDPDirection(body).String())
		b.WriteString("]")
	}
	return b.String()
}

// Lines returns the ladder's lines in time order.
func (l *ladder) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := slices.Clone(l.lines)
	slices.SortStableFunc(lines, func(a, b ladderLine) int { return a.at.Compare(b.at) })
	width := 0
	for _, n := range l.names {
		width = max(width, len(n))
	}
	name := func(a netip.AddrPort) string {
		if n, ok := l.names[a]; ok {
			return n
		}
		return a.String()
	}
	out := make([]string, 0, len(lines)+1)
	for _, ln := range lines {
		out = append(out, fmt.Sprintf("%8.3fs  %-*s -> %-*s  %s", ln.at.Sub(l.start).Seconds(), width, name(ln.from), width, name(ln.to), ln.text))
	}
	if l.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d more messages not shown)", l.dropped))
	}
	return out
}

// Print writes the ladder to w.
func (l *ladder) Print(w io.Writer) {
	for _, s := range l.Lines() {
		fmt.Fprintln(w, "  "+s)
	}
}

// tracers fans one trace out to several tracers.
type tracers []transport.Tracer

func (t tracers) Trace(ev transport.TraceEvent) {
	for _, x := range t {
		x.Trace(ev)
	}
}

// rtpCapture writes the RTP and RTCP of the calls' sessions into the SIP
// capture, as UDP packets between the sessions' sockets: Wireshark then
// decodes them as RTP from the SDP of the INVITEs in the same file.
type rtpCapture struct{ pcap *transport.PcapTracer }

// TracePacket implements rtp.PacketTracer. Received datagrams are
// skipped: both ends are in this process, so every one was already
// written by its sender.
func (c rtpCapture) TracePacket(p rtp.PacketTrace) {
	if !p.Sent {
		return
	}
	c.pcap.Trace(transport.TraceEvent{
		Time:      p.Time,
		Direction: transport.Out,
		Flow:      transport.Flow{Network: transport.UDP, Local: p.Local, Remote: p.Remote},
		Data:      p.Data,
	})
}
