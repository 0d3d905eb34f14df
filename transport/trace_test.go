package transport_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/transport"
)

// pcapPacket is one record of a capture, read back by pcapRead.
type pcapPacket struct {
	ts               time.Time
	inclLen, origLen int
	v4               bool
	src, dst         netip.AddrPort
	tcp              bool
	seq, ack         uint32
	flags            byte
	payload          []byte
}

// pcapOnesSum is the RFC 1071 sum of b, folded.
func pcapOnesSum(parts ...[]byte) uint16 {
	var sum uint64
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	for i := 0; i+1 < len(all); i += 2 {
		sum += uint64(all[i])<<8 | uint64(all[i+1])
	}
	if len(all)%2 == 1 {
		sum += uint64(all[len(all)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// pcapRead parses a capture written by PcapTracer and checks every header
// and checksum on the way.
func pcapRead(t *testing.T, b []byte) []pcapPacket {
	t.Helper()
	le := binary.LittleEndian
	be := binary.BigEndian
	require.GreaterOrEqual(t, len(b), 24)
	require.Equal(t, uint32(0xa1b2c3d4), le.Uint32(b[0:]), "magic")
	require.Equal(t, uint16(2), le.Uint16(b[4:]), "major version")
	require.Equal(t, uint16(4), le.Uint16(b[6:]), "minor version")
	require.Equal(t, uint32(262144), le.Uint32(b[16:]), "snaplen")
	require.Equal(t, uint32(101), le.Uint32(b[20:]), "LINKTYPE_RAW")
	b = b[24:]
	var out []pcapPacket
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 16, "record header")
		var p pcapPacket
		p.ts = time.Unix(int64(le.Uint32(b[0:])), int64(le.Uint32(b[4:]))*1000)
		require.Less(t, le.Uint32(b[4:]), uint32(1e6), "microseconds")
		p.inclLen, p.origLen = int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
		require.LessOrEqual(t, p.inclLen, p.origLen)
		require.LessOrEqual(t, p.inclLen, 262144)
		b = b[16:]
		require.GreaterOrEqual(t, len(b), p.inclLen, "packet data")
		pkt := b[:p.inclLen]
		b = b[p.inclLen:]

		var proto byte
		var pseudo, seg []byte
		switch pkt[0] >> 4 {
		case 4:
			p.v4 = true
			require.Equal(t, byte(0x45), pkt[0], "IPv4 header length")
			require.Equal(t, p.inclLen, int(be.Uint16(pkt[2:])), "IPv4 total length")
			require.Equal(t, uint16(0xffff), pcapOnesSum(pkt[:20]), "IPv4 header checksum")
			proto = pkt[9]
			sa, _ := netip.AddrFromSlice(pkt[12:16])
			da, _ := netip.AddrFromSlice(pkt[16:20])
			seg = pkt[20:]
			pseudo = append(append(append([]byte{}, pkt[12:20]...), 0, proto), be.AppendUint16(nil, uint16(len(seg)))...)
			p.src, p.dst = netip.AddrPortFrom(sa, be.Uint16(seg[0:])), netip.AddrPortFrom(da, be.Uint16(seg[2:]))
		case 6:
			require.Equal(t, p.inclLen-40, int(be.Uint16(pkt[4:])), "IPv6 payload length")
			proto = pkt[6]
			sa, _ := netip.AddrFromSlice(pkt[8:24])
			da, _ := netip.AddrFromSlice(pkt[24:40])
			seg = pkt[40:]
			pseudo = append(append(append([]byte{}, pkt[8:40]...), be.AppendUint32(nil, uint32(len(seg)))...), 0, 0, 0, proto)
			p.src, p.dst = netip.AddrPortFrom(sa, be.Uint16(seg[0:])), netip.AddrPortFrom(da, be.Uint16(seg[2:]))
		default:
			t.Fatalf("IP version %d", pkt[0]>>4)
		}
		require.Equal(t, uint16(0xffff), pcapOnesSum(pseudo, seg), "transport checksum")
		switch proto {
		case 17:
			require.Equal(t, len(seg), int(be.Uint16(seg[4:])), "UDP length")
			require.NotZero(t, be.Uint16(seg[6:]), "UDP checksum present")
			p.payload = seg[8:]
		case 6:
			p.tcp = true
			p.seq, p.ack = be.Uint32(seg[4:]), be.Uint32(seg[8:])
			require.Equal(t, byte(5<<4), seg[12], "TCP data offset")
			p.flags = seg[13]
			p.payload = seg[20:]
		default:
			t.Fatalf("protocol %d", proto)
		}
		out = append(out, p)
	}
	return out
}

// pcapCheckSeq checks that each direction of each TCP connection numbers
// its bytes without gaps and acknowledges the other direction's.
func pcapCheckSeq(t *testing.T, pkts []pcapPacket) {
	t.Helper()
	type dir struct{ src, dst netip.AddrPort }
	next := map[dir]uint32{}
	for i, p := range pkts {
		if !p.tcp {
			continue
		}
		require.Equal(t, byte(0x18), p.flags, "PSH|ACK, packet %d", i)
		if n, ok := next[dir{p.src, p.dst}]; ok {
			require.Equal(t, n, p.seq, "seq of packet %d", i)
		}
		if n, ok := next[dir{p.dst, p.src}]; ok {
			require.Equal(t, n, p.ack, "ack of packet %d", i)
		}
		next[dir{p.src, p.dst}] = p.seq + uint32(p.origLen-p.inclLen+len(p.payload))
	}
}

func sipMsg(first string, cseq string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString(first + "\r\n")
	b.WriteString("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK" + strings.ReplaceAll(cseq, " ", "") + "\r\n")
	b.WriteString("From: <sip:alice@example.com>;tag=1928301774\r\n")
	b.WriteString("To: <sip:bob@example.com>\r\n")
	b.WriteString("Call-ID: a84b4c76e66710@pc33.example.com\r\n")
	b.WriteString("CSeq: " + cseq + "\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

var (
	flowUDP4 = transport.Flow{Network: transport.UDP,
		Local: netip.MustParseAddrPort("192.0.2.1:5060"), Remote: netip.MustParseAddrPort("198.51.100.7:5060")}
	flowTCP6 = transport.Flow{Network: transport.TCP, Conn: 7,
		Local: netip.MustParseAddrPort("[2001:db8::1]:5060"), Remote: netip.MustParseAddrPort("[2001:db8::2]:43210")}
	flowUDPMixed = transport.Flow{Network: transport.UDP,
		Local: netip.MustParseAddrPort("192.0.2.1:5060"), Remote: netip.MustParseAddrPort("[2001:db8::3]:5060")}
	flowTLS4 = transport.Flow{Network: transport.TLS, Conn: 8,
		Local: netip.MustParseAddrPort("192.0.2.1:5061"), Remote: netip.MustParseAddrPort("203.0.113.9:50123")}
)

// pcapEvents is a short exchange over UDP and TCP, IPv4 and IPv6.
func pcapEvents() []transport.TraceEvent {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	ev := func(i int, d transport.Direction, f transport.Flow, data []byte) transport.TraceEvent {
		return transport.TraceEvent{Time: t0.Add(time.Duration(i) * 1500 * time.Microsecond), Direction: d, Flow: f, Data: data}
	}
	return []transport.TraceEvent{
		ev(0, transport.Out, flowUDP4, sipMsg("INVITE sip:bob@example.com SIP/2.0", "1 INVITE", "Contact: <sip:alice@192.0.2.1>")),
		ev(1, transport.In, flowUDP4, sipMsg("SIP/2.0 100 Trying", "1 INVITE")),
		ev(2, transport.Out, flowTCP6, sipMsg("REGISTER sip:example.com SIP/2.0", "1 REGISTER")),
		ev(3, transport.In, flowTCP6, sipMsg("SIP/2.0 401 Unauthorized", "1 REGISTER", `WWW-Authenticate: Digest realm="example.com", nonce="abc"`)),
		ev(4, transport.Out, flowTCP6, sipMsg("REGISTER sip:example.com SIP/2.0", "2 REGISTER")),
		ev(5, transport.In, flowTCP6, sipMsg("SIP/2.0 200 OK", "2 REGISTER")),
		ev(6, transport.In, flowUDPMixed, sipMsg("BYE sip:alice@192.0.2.1 SIP/2.0", "2 BYE")),
		ev(7, transport.Out, flowTLS4, sipMsg("OPTIONS sip:carol@example.com SIP/2.0", "3 OPTIONS")),
	}
}

func pcapCapture(t *testing.T, evs []transport.TraceEvent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tr, err := transport.NewPcapTracer(&buf)
	require.NoError(t, err)
	for _, ev := range evs {
		tr.Trace(ev)
	}
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Err())
	return buf.Bytes()
}

func TestPcapTracer(t *testing.T) {
	evs := pcapEvents()
	pkts := pcapRead(t, pcapCapture(t, evs))
	require.Len(t, pkts, len(evs))
	for i, ev := range evs {
		p := pkts[i]
		src, dst := ev.Flow.Local, ev.Flow.Remote
		if ev.Direction == transport.In {
			src, dst = dst, src
		}
		if src.Addr().Is4() != dst.Addr().Is4() { // mixed families: IPv4-mapped
			src = netip.AddrPortFrom(netip.AddrFrom16(src.Addr().As16()), src.Port())
			dst = netip.AddrPortFrom(netip.AddrFrom16(dst.Addr().As16()), dst.Port())
		}
		require.Equal(t, src, p.src, "packet %d", i)
		require.Equal(t, dst, p.dst, "packet %d", i)
		require.Equal(t, src.Addr().Is4(), p.v4, "packet %d", i)
		require.Equal(t, ev.Flow.Network.Reliable(), p.tcp, "packet %d", i)
		require.Equal(t, ev.Data, p.payload, "packet %d", i)
		require.Equal(t, p.inclLen, p.origLen, "packet %d", i)
		require.True(t, ev.Time.Truncate(time.Microsecond).Equal(p.ts), "packet %d: %v, want %v", i, p.ts, ev.Time)
	}
	pcapCheckSeq(t, pkts)
}

func TestPcapTracerTruncates(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	tests := []struct {
		name    string
		flow    transport.Flow
		headers int // IP + transport header bytes
		keep    int // payload bytes that fit
	}{
		{"UDP IPv4", flowUDP4, 28, 65535 - 28},
		{"TCP IPv6", flowTCP6, 60, 65535 - 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := []transport.TraceEvent{
				{Time: time.Unix(1, 0), Direction: transport.Out, Flow: tc.flow, Data: big},
				{Time: time.Unix(2, 0), Direction: transport.Out, Flow: tc.flow, Data: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")},
			}
			pkts := pcapRead(t, pcapCapture(t, evs))
			require.Len(t, pkts, 2)
			require.Equal(t, tc.headers+tc.keep, pkts[0].inclLen)
			require.Equal(t, tc.headers+len(big), pkts[0].origLen)
			require.Equal(t, big[:tc.keep], pkts[0].payload)
			require.Equal(t, evs[1].Data, pkts[1].payload)
			pcapCheckSeq(t, pkts)
		})
	}
}

func TestPcapTracerConcurrent(t *testing.T) {
	var buf bytes.Buffer
	tr, err := transport.NewPcapTracer(&buf)
	require.NoError(t, err)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := transport.Direction(i % 2)
				tr.Trace(transport.TraceEvent{Time: time.Now(), Direction: d, Flow: flowTCP6,
					Data: sipMsg("OPTIONS sip:bob@example.com SIP/2.0", fmt.Sprintf("%d OPTIONS", w*each+i))})
			}
		})
	}
	wg.Wait()
	require.NoError(t, tr.Close())
	pkts := pcapRead(t, buf.Bytes())
	require.Len(t, pkts, writers*each)
	pcapCheckSeq(t, pkts)
}

