package ua_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// natOutside is the public address the media STUN server reports: another
// loopback address, so that what the SDP announces is both told apart from
// the Contact's 127.0.0.1 and reachable (the sockets bind every interface).
var natOutside = netip.MustParseAddr("127.0.0.2")

// rtcpShift is how far the fake NAT moves an odd (RTCP) port, breaking the
// RTP+1 pairing so that the SDP needs a=rtcp (RFC 3605).
const rtcpShift = 50

// startMediaSTUN runs a STUN server on loopback answering (unless silent)
// each binding request with natOutside and the source port, odd ports
// moved by rtcpShift. It stops with the test.
func startMediaSTUN(t *testing.T, silent bool) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if silent || req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			port := int(from.Port())
			if port%2 == 1 {
				port += rtcpShift
			}
			res, err := stun.Build(req, stun.BindingSuccess, &stun.XORMappedAddress{IP: natOutside.AsSlice(), Port: port}, stun.Fingerprint)
			if err == nil {
				_, _ = conn.WriteToUDPAddrPort(res.Raw, from)
			}
		}
	})
	t.Cleanup(func() {
		_ = conn.Close()
		wg.Wait()
	})
	return conn.LocalAddr().String()
}

// newSTUNLineUA is a UA on 127.0.0.1 with media bound to every interface
// and one line, user, whose STUN server is stunSrv (no registrar). Its
// incoming calls are answered with a media session and sent to calls.
func newSTUNLineUA(t *testing.T, user, stunSrv string, calls chan<- *ua.Call) *ua.UA {
	t.Helper()
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Lines:    []ua.LineConfig{{AOR: "sip:" + user + "@127.0.0.1", STUNServer: stunSrv}},
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil)
			if err == nil {
				calls <- c
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// TestMediaSTUNMapping: a line with a STUN server announces the public
// mapping of each call's RTP and RTCP sockets in its offer and its answer
// (c=, m=, a=rtcp when the RTCP port is not RTP+1), and audio flows both
// ways to those addresses; with a silent server the SDP falls back to the
// Contact's address after MediaConfig.STUNTimeout.
func TestMediaSTUNMapping(t *testing.T) {
	tests := []struct {
		name   string
		silent bool
	}{
		{name: "mapped", silent: false},
		{name: "silent server: Contact address", silent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			srv := startMediaSTUN(t, tc.silent)
			calls := make(chan *ua.Call, 1)
			a := newSTUNLineUA(t, "alice", srv, nil)
			b := newSTUNLineUA(t, "bob", srv, calls)

			start := time.Now()
			out, err := a.Dial(ctx, "sip:bob@"+b.Addrs()[0].String(), ua.DialOptions{Line: a.Lines()[0]})
			require.NoError(t, err)
			in := recvReal(t, calls, "callee's call")
			setup := time.Since(start)

			for _, c := range []*ua.Call{out, in} {
				sd, err := sdp.Parse(c.LocalSDP())
				require.NoError(t, err)
				local := c.Media().LocalAddr().Port()
				if tc.silent {
					require.Equal(t, "127.0.0.1", sd.Connection.String(), "the Contact's address")
					require.Equal(t, local, sd.Media[0].Port)
					require.Zero(t, sd.Media[0].RTCPPort)
					continue
				}
				require.Equal(t, natOutside.String(), sd.Connection.String(), "the STUN mapping")
				require.Equal(t, local, sd.Media[0].Port)
				require.Equal(t, c.Media().LocalRTCPAddr().Port()+rtcpShift, sd.Media[0].RTCPPort, "a=rtcp: the RTCP socket's own mapping")
				require.Zero(t, c.Media().Stats().Malformed, "STUN answers are not RTP")
			}
			if tc.silent {
				// Both ends waited for the default bound, no longer.
				require.GreaterOrEqual(t, setup, 2*ua.DefaultMediaSTUNTimeout)
				require.Less(t, setup, 2*ua.DefaultMediaSTUNTimeout+3*time.Second)
			}
			got := playAndRecord(ctx, t, in.Media(), out.Media(), 700, 30)
			require.Greater(t, peakLevel(got, 700), 0.02)
			got = playAndRecord(ctx, t, out.Media(), in.Media(), 1100, 30)
			require.Greater(t, peakLevel(got, 1100), 0.02)
			if !tc.silent {
				// Each end was told to send to the other's public side.
				for _, c := range []*ua.Call{out, in} {
					p, ok := c.MediaParams()
					require.True(t, ok)
					require.Equal(t, natOutside, p.RemoteRTP.Addr())
				}
			}
			require.NoError(t, out.Hangup(ctx))
		})
	}
}
