//go:build interop

package interop

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/ua"
	"github.com/stretchr/testify/require"
)

// baresipSpec is what differs between the tests' baresips; launchBaresip
// writes one config from it. Every baresip listens on loopback, plays a
// tone file through aufile, plays nothing back (alsa,null) and takes
// commands on ctrl_tcp.
type baresipSpec struct {
	user string
	// dirPrefix names the temporary run directory ("dtbs", "dtmb", ...).
	dirPrefix string
	// toneHz and toneLen make the tone it sends; rate is the audio rate
	// of the tone and of its audio devices (8000 when 0).
	toneHz  int
	toneLen time.Duration
	rate    int
	// maxCalls is call_max_calls.
	maxCalls int
	// codecs are the codec and media modules ("g711", "g722", "srtp").
	codecs []string
	// apps are extra application modules ("mwi").
	apps []string
	// record loads sndfile, which writes the decoded audio received into
	// the run directory's rec/ (dump-*-dec.wav).
	record bool
	// rtcpMux sets rtcp_mux yes (RFC 5761: RTP and RTCP on one port).
	rtcpMux bool
	// jitterDelay sets jitter_buffer_delay ("5-10"); empty keeps baresip's.
	jitterDelay string
	// dns sets dns_server to 127.0.0.1:53.
	dns bool
	// caFile is sip_cafile: the CA it trusts for TLS.
	caFile string
	// account is the whole accounts line (without its newline).
	account string
}

// launchBaresip starts a baresip from spec and waits until its control
// port listens. It returns the baresip and its recording directory (empty
// without spec.record). Ports: SIP on N (UDP, TCP), TLS on N+1, ctrl_tcp on
// N+2, RTP on N+3..N+12.
func launchBaresip(t *testing.T, ctx context.Context, spec baresipSpec) (*baresip, string) {
	t.Helper()
	bin := peerBinary(t, "baresip", "baresip")
	run := shortTempDir(t, spec.dirPrefix)
	base := freeUDPPorts(t, 13)
	b := &baresip{user: spec.user, sipPort: base, ctrlPort: base + 2}
	rate := cmp.Or(spec.rate, 8000)
	tone := filepath.Join(run, "tone.wav")
	require.NoError(t, writeToneWAV(tone, spec.toneHz, rate, spec.toneLen))

	var c strings.Builder
	line := func(k, v string, args ...any) { fmt.Fprintf(&c, "%s\t\t"+v+"\n", append([]any{k}, args...)...) }
	line("poll_method", "epoll")
	line("sip_listen", "127.0.0.1:%d", base)
	if spec.caFile != "" {
		line("sip_cafile", "%s", spec.caFile)
	}
	line("call_local_timeout", "120")
	line("call_max_calls", "%d", spec.maxCalls)
	line("audio_player", "alsa,null")
	line("audio_source", "aufile,%s", tone)
	line("audio_alert", "alsa,null")
	line("ausrc_srate", "%d", rate)
	line("auplay_srate", "%d", rate)
	line("ausrc_channels", "1")
	line("auplay_channels", "1")
	line("audio_level", "no")
	line("rtp_ports", "%d-%d", base+3, base+12)
	line("rtp_timeout", "0")
	if spec.rtcpMux {
		line("rtcp_mux", "yes")
	} else {
		line("rtcp_mux", "no")
	}
	if spec.jitterDelay != "" {
		line("jitter_buffer_delay", "%s", spec.jitterDelay)
	}
	if spec.dns {
		line("dns_server", "127.0.0.1:53")
	}
	line("net_interface", "127.0.0.1")
	line("module_path", "/usr/lib/baresip/modules")
	for _, m := range spec.codecs {
		line("module", "%s.so", m)
	}
	line("module", "aufile.so")
	line("module", "alsa.so")
	var rec string
	if spec.record {
		rec = filepath.Join(run, "rec")
		require.NoError(t, os.MkdirAll(rec, 0o755))
		line("module", "sndfile.so")
	}
	for _, m := range append([]string{"account", "menu", "ctrl_tcp"}, spec.apps...) {
		line("module_app", "%s.so", m)
	}
	line("ctrl_tcp_listen", "127.0.0.1:%d", b.ctrlPort)
	if rec != "" {
		line("snd_path", "%s", rec)
	}
	require.NoError(t, os.WriteFile(filepath.Join(run, "config"), []byte(c.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(run, "accounts"), []byte(spec.account+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(run, "contacts"), nil, 0o644))
	b.daemon = startDaemon(t, "baresip", filepath.Join(artifacts(t), "baresip-"+spec.user+".log"), bin, "-4", "-f", run)
	t.Cleanup(func() { logTails(t, b.log) })
	waitListening(t, ctx, "tcp", b.ctrlPort)
	return b, rec
}

// callFor has baresip call target, waits until the call is established,
// lets it run for mediaSeconds, hangs up and waits until baresip lists no
// call. It returns baresip's call list while the call was up.
func (b *baresip) callFor(t *testing.T, ctx context.Context, target string) string {
	t.Helper()
	_, err := b.ctl(ctx, "dial", target)
	require.NoError(t, err, "baresip dial %s", target)
	list := b.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
	sleepCtx(ctx, mediaSeconds*time.Second)
	_, err = b.ctl(ctx, "hangup", "")
	require.NoError(t, err)
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	return list
}

// answerInto is an OnCall that answers every call (with the UA's own
// media) and sends it on calls.
func answerInto(t *testing.T, calls chan<- *ua.Call) func(context.Context, *ua.IncomingCall) {
	return func(_ context.Context, ic *ua.IncomingCall) {
		c, err := ic.Answer(nil)
		if err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		calls <- c
	}
}

// dialUs has baresip call target, one of our UAs whose OnCall is
// answerInto(calls), and returns the answered call.
func (b *baresip) dialUs(t *testing.T, ctx context.Context, target string, calls <-chan *ua.Call) *ua.Call {
	t.Helper()
	_, err := b.ctl(ctx, "dial", target)
	require.NoError(t, err, "baresip dial %s", target)
	select {
	case c := <-calls:
		return c
	case <-ctx.Done():
		t.Fatal("no call from baresip")
		return nil
	}
}