// pcapFailWriter takes ok bytes, then fails every write.
type pcapFailWriter struct {
	ok     int
	writes int
}

var errPcapTestWrite = errors.New("disk full")

func (w *pcapFailWriter) Write(b []byte) (int, error) {
	w.writes++
	if len(b) <= w.ok {
		w.ok -= len(b)
		return len(b), nil
	}
	n := w.ok
	w.ok = 0
	return n, errPcapTestWrite
}

func TestPcapTracerErrors(t *testing.T) {
	_, err := transport.NewPcapTracer(&pcapFailWriter{})
	require.ErrorIs(t, err, errPcapTestWrite)

	w := &pcapFailWriter{ok: 24}
	tr, err := transport.NewPcapTracer(w)
	require.NoError(t, err)
	require.NoError(t, tr.Err())
	msg := bytes.Repeat([]byte("y"), 1000)
	for range 200 { // more than the buffer holds
		tr.Trace(transport.TraceEvent{Direction: transport.Out, Flow: flowUDP4, Data: msg})
	}
	require.ErrorIs(t, tr.Err(), errPcapTestWrite)
	writes := w.writes
	tr.Trace(transport.TraceEvent{Direction: transport.Out, Flow: flowUDP4, Data: msg})
	require.ErrorIs(t, tr.Flush(), errPcapTestWrite)
	require.ErrorIs(t, tr.Close(), errPcapTestWrite)
	require.Equal(t, writes, w.writes, "writes after an error")
}

