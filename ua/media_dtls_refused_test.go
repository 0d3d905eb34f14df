package ua_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/srtp"
	"github.com/dialtone/dialtone/ua"
)

// fingerprintForger relays the datagrams sent to it on to dst, with the
// first a=fingerprint's first hex digit changed (same length, so the
// Content-Length holds), and dst's answers back (rport sends them to the
// relay): an attacker on the signalling path.
func fingerprintForger(t *testing.T, dst netip.AddrPort) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	out, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	require.NoError(t, err)
	done := make(chan struct{}, 2)
	var from atomic.Pointer[net.UDPAddr]
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 65536)
		for {
			n, err := out.Read(buf)
			if err != nil {
				return
			}
			if a := from.Load(); a != nil {
				_, _ = c.WriteToUDP(buf[:n], a)
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 65536)
		for {
			n, src, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			from.Store(src)
			b := buf[:n]
			if i := bytes.Index(b, []byte("a=fingerprint:sha-256 ")); i >= 0 {
				j := i + len("a=fingerprint:sha-256 ")
				if b[j] == '0' {
					b[j] = '1'
				} else {
					b[j] = '0'
				}
			}
			_, _ = out.Write(b)
		}
	}()
	t.Cleanup(func() {
		_ = c.Close()
		_ = out.Close()
		<-done
		<-done
	})
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// An offer whose a=fingerprint is not the caller's certificate: the
// callee's handshake refuses the caller's certificate, the callee reports
// EventMediaRefused with srtp.ErrFingerprintMismatch and counts it, and no
// plain media crosses either way.
func TestMediaDTLSWrongFingerprint(t *testing.T) {
	ctx := mediaCtx(t)
	refused := make(chan ua.Event, 1)
	media := ua.MediaConfig{SRTP: srtp.PolicyDTLS, IP: netip.MustParseAddr("127.0.0.1")}
	calls := make(chan *ua.Call, 1)
	b := newLoopbackUA(t, ua.Config{Media: media,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil)
			if err == nil {
				calls <- c
			}
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventMediaRefused {
				select {
				case refused <- e:
				default:
				}
			}
		}})
	a := newLoopbackUA(t, ua.Config{Media: media})
	relay := fingerprintForger(t, netip.MustParseAddrPort(b.Addrs()[0].String()))
	out, err := a.Dial(ctx, "sip:bob@"+relay.String(), ua.DialOptions{})
	require.NoError(t, err)
	var in *ua.Call
	select {
	case in = <-calls:
	case <-ctx.Done():
		t.Fatal("no incoming call")
	}
	select {
	case e := <-refused:
		require.ErrorIs(t, e.Err, srtp.ErrFingerprintMismatch)
		require.Same(t, in, e.Call)
		require.Equal(t, "media-refused", e.Kind.String())
	case <-ctx.Done():
		t.Fatal("no EventMediaRefused")
	}
	st := in.Media().Stats()
	require.Equal(t, uint64(1), st.DTLS.FingerprintMismatches)
	require.False(t, in.Media().SRTPEnabled())

	// Tones played both ways reach neither side.
	got := playAndRecord(ctx, t, out.Media(), in.Media(), 1000, 20)
	require.Less(t, peakLevel(got, 1000), 0.01, "no media without keys")
	require.Zero(t, in.Media().Stats().PacketsReceived, "no plain RTP from the caller")
	require.Zero(t, out.Media().Stats().PacketsReceived, "no plain RTP from the callee")
	require.NoError(t, out.Hangup(ctx))
}
