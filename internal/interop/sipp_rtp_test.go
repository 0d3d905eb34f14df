//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// Shape of TestSIPpRTPEcho.
const (
	// sippRTPCalls calls, sippRTPRate per second.
	sippRTPCalls = 10
	sippRTPRate  = 5
	// sippRTPFrames is the length of the PCMA stream SIPp plays in each
	// call (20 ms frames).
	sippRTPFrames = 100
	// sippRTPHold is how long each call lasts after its ACK: the stream
	// plus time for the last echoes.
	sippRTPHold = sippRTPFrames*20*time.Millisecond + 500*time.Millisecond
	// sippRTPMinEcho is the least share of a call's packets echobot must
	// send back with the payload unchanged (a few may be dropped as late
	// by its jitter buffer on a loaded machine; none were in our runs).
	sippRTPMinEcho = 0.8
	// captureSettle is how long the capture goes on after SIPp has ended
	// (echoes in flight), and how long tshark may take to start.
	captureSettle = 500 * time.Millisecond
)

// sippRTPScenario is a UAC that offers PCMA only from SIPp's media port,
// plays a pcap of RTP (the file is the one argument) once the call is up,
// and hangs up after sippRTPHold.
var sippRTPScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="UAC playing PCMA from a pcap">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

` + sippPCMASDP + `
    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true"/>

  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <nop>
    <action>
      <exec play_pcap_audio="%s"/>
    </action>
  </nop>

  <pause milliseconds="%d"/>

  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200" crlf="true"/>

  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500"/>
  <CallLengthRepartition value="1000, 2000, 3000, 5000"/>