func TestPcapTracerClose(t *testing.T) {
	var buf bytes.Buffer
	tr, err := transport.NewPcapTracer(&buf)
	require.NoError(t, err)
	before := time.Now()
	tr.Trace(transport.TraceEvent{Direction: transport.In, Flow: transport.Flow{Network: transport.UDP}, Data: []byte("x")})
	require.Equal(t, 24, buf.Len(), "buffered until Flush")
	require.NoError(t, tr.Flush())
	after := time.Now()
	n := buf.Len()
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Close())
	tr.Trace(transport.TraceEvent{Direction: transport.In, Flow: flowUDP4, Data: []byte("x")})
	require.NoError(t, tr.Flush())
	require.Equal(t, n, buf.Len(), "traced after Close")
	require.NoError(t, tr.Err())

	pkts := pcapRead(t, buf.Bytes())
	require.Len(t, pkts, 1)
	// No addresses: 0.0.0.0 both ways. No time: the time of the call.
	require.Equal(t, netip.MustParseAddrPort("0.0.0.0:0"), pkts[0].src)
	require.False(t, pkts[0].ts.Before(before.Truncate(time.Microsecond)))
	require.False(t, pkts[0].ts.After(after))
}

func TestPcapTracerMissingAddress(t *testing.T) {
	remote := netip.MustParseAddrPort("[2001:db8::9]:5062")
	pkts := pcapRead(t, pcapCapture(t, []transport.TraceEvent{
		{Direction: transport.Out, Flow: transport.Flow{Network: transport.TCP, Remote: remote}, Data: []byte("x")},
		{Direction: transport.In, Flow: transport.Flow{Network: transport.UDP, Local: netip.MustParseAddrPort("192.0.2.1:5060")}, Data: []byte("y")},
	}))
	require.Len(t, pkts, 2)
	require.Equal(t, netip.MustParseAddrPort("[::]:0"), pkts[0].src)
	require.Equal(t, remote, pkts[0].dst)
	require.Equal(t, netip.MustParseAddrPort("0.0.0.0:0"), pkts[1].src)
}

