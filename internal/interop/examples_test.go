//go:build interop

package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"
)

// The example programs driven by SIPp, one flag (or a few) per test: what
// SIPp saw on the wire, what the program printed, how it exited.

// answerDelay is the -answer-after of the tests: long enough for a 180 to
// go out first, short against SIPp's 500 ms INVITE retransmission timer.
const answerDelay = "300ms"

// TestDialAnswerAfterTracePcap: dial listening with -answer-after rings
// (SIPp's scenario requires 180 before 200), answers, and reports the
// peer's BYE as a normal end; -trace prints every message with its
// direction and peer to stderr; -pcap writes them in a file tshark reads.
func TestDialAnswerAfterTracePcap(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	pcap := filepath.Join(t.TempDir(), "dial.pcap")
	d := startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-answer-after", answerDelay, "-trace", "-pcap", pcap)
	defer func() { logTails(t, d.stdout, d.stderr) }()
	peer := sippAgainst(t, ctx, "dial_ring", scenario(t, "uac_ring.xml"), d.sip)
	stdout, stderr := d.finish(t)

	require.Contains(t, stdout, " call me at sip:dial@"+d.sip+"\n")
	require.Contains(t, stdout, ": hung up by peer\n", "the peer's BYE is a normal end")
	require.NotContains(t, stdout, "err=", "no event reads as an error")
	checkTrace(t, stderr, peer, "INVITE sip:service@", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "BYE ", "SIP/2.0 200 OK")
	checkPcap(t, ctx, pcap, []string{"INVITE", "180", "200"}, "ACK", "BYE", "200", "200")
}

// rejectScenario is a UAC whose INVITE must be refused with the status %d;
// it ACKs it ([branch-3]: the INVITE's branch, RFC 3261 §17.1.1.3).
const rejectScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAC refused with %[1]d">
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

  <recv response="%[1]d"/>

  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>
