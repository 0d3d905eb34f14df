package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/cli"
	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line with the target argument, what dial
// does without one, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "dial", "usage: dial [flags] [target-uri]", "Without one, it listens (-listen)",
		[]string{"answer-after", "reject-code", "hold-after", "resume-after", "dtmf", "dtmf-after",
			"trace", "pcap", "hangup-after", "listen", "aor", "pass", "registrar", "play", "record", "no-media", "quiet",
			"transport", "tls-ca", "tls-cert", "tls-key", "tls-insecure", "stun", "keepalive",

			"tls-listen", "tls-listen-cert", "tls-listen-key",
			"outbound", "alt-proxy", "alt-outbound", "dual-register", "dns", "failover-after", "probe-interval", "rtp-timeout"})
}

// TestParseErrors: wrong command lines are usage errors (exit status 2)
// that say what is wrong.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "dial", true, []usagetest.ParseCase{
		{Args: []string{"-nope"}, Want: "flag provided but not defined: -nope"},
		{Args: []string{"sip:a@b", "sip:c@d"}, Want: "one target URI at most"},
		{Args: []string{"sip:a@b", "-trace", "sip:c@d"}, Want: "one target URI at most"},
		{Args: []string{"sip:a@b", "-resume-after", "1s"}, Want: "-resume-after needs -hold-after"},
		{Args: []string{"-answer-after", "-3s"}, Want: "invalid value \"-3s\" for flag -answer-after"},
		{Args: []string{"-reject-code", "200"}, Want: "-reject-code 200: want a status from 400 to 699"},
		{Args: []string{"-resume-after", "1s"}, Want: "-resume-after needs -hold-after"},
		{Args: []string{"-dtmf-after", "1s"}, Want: "-dtmf-after needs -dtmf digits"},
		{Args: []string{"-dtmf", "12x"}, Want: "-dtmf \"12x\""},
		{Args: []string{"-hold-after", "-1s"}, Want: "-hold-after -1s: want a duration of 0 or more"},
		{Args: []string{"-rtp-timeout", "-1s", "-listen", "127.0.0.1:0"}, Want: "-rtp-timeout -1s: want a duration of 0 or more"},
		{Args: []string{"-transport", "sctp", "-listen", "127.0.0.1:0"}, Want: "-transport \"sctp\": want udp, tcp, tls, ws or wss"},
		{Args: []string{"-tls-key", "k.pem", "-listen", "127.0.0.1:0"}, Want: "-tls-cert and -tls-key go together"},
		{Args: []string{"-tls-listen", "127.0.0.1:0", "-tls-listen-key", "k.pem"}, Want: "-tls-listen-cert and -tls-listen-key go together"},
		{Args: []string{"-tls-listen-cert", "c.pem", "-tls-listen-key", "k.pem"}, Want: "-tls-listen-cert needs -tls-listen"},
		{Args: []string{"-tls-listen", "127.0.0.1"}, Want: "-tls-listen \"127.0.0.1\": want host:port"},
		{Args: []string{"-alt-proxy", "sip:b.test"}, Want: "need a line (-aor)"},
		{Args: []string{"-dns", "127.0.0.1"}, Want: "-dns \"127.0.0.1\": want host:port"},
		{Args: []string{"-aor", "sip:a@a.test", "-dual-register"}, Want: "-dual-register needs -alt-proxy or -alt-outbound"},
		{Args: []string{"-aor", "sip:a@a.test", "-proxy", "sip:p.test", "-outbound", "sip:q.test"}, Want: "-outbound and -proxy differ"},
	})
}

// TestListenAndStop: without a target dial prints the URI to call it at,
// and stops cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "1s", "-trace")
	line := p.Stdout.WaitFor(t, "call me at sip:dial@127.0.0.1:")
	require.NotContains(t, line, ":0\n")
	require.NoError(t, p.Stop(t))
	out := p.Stdout.String()
	require.Contains(t, out, "stopping: hanging up and unregistering")
	require.Contains(t, out, "stopped")
}