// TestPcapTracerTshark checks that tshark decodes the capture as SIP. It
// needs tshark; under CI=true its absence is a failure.
func TestPcapTracerTshark(t *testing.T) {
	tshark := testenv.LookPath(t, "tshark", "tshark")
	evs := pcapEvents()
	path := filepath.Join(t.TempDir(), "sip.pcap")
	require.NoError(t, os.WriteFile(path, pcapCapture(t, evs), 0o600))

	var want []string
	for _, ev := range evs {
		first, _, _ := strings.Cut(string(ev.Data), "\r\n")
		if code, ok := strings.CutPrefix(first, "SIP/2.0 "); ok {
			want = append(want, "|"+code[:3])
		} else {
			method, _, _ := strings.Cut(first, " ")
			want = append(want, method+"|")
		}
	}
	// Plain SIP on TLS's port needs "Decode As".
	cmd := exec.CommandContext(t.Context(), tshark, "-n", "-r", path, "-d", "tcp.port==5061,sip",
		"-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var got []string
	for line := range strings.Lines(string(out)) {
		got = append(got, strings.ReplaceAll(strings.TrimRight(line, "\r\n"), "\t", "|"))
	}
	require.Equal(t, want, got, stderr.String())
}

// logRecords decodes the JSON lines a slog.JSONHandler wrote.
func logRecords(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range bytes.Lines(b) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestLogTracer(t *testing.T) {
	invite := sipMsg("INVITE sip:bob@example.com SIP/2.0", "1 INVITE")
	compact := []byte("SIP/2.0 180 Ringing\r\ni: abc@host\r\nCSeq:  7 INVITE \r\nl: 0\r\n\r\n")
	long := []byte("OPTIONS sip:" + strings.Repeat("a", 300) + "@example.com SIP/2.0\r\n\r\n")
	tests := []struct {
		name string
		cfg  transport.LogTracerConfig
		ev   transport.TraceEvent
		want map[string]any
	}{
		{
			name: "sent over UDP",
			cfg:  transport.LogTracerConfig{Level: slog.LevelDebug},
			ev:   transport.TraceEvent{Direction: transport.Out, Flow: flowUDP4, Data: invite},
			want: map[string]any{
				"level": "DEBUG", "msg": "sip sent", "direction": "out", "transport": "udp",
				"laddr": "192.0.2.1:5060", "raddr": "198.51.100.7:5060", "size": float64(len(invite)),
				"first_line": "INVITE sip:bob@example.com SIP/2.0", "call_id": "a84b4c76e66710@pc33.example.com", "cseq": "1 INVITE",
			},
		},
		{
			name: "received over TCP, compact Call-ID",
			ev:   transport.TraceEvent{Direction: transport.In, Flow: flowTCP6, Data: compact},
			want: map[string]any{
				"level": "INFO", "msg": "sip received", "direction": "in", "transport": "tcp",
				"laddr": "[2001:db8::1]:5060", "raddr": "[2001:db8::2]:43210", "conn": float64(7), "size": float64(len(compact)),
				"first_line": "SIP/2.0 180 Ringing", "call_id": "abc@host", "cseq": "7 INVITE",
			},
		},
		{
			name: "full message on request",
			cfg:  transport.LogTracerConfig{FullMessage: true},
			ev:   transport.TraceEvent{Direction: transport.Out, Flow: flowUDP4, Data: compact},
			want: map[string]any{
				"level": "INFO", "msg": "sip sent", "direction": "out", "transport": "udp",
				"laddr": "192.0.2.1:5060", "raddr": "198.51.100.7:5060", "size": float64(len(compact)),
				"first_line": "SIP/2.0 180 Ringing", "call_id": "abc@host", "cseq": "7 INVITE", "message": string(compact),
			},
		},
		{
			name: "long first line is cut",
			ev:   transport.TraceEvent{Direction: transport.In, Flow: flowUDP4, Data: long},
			want: map[string]any{
				"level": "INFO", "msg": "sip received", "direction": "in", "transport": "udp",
				"laddr": "192.0.2.1:5060", "raddr": "198.51.100.7:5060", "size": float64(len(long)),
				"first_line": string(long[:transport.LogTracerMaxLine]), "call_id": "", "cseq": "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			transport.NewLogTracer(l, tc.cfg).Trace(tc.ev)
			require.Equal(t, []map[string]any{tc.want}, logRecords(t, buf.Bytes()))
		})
	}
}

func TestLogTracerDisabled(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ev := transport.TraceEvent{Direction: transport.Out, Flow: flowUDP4, Data: []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")}
	transport.NewLogTracer(l, transport.LogTracerConfig{Level: slog.LevelDebug}).Trace(ev)
	require.Zero(t, buf.Len())
	transport.NewLogTracer(nil, transport.LogTracerConfig{}).Trace(ev) // silent, no panic
	tr := transport.NewLogTracer(l, transport.LogTracerConfig{Level: slog.LevelDebug})
	allocs := testing.AllocsPerRun(100, func() { tr.Trace(ev) })
	require.Zero(t, allocs, "a disabled tracer does no work")
}

func ExamplePcapTracer() {
	var capture bytes.Buffer // a file, usually
	tr, err := transport.NewPcapTracer(&capture)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("file header:", capture.Len(), "bytes")

	msg := []byte("OPTIONS sip:bob@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:alice@example.com>;tag=1928301774\r\n" +
		"To: <sip:bob@example.com>\r\n" +
		"Call-ID: a84b4c76e66710\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Content-Length: 0\r\n\r\n")
	tr.Trace(transport.TraceEvent{
		Time:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Direction: transport.Out,
		Flow: transport.Flow{
			Network: transport.UDP,
			Local:   netip.MustParseAddrPort("192.0.2.1:5060"),
			Remote:  netip.MustParseAddrPort("198.51.100.7:5060"),
		},
		Data: msg,
	})
	if err := tr.Close(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("SIP message:", len(msg), "bytes")
	fmt.Println("packet record:", capture.Len()-24, "bytes (16 record header, 20 IPv4, 8 UDP, message)")
	// Output:
	// file header: 24 bytes
	// SIP message: 248 bytes
	// packet record: 292 bytes (16 record header, 20 IPv4, 8 UDP, message)
}
