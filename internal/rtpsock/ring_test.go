//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x) && !rtp_netpoll

package rtpsock

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/internal/uring"
)

// ringGot is one datagram a RingReader handed over.
type ringGot struct {
	pair     int
	data     string
	from     netip.AddrPort
	arrival  time.Time
	rtcpOnly bool
}

// ringRecorder keeps what a Read hands over, per pair ordinal.
type ringRecorder struct {
	got  []ringGot
	errs []int
}

type ringPairRx struct {
	r    *ringRecorder
	pair int
}

func (x ringPairRx) Datagram(pkt []byte, from netip.AddrPort, arrival time.Time, rtcpOnly bool) {
	x.r.got = append(x.r.got, ringGot{x.pair, string(pkt), from, arrival, rtcpOnly})
}

func (x ringPairRx) ReadError() { x.r.errs = append(x.r.errs, x.pair) }

func (r *ringRecorder) rx(pair int) Receiver { return ringPairRx{r, pair} }

// ringFixture is a RingReader over a ring of entries, pairs Pairs on
// 127.0.0.1 (RTCP on its own socket when rtcp is set) and a socket to send
// to them from.
type ringFixture struct {
	ring  *uring.Ring
	rr    *RingReader
	pairs []*Pair
	from  *net.UDPConn
}

func newRingFixture(t *testing.T, entries uint32, pairs int, rtcp bool) *ringFixture {
	t.Helper()
	ring, err := uring.New(entries)
	testenv.Need(t, "io_uring (Linux 5.6 or later, not blocked by seccomp)", err)
	t.Cleanup(ring.Close)
	f := &ringFixture{ring: ring, rr: NewRingReader(ring)}
	lo := netip.MustParseAddr("127.0.0.1")
	step := 1
	if rtcp {
		step = 2
	}
	base := int(testenv.FreeUDPPorts(t, lo, pairs*step))
	for i := range pairs {
		k, err := Bind(lo, base+i*step, !rtcp)
		require.NoError(t, err)
		t.Cleanup(func() { _ = k.Close() })
		f.pairs = append(f.pairs, k)
	}
	f.from, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { f.from.Close() })
	return f
}

func (f *ringFixture) send(t *testing.T, to netip.AddrPort, data string) {
	t.Helper()
	_, err := f.from.WriteToUDPAddrPort([]byte(data), to)
	require.NoError(t, err)
}

func (f *ringFixture) fromAddr() netip.AddrPort {
	return f.from.LocalAddr().(*net.UDPAddr).AddrPort()
}

// read queues every pair and reads them at now.
func (f *ringFixture) read(t *testing.T, now time.Time) *ringRecorder {
	t.Helper()
	rec := &ringRecorder{}
	for _, k := range f.pairs {
		f.rr.Add(k, now)
	}
	require.NoError(t, f.rr.Read(now, rec.rx))
	return rec
}

// TestRingReaderReceive: one Read hands each pair the datagrams of its RTP
// and RTCP sockets, in order, with their source and the socket they came
// on, and with the kernel's arrival time rather than the read time.
func TestRingReaderReceive(t *testing.T) {
	f := newRingFixture(t, 8, 3, true)
	before := time.Now()
	for i, k := range f.pairs {
		for j := range i + 1 { // pair i gets i+1 RTP datagrams
			f.send(t, k.LocalAddr(false), fmt.Sprintf("rtp %d.%d", i, j))
		}
	}
	f.send(t, f.pairs[1].LocalAddr(true), "rtcp 1")
	after := time.Now()

	// The read time lies well after the arrivals: the arrival times handed
	// over come from the kernel's stamps, not from it.
	readAt := time.Now().Add(300 * time.Millisecond)
	rec := f.read(t, readAt)
	require.Empty(t, rec.errs)
	var want []ringGot
	for i := range f.pairs {
		for j := range i + 1 {
			want = append(want, ringGot{pair: i, data: fmt.Sprintf("rtp %d.%d", i, j), from: f.fromAddr()})
		}
		if i == 1 {
			want = append(want, ringGot{pair: 1, data: "rtcp 1", from: f.fromAddr(), rtcpOnly: true})
		}
	}
	require.Len(t, rec.got, len(want))
	for i, g := range rec.got {
		require.False(t, g.arrival.Before(before.Add(-time.Millisecond)), "%q arrived %v before it was sent at %v", g.data, g.arrival, before)
		require.False(t, g.arrival.After(after.Add(time.Millisecond)), "%q arrived %v after the sends ended at %v", g.data, g.arrival, after)
		rec.got[i].arrival = time.Time{}
	}
	require.Equal(t, want, rec.got)

	require.Empty(t, f.read(t, readAt).got, "all was read")
	require.Less(t, len(f.rr.bufs), RingSlots, "a few sockets hold a few buffers")
}

