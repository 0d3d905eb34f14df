package ua_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// TestStatsCounts: calls placed, received, established and refused move
// the counters of both user agents; a refusal is counted by its status on
// both sides; a garbage datagram is counted as malformed; the gauges come
// back to zero once the calls end.
func TestStatsCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		calls := make(chan *ua.Call, 4)
		var busy atomic.Bool
		b, _ := newUA(t, n, "192.0.2.2:5060", ua.Config{OnCall: func(ctx context.Context, ic *ua.IncomingCall) {
			if busy.Load() {
				_ = ic.Reject(sip.StatusBusyHere, "")
				return
			}
			answerer(calls)(ctx, ic)
		}})
		a, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		require.Equal(t, map[int]uint64{}, a.Stats().Failures)

		out, err := a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.NoError(t, err)
		in := <-calls
		sa, sb := a.Stats(), b.Stats()
		require.Equal(t, 1, sa.CallsActive)
		require.Equal(t, 1, sb.CallsActive)
		require.Equal(t, uint64(1), sa.CallsOutgoing)
		require.Equal(t, uint64(1), sb.CallsIncoming)
		require.Equal(t, uint64(1), sa.CallsEstablished)
		require.Equal(t, uint64(1), sb.CallsEstablished)
		require.Positive(t, sa.Transport.MessagesOut)

		require.NoError(t, out.Hangup(t.Context()))
		<-in.Done()
		busy.Store(true)
		_, err = a.Dial(t.Context(), "sip:bob@192.0.2.2:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.Equal(t, sip.StatusBusyHere, statusOf(t, err))
		synctest.Wait()
		sa, sb = a.Stats(), b.Stats()
		require.Equal(t, map[int]uint64{sip.StatusBusyHere: 1}, sa.Failures)
		require.Equal(t, map[int]uint64{sip.StatusBusyHere: 1}, sb.Failures)
		require.Equal(t, uint64(2), sb.CallsIncoming)
		require.Equal(t, uint64(1), sb.CallsEstablished)
		require.Zero(t, sa.CallsActive)
		require.Zero(t, sb.CallsActive)
		require.Zero(t, sb.CallsRinging)

		// Garbage is dropped and counted.
		conn, err := n.ListenPacket(t.Context(), "udp", "192.0.2.9:4000")
		require.NoError(t, err)
		_, err = conn.WriteTo([]byte("INVITE \x00\xff garbage\r\n\r\n"), net.UDPAddrFromAddrPort(parseAP("192.0.2.2:5060")))
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		synctest.Wait()
		require.Equal(t, uint64(1), b.Stats().Transport.MalformedDatagrams)

		// Transactions end once their timers run out; then none is live.
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Zero(t, a.Stats().Transactions.Live)
		require.Zero(t, b.Stats().Transactions.Live)
	})
}

// TestStatsRTP: the media of a call over loopback is summed while the
// call is up and kept once it has ended.
func TestStatsRTP(t *testing.T) {
	ctx := mediaCtx(t)
	a, b := newMediaPeer(t, ua.MediaConfig{}), newMediaPeer(t, ua.MediaConfig{})
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	playAndRecord(ctx, t, out.Media(), in.Media(), 1000, 20)
	live := b.u.Stats().RTP
	require.Equal(t, uint64(1), live.Sessions)
	require.Positive(t, live.PacketsReceived)
	require.NoError(t, out.Hangup(ctx))
	<-in.Done()
	ended := b.u.Stats().RTP
	require.Equal(t, uint64(1), ended.Sessions)
	require.GreaterOrEqual(t, ended.PacketsReceived, live.PacketsReceived)
	require.Equal(t, uint64(1), a.u.Stats().RTP.Sessions)
}
