//go:build interop

package interop

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// sippEarlyUpdateScenario is a UAS that answers the INVITE's offer (PCMA
// at SIPp's media port) in a reliable 183 whose Allow lists UPDATE,
// answers the PRACK, checks that the UPDATE that follows in the early
// dialog carries an offer, answers it in the UPDATE's 200 with PCMA at
// another port (the one argument), repeats that answer in its 200 to the
// INVITE (the INVITE's headers kept in variables) after a pause (the
// second argument, ms) and waits for the caller's BYE.
var sippEarlyUpdateScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAS answering an UPDATE in the early dialog">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Via:" assign_to="via"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>

` + sippResponse("183 Session Progress", sippPCMASDP, 0, "Require: 100rel", "RSeq: 1",
	"Allow: INVITE, ACK, BYE, CANCEL, PRACK, UPDATE") + `
  <recv request="PRACK"/>

` + sippInDialogResponse("200 OK", "") + `
  <recv request="UPDATE">
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP" search_in="msg" check_it="true" assign_to="offer"/>
    </action>
  </recv>
  <nop>
    <action>
      <log message="UPDATE offer: [$offer]"/>
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
      Allow: INVITE, ACK, BYE, CANCEL, PRACK, UPDATE
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

// TestUpdateToSIPp: our UA calls a SIPp UAS that answers our offer in a
// reliable 183 (PCMA at its media port). Once the PRACK has its 200,
// Call.Update sends a new offer (PCMA and telephone-event only) in an
// UPDATE in the early dialog; SIPp checks it carries an offer and answers
// it in the UPDATE's 200 with another port, where the test listens. Our
// session switches to that port before the call is answered: the RTP of
// a tone we play arrives there and decodes to the tone. The wire holds
// the offer in the UPDATE and the answer in its 200, the 200 to the
// INVITE repeats it, and we hang up.
func TestUpdateToSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	moved, movedPort := movedListener(t)

	sc := filepath.Join(t.TempDir(), "uas_early_update.xml")
	require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, sippEarlyUpdateScenario, movedPort, (3*time.Second).Milliseconds()), 0o644))
	mp := freeUDPPorts(t, 4)
	target, wait := sippServing(t, ctx, "early_update", "-sf", sc, "-mp", strconv.Itoa(mp))

	updated := make(chan ua.Event, 1)
	u, w := tracedUA(t, ua.Config{
		Media: ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				updated <- e
			}
		},
	})
	earlyCh := make(chan *ua.Call, 1)
	done := dialAsync(ctx, u, target, ua.DialOptions{
		PrackOffer: func(early *ua.Call, _ *sip.Response) *ua.MediaChange {
			earlyCh <- early
			return nil // the new offer goes in the UPDATE
		},
	})
	early := awaitEarly(t, ctx, earlyCh, done, "no reliable 183")
	p, ok := early.MediaParams()
	require.True(t, ok)
	require.Equal(t, mp, int(p.RemoteRTP.Port()), "the 183's answer: SIPp's media port")

	// Until the PRACK has its 200 there is no early dialog to update in.
	change := ua.MediaChange{Codecs: []audio.Codec{audio.PCMA(), audio.TelephoneEvent()}}
	var uerr error
	require.Eventually(t, func() bool {
		uerr = early.Update(ctx, change)
		return !errors.Is(uerr, ua.ErrNotEstablished)
	}, peerWait, 10*time.Millisecond)
	require.NoError(t, uerr)
	e := <-updated
	require.NoError(t, e.Err)
	require.Same(t, early, e.Call)
	require.Equal(t, ua.CallRinging, early.State(), "the UPDATE's exchange came before the answer")
	p, ok = early.MediaParams()
	require.True(t, ok)
	require.Equal(t, movedPort, int(p.RemoteRTP.Port()), "the session follows the UPDATE's answer")
	require.Equal(t, "PCMA", p.Codec.Name)

	// Our tone goes to the new port while the call rings.
	heardAtMoved(t, ctx, early.Media(), moved)

	d := <-done
	require.NoError(t, d.err)
	require.Same(t, early, d.c)
	requireMovedReoffer(t, w, "UPDATE", movedPort, d.c)
	require.NoError(t, d.c.Hangup(ctx))
	wait()
}

