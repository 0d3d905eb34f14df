//go:build interop

package interop

import (
	"context"
	"fmt"
	"net/netip"
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
	return startMediaBaresipJitter(t, ctx, name, hz, "5-10", accountParams...)
}

// startMediaBaresipJitter is startMediaBaresip with baresip's
// jitter_buffer_delay (in packets, "min-max") set to jitter.
func startMediaBaresipJitter(t *testing.T, ctx context.Context, name string, hz int, jitter string, accountParams ...string) *mediaBaresip {
	t.Helper()
	b, rec := launchBaresip(t, ctx, baresipSpec{user: name, dirPrefix: "dtmb", toneHz: hz, toneLen: 60 * time.Second, maxCalls: 2,
		codecs: []string{"g711"}, record: true, jitterDelay: jitter, dns: true,
		account: fmt.Sprintf("<sip:%s@127.0.0.1>;answermode=auto;audio_codecs=PCMU,PCMA;medianat=;mediaenc=;regint=0%s", name, strings.Join(accountParams, ""))})
	return &mediaBaresip{baresip: b, rec: rec}
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
