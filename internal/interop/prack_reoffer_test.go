//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/sdp"
	"github.com/dialtone/dialtone/rtp/wav"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"

	pionrtp "github.com/pion/rtp"
)

// prackReofferListen is how long TestPrackOfferToSIPp reads the RTP our
// UA sends to the port of SIPp's answer.
const prackReofferListen = time.Second

// sippPrackReofferScenario is a UAS that answers the INVITE's offer
// (PCMA at SIPp's media port) in a reliable 183, checks that the PRACK
// carries a new offer, answers it in the PRACK's 200 with PCMA at
// another port (the one argument), repeats that answer in its 200 to the
// INVITE (the headers of the INVITE kept in variables: [last_*] are the
// PRACK's by then) after a pause (the second argument, ms) and waits for
// the caller's BYE.
var sippPrackReofferScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAS answering a new offer in PRACK">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="via"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>

` + sippResponse("183 Session Progress", sippPCMASDP, 0, "Require: 100rel", "RSeq: 1") + `
  <recv request="PRACK">
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP" search_in="msg" check_it="true" assign_to="offer"/>
    </action>
  </recv>
  <nop>
    <action>
      <log message="PRACK offer: [$offer]"/>
    </action>
  </nop>

` + sippInDialogResponse("200 OK", sippMovedSDP) + `
  <pause milliseconds="%[2]d"/>

  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      Via: [$via]
      From: [$peer]
      To: [$me];tag=[pid]SIPpTag01[call_number]
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

` + sippMovedSDP + `
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>

  <recv request="BYE"/>