// TestRingReaderPerSocketBound: a flood aimed at one socket is read
// ringMaxPerSocket datagrams a wake-up, while the other sockets are read
// in full; the rest waits for the next wake-up.
func TestRingReaderPerSocketBound(t *testing.T) {
	f := newRingFixture(t, 16, 2, false)
	const flood = ringMaxPerSocket + 10
	for j := range flood {
		f.send(t, f.pairs[0].LocalAddr(false), fmt.Sprintf("flood %d", j))
	}
	f.send(t, f.pairs[1].LocalAddr(false), "calm")

	count := func(rec *ringRecorder, pair int) (n int) {
		for _, g := range rec.got {
			if g.pair == pair {
				n++
			}
		}
		return n
	}
	now := time.Now()
	first := f.read(t, now)
	require.Equal(t, ringMaxPerSocket, count(first, 0))
	require.Equal(t, 1, count(first, 1))
	second := f.read(t, now)
	require.Equal(t, flood-ringMaxPerSocket, count(second, 0))
	require.Zero(t, count(second, 1))
	var flooded []string
	for _, g := range append(first.got, second.got...) {
		if g.pair == 0 {
			flooded = append(flooded, g.data)
		}
	}
	for j, d := range flooded {
		require.Equal(t, fmt.Sprintf("flood %d", j), d, "in order")
	}
}

// TestRingReaderRTCPPoll: a separate RTCP socket is read once per
// rtcpPollInterval, as Receive reads it; its datagram waits until then.
func TestRingReaderRTCPPoll(t *testing.T) {
	f := newRingFixture(t, 8, 1, true)
	k := f.pairs[0]
	now := time.Now()
	require.Empty(t, f.read(t, now).got) // reads the RTCP socket: next in rtcpPollInterval
	f.send(t, k.LocalAddr(true), "rtcp")
	f.send(t, k.LocalAddr(false), "rtp")
	rec := f.read(t, now.Add(rtcpPollInterval/2))
	require.Len(t, rec.got, 1)
	require.Equal(t, "rtp", rec.got[0].data)
	rec = f.read(t, now.Add(rtcpPollInterval))
	require.Len(t, rec.got, 1)
	require.Equal(t, "rtcp", rec.got[0].data)
	require.True(t, rec.got[0].rtcpOnly)
}

// TestRingReaderManySockets: more sockets than a round holds (and a ring
// smaller still) are read in several rounds, each datagram handed to its
// own pair; a closed pair keeps its ordinal and is not read.
func TestRingReaderManySockets(t *testing.T) {
	const pairs = RingSlots/ringFirstReads + 20
	f := newRingFixture(t, 32, pairs, false)
	for i, k := range f.pairs {
		f.send(t, k.LocalAddr(false), fmt.Sprintf("to %d", i))
	}
	const closed = 7
	require.NoError(t, f.pairs[closed].Close())
	rec := f.read(t, time.Now())
	require.Empty(t, rec.errs)
	require.Len(t, rec.got, pairs-1)
	seen := make(map[int]bool)
	for _, g := range rec.got {
		require.Equal(t, fmt.Sprintf("to %d", g.pair), g.data)
		require.False(t, seen[g.pair], "pair %d twice", g.pair)
		seen[g.pair] = true
	}
	require.False(t, seen[closed])
	require.Len(t, f.rr.bufs, RingSlots, "grown to the most a round holds")
}

// TestRingReaderBroken: when the ring fails, Read says so without counting
// read errors, and what it did not read is still there for Receive, the
// fallback.
func TestRingReaderBroken(t *testing.T) {
	f := newRingFixture(t, 8, 2, false)
	for i, k := range f.pairs {
		f.send(t, k.LocalAddr(false), fmt.Sprintf("to %d", i))
	}
	f.ring.Close() // the reader's ring is gone: io_uring_enter fails
	rec := &ringRecorder{}
	now := time.Now()
	for _, k := range f.pairs {
		f.rr.Add(k, now)
	}
	require.Error(t, f.rr.Read(now, rec.rx))
	require.Empty(t, rec.got)
	require.Empty(t, rec.errs)

	var sc Scratch
	for i, k := range f.pairs {
		k.Receive(rec.rx(i), &sc, now)
	}
	require.Len(t, rec.got, 2)
	require.Empty(t, rec.errs)
}
