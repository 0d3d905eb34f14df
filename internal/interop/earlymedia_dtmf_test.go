//go:build interop

package interop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/ua"
)

// Shape of TestEarlyMediaDTMFWithSIPp.
const (
	// earlyDTMFOurs are the digits our UA sends while the call rings
	// (SIPp's are dtmfDigits).
	earlyDTMFOurs = "#0*9"
	// earlyDTMFAnswerAfter is when SIPp's 200 follows its 183: after
	// both sides' digits.
	earlyDTMFAnswerAfter = 4 * time.Second
)

// sippEarlyDTMFScenario is a UAS that answers the INVITE's offer in a 183
// with PCMA and telephone-event at a port of the test's (the first
// argument), plays a pcap of RFC 4733 digits (the second) to the caller
// at once, answers with 200 (the same SDP) after the pause (the third,
// ms) and waits for the caller's BYE.
var sippEarlyDTMFScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAS with DTMF in early media">
  <recv request="INVITE" crlf="true"/>

` + sippResponse("183 Session Progress", sippDTMFSDP, 0) + `
  <nop>
    <action>
      <exec play_pcap_audio="%[2]s"/>
    </action>
  </nop>

  <pause milliseconds="%[3]d"/>

` + sippResponse("200 OK", sippDTMFSDP, 500) + `
  <recv request="ACK" crlf="true"/>

  <recv request="BYE"/>

` + sippInDialogResponse("200 OK", "") + `
</scenario>
`

// sippDTMFSDP is sippPCMASDP with telephone-event, at the port of the
// first verb of its scenario.
var sippDTMFSDP = strings.NewReplacer(
	"[media_port] RTP/AVP 8", "%[1]d RTP/AVP 8 101",
	"a=ptime:20", "a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n      a=ptime:20",
).Replace(sippPCMASDP)

// TestEarlyMediaDTMFWithSIPp: DTMF both ways during early media with a
// real peer. Our UA calls a SIPp UAS whose 183 answers with PCMA and
// telephone-event at a port the test reads, and which plays RFC 4733
// events of dtmfDigits (a pcap the test writes) before its 200. Our host
// gets each digit once, in order, as EventDTMF in RTP while the call
// rings; and the digits our UA sends with Call.SendDTMF while it rings
// reach the port of SIPp's answer as RFC 4733 events (decoded by
// rtp/dtmf's receiver), all before the 200.
func TestEarlyMediaDTMFWithSIPp(t *testing.T) {
	sippPath(t)
	testenv.NeedRoot(t, "SIPp pcap play")
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	peer, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(loopback+":0")))
	require.NoError(t, err)
	defer peer.Close()
	dir := t.TempDir()
	pcap := filepath.Join(dir, "dtmf.pcap")
	require.NoError(t, writeDTMFPcap(pcap, dtmfDigits))
	sc := filepath.Join(dir, "uas_early_dtmf.xml")
	require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, sippEarlyDTMFScenario,
		peer.LocalAddr().(*net.UDPAddr).Port, pcap, earlyDTMFAnswerAfter.Milliseconds()), 0o644))
	target, wait := sippServing(t, ctx, "early_dtmf", "-sf", sc)

	var mu sync.Mutex
	var got []ua.Event
	var ringing []bool
	progress := make(chan *ua.Call, 1)
	u, _ := tracedUA(t, ua.Config{
		// SIPp plays its pcap from a port of its own: without symmetric
		// RTP our stream stays at the port of the answer, where the test
		// reads it.
		Media: ua.MediaConfig{IP: netip.MustParseAddr(loopback), DisableSymmetric: true},
		OnEvent: func(e ua.Event) {
			switch {
			case e.Kind == ua.EventDTMF:
				mu.Lock()
				got = append(got, e)
				ringing = append(ringing, e.Call.State() == ua.CallRinging)
				mu.Unlock()
			case e.Kind == ua.EventCallProgress && e.Response.StatusCode == sip.StatusSessionProgress:
				select {
				case progress <- e.Call:
				default:
				}
			}
		},
	})
	done := dialAsync(ctx, u, target, ua.DialOptions{})
	early := awaitEarly(t, ctx, progress, done, "no 183 from SIPp")
	require.Contains(t, string(early.LocalSDP()), "telephone-event", "our offer")
	require.NoError(t, early.SendDTMF(ctx, earlyDTMFOurs), "our digits while the call rings")
	require.Equal(t, ua.CallRinging, early.State(), "our digits went out before the 200")

	// What reached the port of SIPp's answer, decoded as RFC 4733.
	rx, err := dtmf.NewReceiver(dtmf.ReceiverConfig{})
	require.NoError(t, err)
	var sent []dtmf.Digit
	buf := make([]byte, 1500)
	deadline := time.Now().Add(peerWait)
	for len(sent) < len(earlyDTMFOurs) && time.Now().Before(deadline) {
		require.NoError(t, peer.SetReadDeadline(deadline))
		n, err := peer.Read(buf)
		require.NoError(t, err, "our RTP at the port of SIPp's answer")
		var pkt pionrtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != audio.PayloadTypeTelephoneEvent {
			continue
		}
		sent, err = rx.Push(sent, time.Now(), pkt.Timestamp, pkt.Payload)
		require.NoError(t, err)
	}
	var ours strings.Builder
	for _, d := range sent {
		ours.WriteRune(d.Digit)
	}
	require.Equal(t, earlyDTMFOurs, ours.String(), "our early digits, as the peer's RTP receives them")

	d := <-done
	require.NoError(t, d.err)
	require.Same(t, early, d.c)
	mu.Lock()
	var theirs strings.Builder
	for i, e := range got {
		theirs.WriteRune(e.Digit)
		require.False(t, e.DTMFInfo, "digit %q came in SIP INFO", e.Digit)
		require.True(t, ringing[i], "digit %q came while the call rang", e.Digit)
	}
	mu.Unlock()
	t.Logf("SIPp's digits at our host: %q; ours at SIPp's port: %q", theirs.String(), ours.String())
	require.Equal(t, dtmfDigits, theirs.String(), "SIPp's early digits, each once, in order")
	require.NoError(t, d.c.Hangup(ctx))
	wait()
}

// writeDTMFPcap writes a pcap file of the RFC 4733 packets of digits
// (payload type 101, rtp/dtmf's sender at its defaults), starting 200 ms
// in, for SIPp's play_pcap_audio.
func writeDTMFPcap(path, digits string) error {
	s, err := dtmf.NewSender(dtmf.SenderConfig{})
	if err != nil {
		return err
	}
	planned, err := s.AppendDigits(nil, digits, 8000)
	if err != nil {
		return err
	}
	pkts := make([]pcapPacket, 0, len(planned))
	for i, p := range planned {
		h := pionrtp.Header{Version: 2, Marker: p.Marker, PayloadType: audio.PayloadTypeTelephoneEvent,
			SequenceNumber: uint16(2000 + i), Timestamp: p.Timestamp, SSRC: 0x5eed0d7f}
		b, err := (&pionrtp.Packet{Header: h, Payload: p.Event.AppendTo(nil)}).Marshal()
		if err != nil {
			return err
		}
		pkts = append(pkts, pcapPacket{at: 200*time.Millisecond + p.At, rtp: b})
	}
	return writePcap(path, pkts)
}