`

// TestExamplesReject: with -answer-after -1 every example refuses calls,
// with 486 Busy Here by default and with -reject-code otherwise; SIPp's
// scenario requires that status, and the program prints the rejection
// as what happened, not as an error.
func TestExamplesReject(t *testing.T) {
	sippPath(t)
	t.Parallel()
	for _, tc := range []struct {
		name, prog string
		args       []string
		code       int
		reason     string
	}{
		{"dial_default", "dial", nil, 486, "Busy Here"},
		{"dial_603", "dial", []string{"-reject-code", "603"}, 603, "Decline"},
		{"echobot_default", "echobot", nil, 486, "Busy Here"},
		{"ivr_480", "ivr", []string{"-reject-code", "480"}, 480, "Temporarily Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			args := append([]string{"-listen", net.JoinHostPort(loopback, "0"), "-answer-after", "-1"}, tc.args...)
			if tc.prog == "ivr" {
				args = append(args, "-record-dir", t.TempDir())
			}
			e := startExample(t, ctx, tc.prog, args...)
			defer func() { logTails(t, e.stdout, e.stderr) }()
			sc := filepath.Join(t.TempDir(), "reject.xml")
			require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, rejectScenario, tc.code), 0o644))
			sippAgainst(t, ctx, "reject_"+tc.name, sc, e.sip)
			stdout, _ := e.finish(t)
			require.Contains(t, stdout, ": rejected with "+strconv.Itoa(tc.code)+" "+tc.reason+"\n")
		})
	}
}

// TestDialHoldResume: dial calls SIPp with -hold-after and -resume-after:
// SIPp's scenario requires a re-INVITE whose offer says a=sendonly, then
// one that says a=sendrecv, then hangs up; dial prints both steps and the
// peer's hang-up, and exits 0 once the call is over.
func TestDialHoldResume(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "hold", "-sf", scenario(t, "uas_hold.xml"))
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-hold-after", answerDelay, "-resume-after", answerDelay, target)
	wait()
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Contains(t, stdout, " on hold call=")
	require.Contains(t, stdout, " resumed call=")
	require.Less(t, strings.Index(stdout, " on hold call="), strings.Index(stdout, " resumed call="))
	require.Contains(t, stdout, ": hung up by peer\n")
	require.Contains(t, stdout, " stopped\n", "dial waits for its shutdown")
}

// TestDialDTMFAfter: dial calls SIPp, whose answer has no telephone-event,
// with -dtmf 5 -dtmf-after: the digit goes in a SIP INFO whose body SIPp's
// scenario requires to say Signal=5; dial prints "DTMF 5 sent".
func TestDialDTMFAfter(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "dtmf_info", "-sf", scenario(t, "uas_dtmf_info.xml"))
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-dtmf", "5", "-dtmf-after", answerDelay, target)
	wait()
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Contains(t, stdout, " DTMF 5 sent call=")
	require.NotContains(t, stdout, "not sent")
	require.Contains(t, stdout, ": hung up by peer\n")
}

// TestDialAuthDialingOnce: SIPp challenges dial's INVITE with 407 and
// requires Proxy-Authorization on the second; dial prints "dialing" once
// for the call, not once per INVITE.
func TestDialAuthDialingOnce(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "auth", "-sf", scenario(t, "uas_auth.xml"))
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-aor", "sip:alice@"+loopback, "-pass", "secret", target)
	wait()
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Equal(t, 1, strings.Count(stdout, " dialing "), "dialing lines:\n%s", stdout)
	require.Contains(t, stdout, ": hung up by peer\n")
}

// TestDialHangupAfter: dial calls SIPp's built-in uas scenario and hangs
// up after -hangup-after; SIPp sees the BYE (its call succeeds), dial
// prints "hung up" and waits for the BYE's answer before it exits.
func TestDialHangupAfter(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	target, wait := sippServing(t, ctx, "uas_hangup", "-sn", "uas")
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-hangup-after", answerDelay, target)
	wait()
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Contains(t, stdout, ": hung up (BYE answered 200 OK)\n", "dial hung up and SIPp answered its BYE")
	require.NotContains(t, stdout, "hang-up call=", "no hang-up error")
}

// TestDialGracefulStop: an interrupt (the first Ctrl-C) while dial holds
// a call hangs it up — SIPp's scenario requires the BYE — and dial says
// so, then exits 0.
func TestDialGracefulStop(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	d := startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"))
	defer func() { logTails(t, d.stdout, d.stderr) }()
	port := freePort(t)
	r := newSipp(t, "wait_bye", port, "-sf", scenario(t, "uac_wait_bye.xml"))
	defer func() { logTails(t, r.files()...) }()
	cmd := r.start(t, ctx, "-t", "u1", "-m", "1", d.sip)
	d.waitOutput(t, ctx, " confirmed call=")
	stdout, stderr := d.finish(t)
	checkSipp(t, r, 1, exitErrOrNil(cmd.Wait()))
	require.Contains(t, stderr, "dial: stopping: hanging up and unregistering (interrupt again to quit at once)")
	require.Contains(t, stdout, " stopping: hanging up and unregistering\n")
	require.Contains(t, stdout, " stopped\n")
}

// TestEchobotAnswerAfterTracePcap: echobot's -answer-after, -trace and
// -pcap, as TestDialAnswerAfterTracePcap.
func TestEchobotAnswerAfterTracePcap(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	pcap := filepath.Join(t.TempDir(), "echobot.pcap")
	e := startExample(t, ctx, "echobot", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-answer-after", answerDelay, "-trace", "-pcap", pcap)
	defer func() { logTails(t, e.stdout, e.stderr) }()
	peer := sippAgainst(t, ctx, "echobot_ring", scenario(t, "uac_ring.xml"), e.sip)
	stdout, stderr := e.finish(t)
	require.Contains(t, stdout, " call me at sip:echo@"+e.sip+"\n")
	require.Contains(t, stdout, ": hung up by peer\n")
	require.Contains(t, stdout, " echo ended call=")
	checkTrace(t, stderr, peer, "INVITE sip:service@", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "BYE ")
	checkPcap(t, ctx, pcap, []string{"INVITE", "180", "200"}, "ACK", "BYE", "200", "200")
}

// TestIVRWithSIPp: SIPp calls the IVR, which rings (-answer-after),
// answers, plays its prompt and records; SIPp presses # in a SIP INFO and
// its scenario requires the IVR's BYE. The IVR prints the digit and the
// recording, ended by #, whose WAV file exists; -trace and -pcap show the
// INFO.
func TestIVRWithSIPp(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	pcap := filepath.Join(dir, "ivr.pcap")
	recDir := filepath.Join(dir, "rec")
	v := startExample(t, ctx, "ivr", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-answer-after", answerDelay, "-trace", "-pcap", pcap, "-record-dir", recDir)
	defer func() { logTails(t, v.stdout, v.stderr) }()
	peer := sippAgainst(t, ctx, "ivr_hash", scenario(t, "uac_ivr.xml"), v.sip)
	stdout, stderr := v.finish(t)
	require.Contains(t, stdout, " call me at sip:ivr@"+v.sip+"\n")
	require.Contains(t, stdout, " DTMF # received call=")
	require.Contains(t, stdout, "ended-by=#")
	require.Contains(t, stdout, ": hung up (BYE answered 200 OK)\n", "the IVR hangs up after # and SIPp answers its BYE")
	wavs, err := filepath.Glob(filepath.Join(recDir, "*.wav"))
	require.NoError(t, err)
	require.Len(t, wavs, 1, "one recording")
	checkTrace(t, stderr, peer, "INVITE sip:service@", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK", "INFO ", "BYE ")
	checkPcap(t, ctx, pcap, []string{"INVITE", "180", "200"}, "ACK", "INFO", "BYE", "200", "200", "200")
}

// TestDialSecondInterrupt: the first interrupt starts the graceful stop,
// which waits for the answer to the BYE (the peer never gives it); the
// second quits at once, with status 130, without the "stopped" line.
func TestDialSecondInterrupt(t *testing.T) {
	sippPath(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	d := startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"))
	defer func() { logTails(t, d.stdout, d.stderr) }()
	// A UAC whose call dial hangs up, and which never answers the BYE:
	// dial's graceful stop then waits.
	r := newSipp(t, "ignore_bye", freePort(t), "-sf", scenario(t, "uac_ignore_bye.xml"))
	defer func() { logTails(t, r.files()...) }()
	cmd := r.start(t, ctx, "-t", "u1", "-m", "1", d.sip)
	d.waitOutput(t, ctx, " confirmed call=")

	require.NoError(t, d.cmd.Process.Signal(os.Interrupt))
	d.waitOutput(t, ctx, " stopping: hanging up and unregistering")
	require.NoError(t, d.cmd.Process.Signal(os.Interrupt))
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-d.done:
	case <-timer.C:
		t.Fatalf("dial still running %s after the second interrupt", stopTimeout)
	}
	require.ErrorContains(t, exitErrOrNil(d.waitErr), "exit status 130")
	require.Contains(t, readFile(t, d.stderr), "dial: interrupted again: quitting now")
	require.NotContains(t, readFile(t, d.stdout), " stopped\n")
	_ = cmd.Wait() // SIPp's call ends after its pause; its BYE stays unanswered
}

// TestDialPlayRecordEchobot: dial calls echobot with -play (a 440 Hz
// tone), -record, -dtmf and -hangup-after-play: its recording holds the
// tone echoed back, echobot prints the digits it received in RTP (RFC
// 4733), and dial reports each step in words and exits 0.
func TestDialPlayRecordEchobot(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	dir := t.TempDir()
	tone, rec := filepath.Join(dir, "tone.wav"), filepath.Join(dir, "rec.wav")
	require.NoError(t, writeToneWAV(tone, mediaPeerTone, audio.SampleRate, 2*time.Second))
	e := startExample(t, ctx, "echobot", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback)
	defer func() { logTails(t, e.stdout, e.stderr) }()
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-play", tone, "-record", rec, "-dtmf", "12", "-hangup-after-play", "sip:echo@"+e.sip)
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	for _, want := range []string{" played file=" + tone, " DTMF 12 sent call=", ": hung up (BYE answered 200 OK)\n", " recorded file=" + rec} {
		require.Contains(t, stdout, want)
	}
	got := readWAV(t, rec)
	heard := peak(got, mediaPeerTone)
	t.Logf("dial recorded %.1f s, %d Hz at %.4f", float64(len(got))/audio.SampleRate, mediaPeerTone, heard)
	require.Greater(t, heard, mediaMinLevel, "the echoed tone in dial's recording")
	ebOut, _ := e.finish(t)
	require.Contains(t, ebOut, " DTMF 1 received call=")
	require.Contains(t, ebOut, " DTMF 2 received call=")
	require.Contains(t, ebOut, "via=rtp")
}

// readWAV reads a whole WAV file as 8 kHz mono samples.
func readWAV(t *testing.T, name string) []int16 {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	r, err := wav.NewReader(f)
	require.NoError(t, err, "%s", name)
	var all []int16
	buf := make([]int16, 0, audio.FrameSamples)
	for {
		buf, err = r.ReadFrame(buf[:0])
		all = append(all, buf...)
		if errors.Is(err, io.EOF) {
			return all
		}
		require.NoError(t, err, "%s", name)
	}
}

// TestDialDTMFToIVR: dial sends 12# in RTP (RFC 4733) to the IVR, which
// reads the three digits and hangs up on #; dial says which digits went
// out and that the peer hung up, not that an error happened.
func TestDialDTMFToIVR(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	v := startExample(t, ctx, "ivr", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-record-dir", t.TempDir())
	defer func() { logTails(t, v.stdout, v.stderr) }()
	stdout, _, err := runExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"), "-media-ip", loopback,
		"-dtmf", "12#", "-dtmf-after", answerDelay, "sip:ivr@"+v.sip)
	require.NoError(t, err, "dial exit status:\n%s", stdout)
	require.Regexp(t, `DTMF 12#(: 12 sent, then the call ended \(hung up by peer\) during #| sent) call=`, stdout)
	require.Contains(t, stdout, ": hung up by peer\n")
	ivrOut, _ := v.finish(t)
	require.Contains(t, ivrOut, `digits="12#" ended-by=#`)
	require.Contains(t, ivrOut, " DTMF # received call=")
	require.Contains(t, ivrOut, "via=rtp")
}

// TestDialRegistersAndUnregisters: dial with a line registers at
// Kamailio; on the first interrupt it unregisters and waits for the answer
// before it exits, so the binding is gone by the time dial has exited.
func TestDialRegistersAndUnregisters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	k := startKamailio(t, ctx, kamailioOptions{})
	d := startExample(t, ctx, "dial", "-listen", net.JoinHostPort(loopback, "0"),
		"-aor", k.uri("erin"), "-pass", "erinpw", "-registrar", k.uri(""))
	defer func() { logTails(t, d.stdout, d.stderr) }()
	d.waitOutput(t, ctx, " registered line="+k.uri("erin"))
	k.waitBinding(t, ctx, "erin", true)
	stdout, _ := d.finish(t)
	require.Contains(t, stdout, " unregistered line="+k.uri("erin"))
	_, bound := k.binding(t, ctx, "erin")
	require.False(t, bound, "Kamailio still holds dial's binding after dial exited")
}
