package ua_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/memnet"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// loopbackOnlyUA is a UA listening on 127.0.0.1 only, over real sockets.
func loopbackOnlyUA(t *testing.T, lines ...ua.LineConfig) *ua.UA {
	t.Helper()
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    ua.MediaConfig{DisableMedia: true},
		Lines:    lines,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// closedUDPPort returns a loopback port nothing listens on.
func closedUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	a := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	return a
}

// TestDialErrors: Dial and Register fail with typed errors that say what
// happened. Nothing leaves the machine: 192.0.2.1 is refused by the
// kernel for a socket bound to 127.0.0.1.
func TestDialErrors(t *testing.T) {
	closed := closedUDPPort(t)
	tests := []struct {
		name   string
		target string
		is     []error
		text   string
		linux  bool // needs ICMP errors, read on Linux only
	}{
		{"port unreachable", "sip:bob@" + closed, []error{ua.ErrPortUnreachable, ua.ErrUnreachable, ua.ErrTransport},
			"nothing listens on " + closed + " over UDP (ICMP port unreachable)", true},
		{"loopback source", "sip:bob@192.0.2.1", []error{ua.ErrLoopbackSource, ua.ErrUnreachable, ua.ErrTransport},
			"cannot reach 192.0.2.1:5060 from a socket bound to 127.0.0.1", false},
		{"no such host", "sip:bob@nosuch.invalid", []error{ua.ErrNoSuchHost, ua.ErrNoTargets},
			`cannot resolve "nosuch.invalid": no such host`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.linux && runtime.GOOS != "linux" {
				t.Skip("ICMP errors are read on Linux only")
			}
			u := loopbackOnlyUA(t)
			// The deadline fails the test long before Timer B.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := u.Dial(ctx, tc.target, ua.DialOptions{SDP: []byte(testSDP)})
			for _, target := range tc.is {
				require.ErrorIs(t, err, target)
			}
			require.ErrorContains(t, err, tc.text)
			require.NotErrorIs(t, err, ua.ErrTimeout)
		})
	}

	t.Run("register", func(t *testing.T) {
		for _, tc := range []struct {
			registrar string
			is        error
			linux     bool
		}{
			{"sip:" + closed, ua.ErrPortUnreachable, true},
			{"sip:nosuch.invalid", ua.ErrNoSuchHost, false},
		} {
			if tc.linux && runtime.GOOS != "linux" {
				continue
			}
			u := loopbackOnlyUA(t, ua.LineConfig{AOR: "sip:alice@example.com", Registrar: tc.registrar, Manual: true})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			err := u.Lines()[0].Register(ctx)
			cancel()
			require.ErrorIs(t, err, tc.is, tc.registrar)
			require.NoError(t, u.Close())
		}
	})

	t.Run("types", func(t *testing.T) {
		u := loopbackOnlyUA(t)
		_, err := u.Dial(t.Context(), "sip:bob@192.0.2.1:5070", ua.DialOptions{SDP: []byte(testSDP)})
		var se *ua.SourceError
		require.ErrorAs(t, err, &se)
		require.Equal(t, "192.0.2.1:5070", se.Addr.String())
		require.Equal(t, "127.0.0.1", se.Local.Addr().String())
		_, err = u.Dial(t.Context(), "sip:bob@nosuch.invalid", ua.DialOptions{SDP: []byte(testSDP)})
		var re *ua.ResolveError
		require.ErrorAs(t, err, &re)
		require.Equal(t, "nosuch.invalid", re.Name)
	})
}

// TestDialTimeout: a target that never answers fails the call at Timer B
// with an error naming the target, the transport and the time waited.
func TestDialTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := memnet.New(memnet.Config{})
		defer n.Close()
		u, _ := newUA(t, n, "192.0.2.1:5060", ua.Config{})
		start := time.Now()
		_, err := u.Dial(t.Context(), "sip:bob@192.0.2.9:5060", ua.DialOptions{SDP: []byte(testSDP)})
		require.EqualError(t, err, "ua: INVITE sip:bob@192.0.2.9:5060: no response from 192.0.2.9:5060 over UDP in 32 s")
		require.ErrorIs(t, err, ua.ErrTimeout)
		var te *ua.TimeoutError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "B", te.Timer)
		require.Equal(t, 32*time.Second, te.Waited)
		require.Equal(t, 32*time.Second, time.Since(start))
	})
}