// TestPortInUse: a -listen address in use gives one clean error that
// names it once.
func TestPortInUse(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	addr := busy.LocalAddr().String()
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"-listen", addr}, &stdout, &stderr)
	require.Error(t, err)
	var msg bytes.Buffer
	require.Equal(t, cli.ExitError, cli.Report(&msg, "dial", err))
	require.Equal(t, "dial: cannot listen on udp "+addr+": address already in use (another program has the port; pick another with -listen)\n", msg.String())
}

// TestRTPTimeout: a caller that vanishes after the answer (its SDP names
// a port from which nothing is ever sent, and it never sends BYE) is hung
// up by -rtp-timeout, dial says why and with what quality, and stops
// cleanly.
func TestRTPTimeout(t *testing.T) {
	const timeout = time.Second
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "0", "-rtp-timeout", timeout.String())
	line := p.Stdout.WaitFor(t, "call me at ")
	target := strings.TrimSpace(line[strings.Index(line, "sip:"):])

	caller, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{DisableMedia: true},
	})
	require.NoError(t, err)
	defer caller.Close()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // where dial's RTP goes; nothing comes back
	require.NoError(t, err)
	defer silent.Close()
	port := silent.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithTimeout(t.Context(), clitest.WaitTimeout)
	defer cancel()
	start := time.Now()
	c, err := caller.Dial(ctx, target, ua.DialOptions{SDP: fmt.Appendf(nil,
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=sendrecv\r\n", port)})
	require.NoError(t, err)
	ended := p.Stdout.WaitFor(t, "ended call="+c.CallID())
	took := time.Since(start)
	require.Contains(t, ended, "failed: no RTP or RTCP from the peer within the RTP timeout")
	// The check runs every quarter of the timeout: the call ends between
	// the timeout and 1.25 times it after the answer (plus scheduling).
	require.GreaterOrEqual(t, took, timeout)
	require.Less(t, took, timeout*3/2+500*time.Millisecond)
	q := p.Stdout.WaitFor(t, "quality call="+c.CallID())
	require.Contains(t, q, "received=0")
	select { // dial's BYE ends the call at the caller too
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the caller never got dial's BYE")
	}
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	require.NoError(t, caller.Close())
	require.NoError(t, p.Stop(t))
}

// TestTLSListener: with -tls-listen dial answers a call over TLS, on a
// certificate it made for itself whose printed fingerprint is the one the
// caller's handshake sees.
func TestTLSListener(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-tls-listen", "127.0.0.1:0", "-no-media")
	fpLine := p.Stdout.WaitFor(t, "tls certificate self-signed sha-256 ")
	fp := strings.TrimSpace(fpLine[strings.Index(fpLine, "sha-256 ")+len("sha-256 "):])
	line := p.Stdout.WaitFor(t, "tls listener at 127.0.0.1:")
	addr := strings.TrimSpace(line[strings.Index(line, "127.0.0.1:"):])
	require.NotContains(t, addr, ":0")

	var seen atomic.Value
	caller, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{DisableMedia: true},
		Transport: ua.TransportConfig{ClientTLS: &tls.Config{
			InsecureSkipVerify: true, // self-signed; the fingerprint is checked instead
			VerifyConnection: func(cs tls.ConnectionState) error {
				sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
				seen.Store(strings.ToUpper(strings.ReplaceAll(fmt.Sprintf("% x", sum), " ", ":")))
				return nil
			},
		}},
	})
	require.NoError(t, err)
	defer caller.Close()
	ctx, cancel := context.WithTimeout(t.Context(), clitest.WaitTimeout)
	defer cancel()
	c, err := caller.Dial(ctx, "sip:dial@"+addr+";transport=tls", ua.DialOptions{Transport: transport.TLS, SDP: noMediaSDP("127.0.0.1")})
	require.NoError(t, err)
	require.Equal(t, fp, seen.Load())
	p.Stdout.WaitFor(t, "answered call="+c.CallID())
	require.NoError(t, c.Hangup(ctx))
	p.Stdout.WaitFor(t, "ended call="+c.CallID())
	require.NoError(t, caller.Close())
	require.NoError(t, p.Stop(t))
}