</scenario>
`

// TestSIPpRTPEcho: SIPp places sippRTPCalls calls at sippRTPRate per second
// to examples/echobot, each playing sippRTPFrames 20 ms PCMA frames of a
// 440 Hz tone (a pcap the test writes, replayed by SIPp's
// play_pcap_audio). tshark captures the RTP on the loopback interface.
// Every call succeeds with no retransmission or unexpected message
// (checkSipp); each call's stream comes back from echobot's port for that
// call to SIPp's media port: PCMA, with at least sippRTPMinEcho of the
// payloads sent returned byte for byte (A-law decoded and encoded again is
// unchanged), and its decoded audio holds the tone at no less than half
// its level, and nothing at 1000 Hz. echobot reports one echo per call and
// exits cleanly.
func TestSIPpRTPEcho(t *testing.T) {
	sippPath(t)
	tshark := peerBinary(t, "tshark", "tshark")
	// SIPp's play_pcap_audio sends through a raw socket; tshark captures
	// on lo.
	testenv.NeedRoot(t, "SIPp pcap play and tshark capture")
	// Not parallel: real-time media on a small machine. Next to other
	// tests' builds and calls, echobot's jitter buffer dropped up to 10%
	// of the frames as late (one failure in eight runs); alone, none.
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	e := startEchobot(t, ctx)
	defer func() { logTails(t, e.stdout, e.stderr) }()

	sc := writeToneScenario(t, "uac_pcap_echo.xml", sippRTPScenario, sippRTPFrames, sippRTPHold)

	// SIPp's media port (audio on mp, video on mp+2).
	mp := freeUDPPorts(t, 4)
	capture := filepath.Join(artifacts(t), "rtp.pcapng")
	capLog := filepath.Join(artifacts(t), "tshark.log")
	filter := fmt.Sprintf("udp and (port %d or portrange %d-%d)", mp, e.rtpMin, e.rtpMax)
	tsh := startCapture(t, ctx, tshark, capture, capLog, filter)

	r := newSipp(t, "rtp_echo", freePort(t), "-sf", sc)
	defer func() { logTails(t, append(r.files(), capLog)...) }()
	start := time.Now()
	cmd := r.start(t, ctx, "-t", "u1", "-s", "echo", "-mp", strconv.Itoa(mp),
		"-m", strconv.Itoa(sippRTPCalls), "-r", strconv.Itoa(sippRTPRate), e.sip)
	runErr := cmd.Wait()
	t.Logf("%d calls with RTP in %s", sippRTPCalls, time.Since(start).Round(time.Millisecond))
	sleepCtx(ctx, captureSettle)
	tsh.stop(t)
	checkSipp(t, r, sippRTPCalls, exitErrOrNil(runErr))

	ends := e.finish(t)
	require.Len(t, ends, sippRTPCalls, "echobot's echo ended lines")
	for _, m := range ends {
		t.Logf("echobot: %s", m["line"])
		require.Positive(t, count(t, m, "tx"), "echobot sent nothing back")
	}

	sent, echoed := readRTPCapture(t, ctx, tshark, capture, mp, e.rtpMin, e.rtpMax)
	require.Len(t, sent, sippRTPCalls, "SIPp's RTP streams (by echobot port)")
	ref := peak(sine(mediaPeerTone, toneAmplitude, audio.SampleRate), mediaPeerTone)
	ports := make([]int, 0, len(sent))
	for p := range sent {
		ports = append(ports, p)
	}
	sort.Ints(ports)
	total := 0
	for _, port := range ports {
		in, out := sent[port], echoed[port]
		var pcm []int16
		for _, pkt := range out {
			require.Equal(t, audio.PayloadTypePCMA, int(pkt.pt), "payload type echoed from port %d", port)
			pcm = g711.DecodeALaw(pcm, pkt.payload)
		}
		tone, other := peak(pcm, mediaPeerTone), peak(pcm, mediaOurTone)
		same, offset := alignedMatches(in, out)
		t.Logf("echobot port %d: SIPp sent %d packets, echobot sent back %d (%.0f%%); echo %d Hz at %.4f (sent %.4f), %d Hz at %.6f; %d payloads returned byte for byte, %d packets (%s) behind",
			port, len(in), len(out), 100*float64(len(out))/float64(max(1, len(in))), mediaPeerTone, tone, ref, mediaOurTone, other, same, offset, time.Duration(offset)*20*time.Millisecond)
		require.Equal(t, sippRTPFrames, len(in), "packets SIPp sent to port %d", port)
		require.GreaterOrEqual(t, float64(len(out)), sippRTPMinEcho*float64(len(in)), "packets echoed from port %d", port)
		require.GreaterOrEqual(t, float64(same), sippRTPMinEcho*float64(len(in)), "payloads echoed unchanged from port %d", port)
		require.Greater(t, tone, ref/2, "the tone in the audio echoed from port %d", port)
		require.Less(t, other, mediaMinLevel/10, "a tone nobody sent, echoed from port %d", port)
		total += len(out)
	}
	require.Len(t, echoed, sippRTPCalls, "echobot's RTP streams")
	t.Logf("RTP: SIPp sent %d packets, echobot sent back %d", sippRTPCalls*sippRTPFrames, total)
}

// capturer is a tshark capture on lo.
type capturer struct {
	cmd  *exec.Cmd
	done chan error
}

// startCapture starts tshark writing the loopback traffic that matches the
// capture filter to file, bounded by the test's timeout, and returns once
// it captures.
func startCapture(t *testing.T, ctx context.Context, tshark, file, log, filter string) *capturer {
	t.Helper()
	lf, err := os.Create(log)
	require.NoError(t, err)
	defer lf.Close()
	c := &capturer{done: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, tshark, "-i", "lo", "-n", "-f", filter,
		"-a", "duration:"+strconv.Itoa(int(testTimeout/time.Second)), "-w", file)
	c.cmd.Stdout, c.cmd.Stderr = lf, lf
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = stopTimeout
	require.NoError(t, c.cmd.Start(), "start tshark")
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() { c.stop(t) })
	deadline := time.Now().Add(startTimeout)
	for {
		b, _ := os.ReadFile(log)
		if strings.Contains(string(b), "Capturing on") {
			// The message comes as the capture starts: give it a moment.
			sleepCtx(ctx, captureSettle)
			return c
		}
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("tshark exited before capturing: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("tshark did not start capturing within %s:\n%s", startTimeout, b)
		}
		sleepCtx(ctx, peerPoll)
	}
}

// stop ends the capture (SIGINT: tshark finishes the file); idempotent.
func (c *capturer) stop(t *testing.T) {
	t.Helper()
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		c.done <- err
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		c.done <- <-c.done
	}
}

// rtpPacket is one captured RTP packet.
type rtpPacket struct {
	seq     uint16
	pt      uint8
	payload []byte
}

// readRTPCapture reads the RTP packets of the capture: those SIPp sent
// from its media port mp to each echobot port in lo..hi, and those echobot
// sent back from that port to mp, each by echobot port in sequence order.
func readRTPCapture(t *testing.T, ctx context.Context, tshark, file string, mp, lo, hi int) (sent, echoed map[int][]rtpPacket) {
	t.Helper()
	return readCapturedRTP(t, ctx, tshark, file, "rtp", mp, lo, hi)
}

// readCapturedRTP reads the RTP packets of the capture that match tshark's
// display filter: those sent to each port in lo..hi and those sent from
// it, each by that port in sequence order. With peer > 0 only packets
// from and to port peer count.
func readCapturedRTP(t *testing.T, ctx context.Context, tshark, file, display string, peer, lo, hi int) (sent, echoed map[int][]rtpPacket) {
	t.Helper()
	out, err := exec.CommandContext(ctx, tshark, "-r", file, "-n", "-o", "rtp.heuristic_rtp:TRUE",
		"-Y", display, "-T", "fields", "-E", "separator=;",
		"-e", "udp.srcport", "-e", "udp.dstport", "-e", "rtp.seq", "-e", "rtp.p_type", "-e", "rtp.payload").Output()
	require.NoError(t, err, "tshark -r")
	sent, echoed = map[int][]rtpPacket{}, map[int][]rtpPacket{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ";")
		if len(f) != 5 {
			continue
		}
		src, err1 := strconv.Atoi(f[0])
		dst, err2 := strconv.Atoi(f[1])
		seq, err3 := strconv.ParseUint(f[2], 10, 16)
		pt, err4 := strconv.ParseUint(f[3], 10, 8)
		payload, err5 := hex.DecodeString(strings.ReplaceAll(f[4], ":", ""))
		require.NoError(t, errorsJoin(err1, err2, err3, err4, err5), "tshark line %q", l)
		p := rtpPacket{seq: uint16(seq), pt: uint8(pt), payload: payload}
		switch {
		case (peer == 0 || src == peer) && dst >= lo && dst <= hi:
			sent[dst] = append(sent[dst], p)
		case (peer == 0 || dst == peer) && src >= lo && src <= hi:
			echoed[src] = append(echoed[src], p)
		}
	}
	for _, m := range []map[int][]rtpPacket{sent, echoed} {
		for _, pkts := range m {
			first := pkts[0].seq
			sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].seq-first < pkts[j].seq-first })
		}
	}
	return sent, echoed
}

// errorsJoin returns the first non-nil error.
func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// writeRTPPcap writes a pcap file (Ethernet, IPv4, UDP) of the PCMA RTP
// packets of samples, one 20 ms frame per packet, 20 ms apart: what
// SIPp's play_pcap_audio replays (it rewrites addresses and ports).
func writeRTPPcap(path string, samples []int16) error {
	var pkts []pcapPacket
	for i := 0; i+audio.FrameSamples <= len(samples); i += audio.FrameSamples {
		n := i / audio.FrameSamples
		h := pionrtp.Header{Version: 2, Marker: n == 0, PayloadType: audio.PayloadTypePCMA,
			SequenceNumber: uint16(1000 + n), Timestamp: uint32(i), SSRC: 0x5eed5eed}
		pkt, err := g711.AppendPacket(nil, &h, g711.ALaw, samples[i:i+audio.FrameSamples])
		if err != nil {
			return err
		}
		pkts = append(pkts, pcapPacket{at: time.Duration(n) * 20 * time.Millisecond, rtp: pkt})
	}
	return writePcap(path, pkts)
}

// pcapPacket is an RTP packet of a pcap file and when it goes, from the
// file's start.
type pcapPacket struct {
	at  time.Duration
	rtp []byte
}

// writePcap writes a pcap file (Ethernet, IPv4, UDP) of pkts.
func writePcap(path string, pkts []pcapPacket) error {
	var b []byte
	// Global header: magic, version 2.4, zone, sigfigs, snaplen,
	// LINKTYPE_ETHERNET.
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for n, p := range pkts {
		frame := etherIPv4UDP(p.rtp, uint16(n))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.at/time.Second))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.at%time.Second/time.Microsecond))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame...)
	}
	return os.WriteFile(path, b, 0o644)
}

// etherIPv4UDP wraps a UDP payload in Ethernet, IPv4 (10.0.0.1 to
// 10.0.0.2, a valid header checksum) and UDP (port 4000 to 4002, no
// checksum) headers.
func etherIPv4UDP(payload []byte, id uint16) []byte {
	b := make([]byte, 0, 14+20+8+len(payload))
	b = append(b, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00)
	ip := len(b)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(20+8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, id)
	b = append(b, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2)
	var sum uint32
	for i := ip; i < ip+20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[ip+10:], ^uint16(sum))
	b = binary.BigEndian.AppendUint16(b, 4000)
	b = binary.BigEndian.AppendUint16(b, 4002)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0)
	return append(b, payload...)
}

// alignedMatches counts the sent payloads that come back unchanged in the
// echoed stream, in order (G.711 A-law decoded and encoded again is
// unchanged), and returns that count and how many packets the first one
// came back behind.
func alignedMatches(sent, echoed []rtpPacket) (matched, offset int) {
	// In order, each sent payload is looked for a little ahead of the
	// last one matched: the echo's playout delay may grow mid-stream (a
	// packet late inside a talkspurt is concealed, then played), which
	// shifts the rest by a frame.
	const ahead = 8
	offset = -1
	j := 0
	for i := range sent {
		end := len(echoed) // the first match: anywhere
		if offset >= 0 {
			end = min(end, j+ahead)
		}
		for k := j; k < end; k++ {
			if bytes.Equal(echoed[k].payload, sent[i].payload) {
				if offset < 0 {
					offset = k - i
				}
				matched++
				j = k + 1
				break
			}
		}
	}
	return matched, max(offset, 0)
}