// sippEarlyUpdateUACScenario is a caller that requires 100rel and
// offers PCMU at SIPp's media port, checks that our reliable 183 allows
// UPDATE, PRACKs it, then sends an UPDATE in the early dialog offering
// PCMA at another port (the one argument), checks that our 200 answers
// it with PCMA, takes our 200 to the INVITE, ACKs it and hangs up.
const sippEarlyUpdateUACScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAC sending UPDATE in the early dialog">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Require: 100rel
      Allow: INVITE, ACK, BYE, CANCEL, PRACK, UPDATE
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>

  <recv response="100" optional="true"/>

  <recv response="183" rrs="true">
    <action>
      <ereg regexp="^ *1 *$" search_in="hdr" header="RSeq:" check_it="true" assign_to="rseq"/>
      <ereg regexp="UPDATE" search_in="hdr" header="Allow:" check_it="true" assign_to="allow"/>
    </action>
  </recv>

  <send>
    <![CDATA[

      PRACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 PRACK
      RAck: 1 1 INVITE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200"/>

  <send retrans="500">
    <![CDATA[

      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 UPDATE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio %[1]d RTP/AVP 8
      a=rtpmap:8 PCMA/8000

    ]]>
  </send>

  <recv response="200">
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP 8" search_in="msg" check_it="true" assign_to="answer"/>
    </action>
  </recv>

  <recv response="200" rrs="true"/>

  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <pause milliseconds="200"/>

  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 4 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200" crlf="true"/>

  <Reference variables="rseq,allow,answer"/>
</scenario>
`

// TestEarlyUpdateFromSIPp: SIPp calls our UA requiring 100rel with a
// PCMU offer; our UA answers it in a reliable 183 from its early session
// (Progress(nil)); once it has PRACKed, SIPp sends an UPDATE in the early
// dialog offering PCMA at another port, where the test listens. Our UA
// answers it in the UPDATE's 200 (SIPp checks PCMA), the host gets
// EventCallUpdated, and our early session's RTP moves there: a tone we
// play while ringing arrives and decodes to the tone. The call is then
// answered, and SIPp hangs up.
func TestEarlyUpdateFromSIPp(t *testing.T) {
	sippPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	moved, movedPort := movedListener(t)
	sc := filepath.Join(t.TempDir(), "uac_early_update.xml")
	require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, sippEarlyUpdateUACScenario, movedPort), 0o644))

	incoming := make(chan *ua.IncomingCall, 1)
	updated := make(chan ua.Event, 1)
	u, w := tracedUA(t, ua.Config{
		Media:       ua.MediaConfig{IP: netip.MustParseAddr(loopback)},
		AllowUpdate: true,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			if ic.Progress(nil) == nil {
				incoming <- ic
			}
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallUpdated {
				updated <- e
			}
		},
	})
	r := newSipp(t, "early_update_in", freePort(t), "-sf", sc, "-mp", strconv.Itoa(freeUDPPorts(t, 4)))
	defer func() { logTails(t, r.files()...) }()
	cmd := r.start(t, ctx, "-t", "u1", "-m", "1", u.Addrs()[0].String())

	var ic *ua.IncomingCall
	select {
	case ic = <-incoming:
	case <-ctx.Done():
		t.Fatal("no call from SIPp")
	}
	var e ua.Event
	select {
	case e = <-updated:
	case <-ctx.Done():
		t.Fatal("no UPDATE from SIPp")
	}
	require.NoError(t, e.Err)
	require.Equal(t, ic.CallID(), e.CallID)
	require.Contains(t, string(e.SDP), fmt.Sprintf("m=audio %d RTP/AVP 8", movedPort), "SIPp's new offer")
	// Our tone goes to the port of SIPp's new offer while the call rings.
	heardAtMoved(t, ctx, ic.Media(), moved)

	c, err := ic.Answer(nil)
	require.NoError(t, err)
	checkSipp(t, r, 1, exitErrOrNil(cmd.Wait()))
	<-c.Done()
	require.ErrorIs(t, c.Err(), ua.ErrRemoteHangup)
	require.Contains(t, string(c.RemoteSDP()), fmt.Sprintf("m=audio %d ", movedPort), "the call keeps the UPDATE's offer")
	var up200 string
	for _, m := range w.sent("SIP/2.0 200") {
		if strings.Contains(m, " UPDATE\r\n") {
			up200 = m
		}
	}
	require.Contains(t, up200, "a=rtpmap:8 PCMA/8000", "our answer in the UPDATE's 200")
}
