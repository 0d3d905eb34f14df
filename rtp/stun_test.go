package rtp_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
)

// natPublic is the address the fake STUN server reports, as a NAT's outside
// would be: the source port plus natPortShift on this address.
var natPublic = netip.MustParseAddr("203.0.113.9")

const natPortShift = 10000

// stunMode is how the fake STUN server answers.
type stunMode int

const (
	stunAnswer stunMode = iota // answer each binding request
	stunSilent                 // read and never answer
	stunSpoof                  // answer from another socket than the one asked
)

// fakeSTUN is a STUN server on loopback that reports each request's source
// as natPublic:(port+natPortShift). It stops with the test.
type fakeSTUN struct {
	addr netip.AddrPort
	mu   sync.Mutex
	seen map[netip.AddrPort]int // binding requests by source
}

func startFakeSTUN(t *testing.T, mode stunMode) *fakeSTUN {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	f := &fakeSTUN{addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), seen: map[netip.AddrPort]int{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			f.mu.Lock()
			f.seen[from]++
			f.mu.Unlock()
			if mode == stunSilent {
				continue
			}
			res, err := stun.Build(req, stun.BindingSuccess, &stun.XORMappedAddress{
				IP: natPublic.AsSlice(), Port: int(from.Port()) + natPortShift,
			}, stun.Fingerprint)
			if err != nil {
				continue
			}
			out := conn
			if mode == stunSpoof {
				out = other
			}
			_, _ = out.WriteToUDPAddrPort(res.Raw, from)
		}
	})
	t.Cleanup(func() {
		_ = conn.Close()
		_ = other.Close()
		wg.Wait()
	})
	return f
}

func (f *fakeSTUN) requests(from netip.AddrPort) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[from]
}

// public is what the fake server reports for a local socket.
func public(local netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(natPublic, local.Port()+natPortShift)
}

func TestDiscoverMapping(t *testing.T) {
	tests := []struct {
		name    string
		mux     bool
		mode    stunMode
		wantErr bool
	}{
		{name: "RTP and RTCP sockets", mode: stunAnswer},
		{name: "rtcp-mux: one socket", mux: true, mode: stunAnswer},
		{name: "silent server: bounded wait", mode: stunSilent, wantErr: true},
		{name: "answer from another address: ignored", mode: stunSpoof, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFakeSTUN(t, tc.mode)
			s := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t), RTCPMux: tc.mux})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			m, err := s.DiscoverMapping(ctx, srv.addr)
			if tc.wantErr {
				require.ErrorIs(t, err, rtp.ErrSTUN)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.Less(t, time.Since(start), 2*time.Second)
				// Retransmitted from STUNRetransmit doubling: at 0, 100 and 300 ms.
				require.GreaterOrEqual(t, srv.requests(s.LocalAddr()), 3)
				require.Zero(t, s.Stats().Malformed, "a STUN answer is never malformed RTP")
				return
			}
			require.NoError(t, err)
			require.Equal(t, public(s.LocalAddr()), m.RTP)
			if tc.mux {
				require.Equal(t, m.RTP, m.RTCP)
			} else {
				require.Equal(t, public(s.LocalRTCPAddr()), m.RTCP)
				require.Equal(t, 1, srv.requests(s.LocalRTCPAddr()), "the RTCP socket asked for itself")
			}
			st := s.Stats()
			require.Zero(t, st.Malformed)
			require.GreaterOrEqual(t, st.STUNReceived, uint64(1))
		})
	}
}

// TestSTUNDemux: STUN messages on the media sockets, answers or not, are
// consumed and counted as STUN, RTP among them still arrives, and nothing
// is counted as malformed (RFC 7983 §7: first byte 0-3 is STUN).
func TestSTUNDemux(t *testing.T) {
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	pa, pb := negotiate(t, a, b, false)
	require.NoError(t, a.SetRemote(pa))
	require.NoError(t, b.SetRemote(pb))

	junk, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(b.LocalAddr()))
	require.NoError(t, err)
	defer junk.Close()
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	require.NoError(t, err)
	stray, err := stun.Build(stun.TransactionID, stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IPv4(198, 51, 100, 1), Port: 4000}, stun.Fingerprint)
	require.NoError(t, err)
	msgs := [][]byte{req.Raw, stray.Raw, {0x00, 0x01, 0x00}} // a request, an unsolicited answer, a truncated one
	for _, m := range msgs {
		_, err := junk.Write(m)
		require.NoError(t, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame := make([]int16, 160)
	for {
		require.NoError(t, a.WriteFrame(ctx, frame))
		st := b.Stats()
		if st.STUNReceived == uint64(len(msgs)) && st.PacketsReceived > 0 {
			require.Zero(t, st.Malformed)
			return
		}
		require.NoError(t, ctx.Err(), "stats %+v", st)
		_, err := b.ReadFrame(ctx, frame)
		require.NoError(t, err)
	}
}
