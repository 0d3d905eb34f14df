package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dialtone/dialtone/examples/internal/clitest"
	"github.com/dialtone/dialtone/examples/internal/usagetest"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestUsage: -h prints the usage line, what echobot does, and every flag.
func TestUsage(t *testing.T) {
	usagetest.CheckUsage(t, run, "echobot", "usage: echobot [flags]", "echobot takes no argument",
		usagetest.ServerFlags("answer-after", "reject-code", "rtp-min", "rtp-max"))
}

// TestParseErrors: wrong command lines are errors that say what is wrong
// and exit non-zero.
func TestParseErrors(t *testing.T) {
	usagetest.CheckParseErrors(t, run, "echobot", false, usagetest.ServerParseCases(
		usagetest.ParseCase{Args: []string{"-answer-after", "-3s"}, Want: "invalid value \"-3s\" for flag -answer-after"},
		usagetest.ParseCase{Args: []string{"-reject-code", "99"}, Want: "-reject-code 99: want a status from 400 to 699"},
	))
}

// TestListenAndStop: echobot prints the URI to call it at, and stops
// cleanly when its context ends (the first Ctrl-C).
func TestListenAndStop(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "-1", "-pcap", t.TempDir()+"/sip.pcap")
	p.Stdout.WaitFor(t, "call me at sip:echo@127.0.0.1:")
	require.NoError(t, p.Stop(t))
	require.Contains(t, p.Stdout.String(), "stopped")
}

// TestMetrics: with -metrics, echobot serves Prometheus metrics whose
// counters move with what it receives: a call it refuses counts as an
// incoming call and a failure by status, garbage as a malformed datagram.
func TestMetrics(t *testing.T) {
	p := clitest.Start(t, run, "-listen", "127.0.0.1:0", "-answer-after", "-1", "-reject-code", "486", "-metrics", "127.0.0.1:0")
	line := p.Stdout.WaitFor(t, "metrics http://")
	url := line[strings.Index(line, "http://"):]
	callMe := p.Stdout.WaitFor(t, "call me at sip:echo@127.0.0.1:")
	target := callMe[strings.Index(callMe, "sip:"):]
	if i := strings.IndexAny(target, " \t"); i >= 0 {
		target = target[:i]
	}

	before := scrape(t, url)
	require.Contains(t, before, "dialtone_calls_total{direction=\"incoming\"} 0")
	require.Contains(t, before, "dialtone_sip_malformed_total{transport=\"datagram\"} 0")
	require.Contains(t, before, "go_goroutines ")
	require.Contains(t, before, "process_open_fds ")

	caller, err := ua.New(ua.Config{
		Listen: []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Media:  ua.MediaConfig{DisableMedia: true},
	})
	require.NoError(t, err)
	defer caller.Close()
	ctx, cancel := context.WithTimeout(t.Context(), clitest.WaitTimeout)
	defer cancel()
	_, err = caller.Dial(ctx, target, ua.DialOptions{SDP: []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=inactive\r\n")})
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 486, se.Code())

	conn, err := net.Dial("udp", target[strings.Index(target, "@")+1:])
	require.NoError(t, err)
	_, err = conn.Write([]byte("INVITE \x00\xff\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	deadline := time.Now().Add(clitest.WaitTimeout)
	for {
		after := scrape(t, url)
		if strings.Contains(after, "dialtone_sip_malformed_total{transport=\"datagram\"} 1") {
			require.Contains(t, after, "dialtone_calls_total{direction=\"incoming\"} 1")
			require.Contains(t, after, "dialtone_call_failures_total{status=\"486\"} 1")
			break
		}
		require.True(t, time.Now().Before(deadline), "the malformed datagram was never counted:\n%s", after)
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, caller.Close())
	require.NoError(t, p.Stop(t))
}

// scrape GETs url and returns the body.
func scrape(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: clitest.WaitTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}
