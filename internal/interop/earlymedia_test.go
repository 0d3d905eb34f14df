//go:build interop

package interop

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// Shape of TestEarlyMediaFromSIPp.
const (
	// earlyFrames is the length of the tone SIPp plays after its 183
	// (20 ms frames), earlyAnswerAfter when its 200 follows the 183.
	earlyFrames      = 100
	earlyAnswerAfter = 2500 * time.Millisecond
	// earlyListen is how much of the early audio we read: well before the
	// 200.
	earlyListen = time.Second
)

// sippEarlyScenario is a UAS that answers the INVITE's offer with PCMA in
// a 183, plays a pcap of RTP (the first argument) to the caller's media
// address at once, answers with 200 (the same SDP) after the pause (the
// second argument, ms) and waits for the caller's BYE.
var sippEarlyScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAS with early media">
  <recv request="INVITE" crlf="true"/>

` + sippResponse("183 Session Progress", sippPCMASDP, 0) + `
  <nop>
    <action>
      <exec play_pcap_audio="%s"/>
    </action>
  </nop>

  <pause milliseconds="%d"/>

` + sippResponse("200 OK", sippPCMASDP, 500) + `
  <recv request="ACK" crlf="true"/>

  <recv request="BYE"/>

  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
`

// TestEarlyMediaFromSIPp: our UA calls a SIPp UAS that sends 183 with SDP
// and plays a 440 Hz PCMA tone (play_pcap_audio) before its 200, which
// comes earlyAnswerAfter later. While the call rings we read earlyListen
// of audio from Call.Media() and find the tone in it (Goertzel); the 200
// then keeps the same session, and we hang up.
func TestEarlyMediaFromSIPp(t *testing.T) {
	sippPath(t)
	testenv.NeedRoot(t, "SIPp pcap play")
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait, mp := sippServingTone(t, ctx, "early", sippEarlyScenario, earlyFrames, earlyAnswerAfter)

	ringing := make(chan *ua.Call, 1)
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallProgress && e.Response.StatusCode == sip.StatusSessionProgress {
				ringing <- e.Call
			}
		},
	})
	require.NoError(t, err)
	defer u.Close()
	done := dialAsync(ctx, u, target, ua.DialOptions{})
	early := awaitEarly(t, ctx, ringing, done, "no 183 from SIPp")
	s := early.Media()
	require.NotNil(t, s)
	p, ok := early.MediaParams()
	require.True(t, ok, "the 183's answer applied")
	require.Equal(t, mp, int(p.RemoteRTP.Port()))
	require.Equal(t, "PCMA", p.Codec.Name)

	start := time.Now()
	heard := readFor(t, ctx, s, earlyListen)
	require.Equal(t, ua.CallRinging, early.State(), "the audio was read before the 200")
	level := peak(heard, mediaPeerTone)
	t.Logf("early media: %d Hz at %.4f in %s before the answer", mediaPeerTone, level, time.Since(start).Round(time.Millisecond))
	require.Greater(t, level, mediaMinLevel, "SIPp's early tone heard before the answer")

	d := <-done
	require.NoError(t, d.err)
	require.Same(t, early, d.c)
	require.Same(t, s, d.c.Media(), "the same session continues at the 200")
	require.NoError(t, d.c.Hangup(ctx))
	wait()
}

// TestEarlyMediaToBaresip: baresip calls our UA, which never answers:
// IncomingCall.Progress(nil) sends a 183 with the answer of the call's
// session, we play a 1000 Hz tone into IncomingCall.Media() for
// mediaSeconds, then refuse the call with 486. baresip's recording of what
// it received holds our tone (Goertzel), heard before any answer since
// there was none.
func TestEarlyMediaToBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	b := startMediaBaresip(t, ctx, "early", mediaPeerTone)
	played := make(chan error, 1)
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnCall: func(cctx context.Context, ic *ua.IncomingCall) {
			if err := ic.Progress(nil); err != nil {
				played <- err
				return
			}
			g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: mediaOurTone})
			if err != nil {
				played <- err
				return
			}
			err = ic.Media().Play(cctx, &limited{src: g, n: mediaSeconds * 1000 / 20})
			_ = ic.Reject(sip.StatusBusyHere, "")
			played <- err
		},
	})
	require.NoError(t, err)
	defer u.Close()
	_, err = b.ctl(ctx, "dial", "sip:us@"+u.Addrs()[0].String())
	require.NoError(t, err)
	select {
	case err := <-played:
		require.NoError(t, err, "early media played")
	case <-ctx.Done():
		t.Fatal("no call from baresip")
	}
	b.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	got := waitDump(t, ctx, b.rec, audio.SampleRate)
	ours, own := peak(got, mediaOurTone), peak(got, mediaPeerTone)
	t.Logf("baresip heard our early %d Hz at %.4f (its own %d Hz at %.6f) in %.1f s", mediaOurTone, ours, mediaPeerTone, own, float64(len(got))/audio.SampleRate)
	require.Greater(t, ours, mediaMinLevel, "our early tone in baresip's recording")
}
