//go:build interop

package interop

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// dtmfDigits are the digits baresip sends in TestMediaDTMFFromBaresip:
// every kind of key it has (a digit repeated, *, #).
const dtmfDigits = "1233*#"

// dtmfSettle is how long, after the last expected digit, the test keeps
// listening for duplicates (RFC 4733 end packets are sent three times;
// they must yield one digit).
const dtmfSettle = time.Second

// mediaBaresip is a baresip started by a test without registration: it
// listens on its own loopback port, auto-answers, plays a tone from a WAV
// file (aufile) and records the decoded audio it receives into rec
// (sndfile's dump-*-dec.wav).
type mediaBaresip struct {
	*baresip
	rec string
}

// startMediaBaresip starts such a baresip as user name, sending a tone of
// hz, with accountParams (";ptime=30", ...) added to its account line,
// and waits until its control port listens.
func startMediaBaresip(t *testing.T, ctx context.Context, name string, hz int, accountParams ...string) *mediaBaresip {
	t.Helper()
	bin := peerBinary(t, "baresip", "baresip")
	run := shortTempDir(t, "dtmb")
	rec := filepath.Join(run, "rec")
	require.NoError(t, os.MkdirAll(rec, 0o755))
	// SIP on N (UDP, TCP), TLS on N+1, ctrl_tcp on N+2, RTP on N+3..N+12.
	base := freeUDPPorts(t, 13)
	b := &mediaBaresip{baresip: &baresip{user: name, sipPort: base, ctrlPort: base + 2}, rec: rec}
	wav := filepath.Join(run, "tone.wav")
	require.NoError(t, writeToneWAV(wav, hz, 8000, 60*time.Second))
	config := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
call_local_timeout	120
call_max_calls		2
audio_player		alsa,null
audio_source		aufile,%s
audio_alert		alsa,null
ausrc_srate		8000
auplay_srate		8000
ausrc_channels		1
auplay_channels		1
audio_level		no
rtp_ports		%d-%d
rtp_timeout		0
rtcp_mux		no
jitter_buffer_delay	5-10
dns_server		127.0.0.1:53
net_interface		127.0.0.1
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			alsa.so
module			sndfile.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:%d
snd_path		%s
`, base, wav, base+3, base+12, b.ctrlPort, rec)
	require.NoError(t, os.WriteFile(filepath.Join(run, "config"), []byte(config), 0o644))
	account := fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=PCMU,PCMA;medianat=;mediaenc=;regint=0%s\n", name, strings.Join(accountParams, ""))
	require.NoError(t, os.WriteFile(filepath.Join(run, "accounts"), []byte(account), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(run, "contacts"), nil, 0o644))
	b.daemon = startDaemon(t, "baresip", filepath.Join(artifacts(t), "baresip-"+name+".log"), bin, "-4", "-f", run)
	t.Cleanup(func() { logTails(t, b.log) })
	waitListening(t, ctx, "tcp", b.ctrlPort)
	return b
}

// uri is baresip's own address, sip:<name>@127.0.0.1:port.
func (b *mediaBaresip) uri() string {
	return "sip:" + b.user + "@127.0.0.1:" + strconv.Itoa(b.sipPort)
}

// TestMediaDTMFFromBaresip: our UA (media by default, telephone-event
// offered) calls baresip directly; once the call is up, baresip is told
// through its control port to send dtmfDigits (menu command "sndcode",
// which baresip 1.0 sends as RFC 4733 telephone events when the answer
// has telephone-event). Our UA reports each digit once, in order, as an
// EventDTMF of this call that came in RTP (not SIP INFO), and no other
// digit within dtmfSettle after the last.
func TestMediaDTMFFromBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startMediaBaresip(t, ctx, "dtmf", mediaPeerTone)

	events := make(chan ua.Event, 256)
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnEvent: func(e ua.Event) {
			t.Logf("event: %s", e)
			select {
			case events <- e:
			default:
			}
		},
	})
	require.NoError(t, err)
	defer u.Close()

	c, err := u.Dial(ctx, b.uri(), ua.DialOptions{})
	require.NoError(t, err, "Dial baresip")
	require.NotNil(t, c.Media())
	require.Contains(t, string(c.LocalSDP()), "telephone-event", "our offer")
	require.Contains(t, string(c.RemoteSDP()), "telephone-event", "baresip's answer:\n%s", c.RemoteSDP())
	b.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })

	// Let baresip's audio flow first, so the digits are not the first
	// packets of the stream.
	sleepCtx(ctx, 300*time.Millisecond)
	sent := time.Now()
	out, err := b.ctl(ctx, "sndcode", dtmfDigits)
	require.NoError(t, err, "baresip sndcode: %q", out)

	var got []ua.Event
	var last time.Time
	deadline := time.NewTimer(peerWait)
	defer deadline.Stop()
	var settle <-chan time.Time
collect:
	for {
		select {
		case e := <-events:
			if e.Kind != ua.EventDTMF {
				continue
			}
			got = append(got, e)
			last = time.Now()
			if len(got) == len(dtmfDigits) {
				settle = time.After(dtmfSettle)
			}
		case <-settle:
			break collect
		case <-deadline.C:
			break collect
		case <-ctx.Done():
			break collect
		}
	}
	var digits strings.Builder
	for _, e := range got {
		digits.WriteRune(e.Digit)
		t.Logf("digit %q duration %s info=%v call=%s", e.Digit, e.DigitDuration, e.DTMFInfo, e.CallID)
	}
	if !last.IsZero() {
		t.Logf("%d digits received in %s", len(got), last.Sub(sent).Round(time.Millisecond))
	}
	require.Equal(t, dtmfDigits, digits.String(), "digits received (each once, in order)")
	for _, e := range got {
		require.Equal(t, c.CallID(), e.CallID, "digit %q of another call", e.Digit)
		require.False(t, e.DTMFInfo, "digit %q came in SIP INFO, want RFC 4733", e.Digit)
	}
	st := c.Media().Stats()
	t.Logf("our session: received %d packets, lost %d, jitter %s", st.PacketsReceived, st.PacketsLost, st.Jitter)
	require.NoError(t, c.Hangup(ctx))
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	require.NoError(t, u.Close())
}