` + sippInDialogResponse("200 OK", "") + `
</scenario>
`

// sippMovedSDP is sippPCMASDP at the port of the first verb of its
// scenario.
var sippMovedSDP = strings.Replace(strings.Replace(sippPCMASDP, "[media_port]", "%[1]d", 1), "o=- 1 1", "o=- 1 2", 1)

// TestPrackOfferToSIPp: our UA calls a SIPp UAS that answers our offer in
// a reliable 183 (PCMA at its media port). DialOptions.PrackOffer makes a
// new offer (PCMA and telephone-event only) in the PRACK; SIPp checks the
// PRACK carries an offer and answers it in the PRACK's 200 with another
// port, where the test listens. Our session switches to that port before
// the call is answered: the RTP of a tone we play arrives there, and
// decodes to the tone. The wire holds the offer in the PRACK and the
// answer in its 200, the 200 to the INVITE repeats it, and we hang up.
func TestPrackOfferToSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// The port SIPp's answer to the PRACK names, read by the test.
	moved, movedPort := movedListener(t)

	sc := filepath.Join(t.TempDir(), "uas_prack_reoffer.xml")
	require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, sippPrackReofferScenario, movedPort, (3*time.Second).Milliseconds()), 0o644))
	mp := freeUDPPorts(t, 4)
	target, wait := sippServing(t, ctx, "prack_reoffer", "-sf", sc, "-mp", strconv.Itoa(mp))

	updated := make(chan ua.Event, 1)
	u, w := tracedUA(t, ua.Config{
		Media: ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				updated <- e
			}
		},
	})
	firstPort := make(chan int, 1)
	done := dialAsync(ctx, u, target, ua.DialOptions{
		PrackOffer: func(early *ua.Call, _ *sip.Response) *ua.MediaChange {
			p, _ := early.MediaParams()
			firstPort <- int(p.RemoteRTP.Port())
			return &ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}, Direction: sdp.SendRecv}
		},
	})
	var e ua.Event
	select {
	case e = <-updated:
	case d := <-done:
		t.Fatalf("Dial returned before the PRACK's answer: %v", d.err)
	case <-ctx.Done():
		t.Fatal("no answer to the PRACK's offer")
	}
	require.Equal(t, mp, <-firstPort, "the 183's answer: SIPp's media port")
	require.NoError(t, e.Err)
	early := e.Call
	require.Equal(t, ua.CallRinging, early.State(), "the PRACK's exchange came before the answer")
	p, ok := early.MediaParams()
	require.True(t, ok)
	require.Equal(t, movedPort, int(p.RemoteRTP.Port()), "the session follows the PRACK's answer")
	require.Equal(t, "PCMA", p.Codec.Name)

	// Our tone goes to the new port while the call rings.
	heardAtMoved(t, ctx, early.Media(), moved)

	d := <-done
	require.NoError(t, d.err)
	require.Same(t, early, d.c)
	requireMovedReoffer(t, w, "PRACK", movedPort, d.c)
	require.NoError(t, d.c.Hangup(ctx))
	wait()
}

// dialed is what UA.Dial returned, for a test that dials in the
// background.
type dialed struct {
	c   *ua.Call
	err error
}

// dialAsync dials target from u in the background; Dial's return comes
// on the channel.
func dialAsync(ctx context.Context, u *ua.UA, target string, opts ua.DialOptions) <-chan dialed {
	done := make(chan dialed, 1)
	go func() {
		c, err := u.Dial(ctx, target, opts)
		done <- dialed{c, err}
	}()
	return done
}

// awaitEarly returns the early call that comes on early, failing the
// test with missing if Dial returns (on done) or ctx ends first.
func awaitEarly(t *testing.T, ctx context.Context, early <-chan *ua.Call, done <-chan dialed, missing string) *ua.Call {
	t.Helper()
	select {
	case c := <-early:
		return c
	case d := <-done:
		t.Fatalf("Dial returned before the 183: %v", d.err)
	case <-ctx.Done():
		t.Fatal(missing)
	}
	return nil
}

// requireMovedReoffer checks an early dialog's new offer made in our one
// method request (PRACK or UPDATE) on the wire w: PCMA only, answered in
// its 200 at movedPort, and the 200 to the INVITE (c's remote SDP)
// repeating that answer.
func requireMovedReoffer(t *testing.T, w *wireLog, method string, movedPort int, c *ua.Call) {
	t.Helper()
	reqs := w.sent(method + " ")
	require.Len(t, reqs, 1)
	require.Contains(t, reqs[0], "Content-Type: application/sdp", "the %s carries an offer", method)
	require.Contains(t, reqs[0], "a=rtpmap:8 PCMA/8000")
	require.NotContains(t, reqs[0], "PCMU", "the new offer's codecs")
	var ok200 string
	for _, m := range w.received("SIP/2.0 200") {
		if strings.Contains(m, " "+method+"\r\n") {
			ok200 = m
		}
	}
	require.Contains(t, ok200, fmt.Sprintf("m=audio %d RTP/AVP 8", movedPort), "the answer in the %s's 200", method)
	require.Contains(t, string(c.RemoteSDP()), fmt.Sprintf("m=audio %d ", movedPort), "the 200 repeats it")
}

// movedListener is a UDP socket on loopback standing for the port a
// peer's new answer names; it is closed when the test ends.
func movedListener(t *testing.T) (*net.UDPConn, int) {
	t.Helper()
	moved, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(loopback+":0")))
	require.NoError(t, err)
	t.Cleanup(func() { _ = moved.Close() })
	return moved, moved.LocalAddr().(*net.UDPAddr).Port
}

// heardAtMoved plays our tone on media for prackReofferListen and
// requires it at moved: the RTP arrives there in PCMA and decodes to the
// tone.
func heardAtMoved(t *testing.T, ctx context.Context, media *rtp.Session, moved *net.UDPConn) {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: mediaOurTone})
	require.NoError(t, err)
	frames := int(prackReofferListen / audio.FrameDuration)
	played := make(chan error, 1)
	go func() { played <- media.Play(ctx, &limited{src: g, n: frames}) }()
	var heard []int16
	buf := make([]byte, 1500)
	deadline := time.Now().Add(peerWait)
	for len(heard) < frames*audio.FrameSamples/2 && time.Now().Before(deadline) {
		require.NoError(t, moved.SetReadDeadline(deadline))
		n, err := moved.Read(buf)
		require.NoError(t, err, "RTP at the port of the new answer")
		var pkt pionrtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != audio.PayloadTypePCMA {
			continue
		}
		heard = g711.DecodeALaw(heard, pkt.Payload)
	}
	require.NoError(t, <-played)
	level := peak(heard, mediaOurTone)
	t.Logf("at the moved port: %d samples, %d Hz at %.4f", len(heard), mediaOurTone, level)
	require.Greater(t, level, mediaMinLevel, "our tone at the port of the new answer")
}
