//go:build interop

package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/g711"

	pionrtp "github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
)

// sippPcapDirs are where Debian's sip-tester and upstream SIPp install the
// pcap files their uac_pcap scenario plays (pcap/g711a.pcap: 30 ms PCMA
// packets, 7 s).
var sippPcapDirs = []string{"/usr/share/sip-tester", "/usr/share/sipp", "/usr/local/share/sipp"}

// TestSIPpStockUACPcapEcho: SIPp's built-in uac_pcap scenario, unchanged,
// calls examples/echobot: it offers PCMA and telephone-event, plays its
// stock g711a.pcap (30 ms packets) and an RFC 4733 digit, and hangs up.
// The call completes (echobot used to hang up after two packets: the
// 240-sample frames it read were refused on the way back), and every
// payload byte SIPp sent comes back from echobot, in order, in echobot's
// own 20 ms packets (tshark).
func TestSIPpStockUACPcapEcho(t *testing.T) {
	sippPath(t)
	tshark := peerBinary(t, "tshark", "tshark")
	testenv.NeedRoot(t, "SIPp pcap play and tshark capture")
	var pcapDir string
	for _, d := range sippPcapDirs {
		if _, err := os.Stat(filepath.Join(d, "g711a.pcap")); err == nil {
			pcapDir = d
			break
		}
	}
	testenv.Need(t, "SIPp's pcap files (g711a.pcap of package sip-tester)", boolErr(pcapDir != "", "not in %v", sippPcapDirs))
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	e := startEchobot(t, ctx)
	defer func() { logTails(t, e.stdout, e.stderr) }()

	r := newSipp(t, "uac_pcap", freePort(t), "-sn", "uac_pcap")
	// The scenario plays "pcap/g711a.pcap", relative to SIPp's directory.
	require.NoError(t, os.Symlink(pcapDir, filepath.Join(r.dir, "pcap")))
	defer func() { logTails(t, r.files()...) }()
	mp := freeUDPPorts(t, 4)
	capture := filepath.Join(artifacts(t), "uac_pcap.pcapng")
	capLog := filepath.Join(artifacts(t), "tshark_uac_pcap.log")
	tsh := startCapture(t, ctx, tshark, capture, capLog, fmt.Sprintf("udp and portrange %d-%d", e.rtpMin, e.rtpMax))
	cmd := r.start(t, ctx, "-s", "echo", "-mp", strconv.Itoa(mp), "-m", "1", e.sip)
	runErr := cmd.Wait()
	sleepCtx(ctx, captureSettle)
	tsh.stop(t)
	checkSipp(t, r, 1, exitErrOrNil(runErr))
	ends := e.finish(t)
	require.Len(t, ends, 1, "echobot's echo ended lines")
	t.Logf("echobot: %s", ends[0]["line"])

	sent, echoed := readEchoCapture(t, ctx, tshark, capture, e.rtpMin, e.rtpMax)
	require.Len(t, sent, 1, "SIPp's PCMA stream")
	for port, in := range sent {
		checkEchoBytes(t, port, in, echoed[port], 240, audio.FrameSamples, count(t, ends[0], "skipped"), count(t, ends[0], "discarded"), count(t, ends[0], "concealed"))
	}
}

// TestSIPpPtimeEcho: SIPp plays pcaps of 60 ms PCMA packets, and of
// packets whose duration changes every packet (20, 30, 60, 10, 40 ms), to
// examples/echobot: the calls complete and every payload byte comes back,
// in order, in echobot's 20 ms packets. The audio is noise, so that no
// payload is found anywhere but where it belongs.
func TestSIPpPtimeEcho(t *testing.T) {
	sippPath(t)
	tshark := peerBinary(t, "tshark", "tshark")
	testenv.NeedRoot(t, "SIPp pcap play and tshark capture")
	tests := []struct {
		name  string
		sizes []int // ms, in turn
	}{
		{"60ms", []int{60}},
		{"changing", []int{20, 30, 60, 10, 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			e := startEchobot(t, ctx)
			defer func() { logTails(t, e.stdout, e.stderr) }()
			dir := t.TempDir()
			pcap := filepath.Join(dir, "tone_"+tt.name+".pcap")
			const seconds = 4
			require.NoError(t, writeRTPPcapSizes(pcap, noise(seconds*audio.SampleRate), tt.sizes))
			sc := filepath.Join(dir, "uac_pcap_"+tt.name+".xml")
			hold := seconds*time.Second + time.Second
			require.NoError(t, os.WriteFile(sc, fmt.Appendf(nil, sippRTPScenario, pcap, hold.Milliseconds()), 0o644))

			mp := freeUDPPorts(t, 4)
			capture := filepath.Join(artifacts(t), "ptime_"+tt.name+".pcapng")
			capLog := filepath.Join(artifacts(t), "tshark_"+tt.name+".log")
			tsh := startCapture(t, ctx, tshark, capture, capLog, fmt.Sprintf("udp and portrange %d-%d", e.rtpMin, e.rtpMax))
			r := newSipp(t, "ptime_"+tt.name, freePort(t), "-sf", sc)
			defer func() { logTails(t, r.files()...) }()
			cmd := r.start(t, ctx, "-s", "echo", "-mp", strconv.Itoa(mp), "-m", "1", e.sip)
			runErr := cmd.Wait()
			sleepCtx(ctx, captureSettle)
			tsh.stop(t)
			checkSipp(t, r, 1, exitErrOrNil(runErr))
			ends := e.finish(t)
			require.Len(t, ends, 1, "echobot's echo ended lines")
			t.Logf("echobot: %s", ends[0]["line"])
			sent, echoed := readEchoCapture(t, ctx, tshark, capture, e.rtpMin, e.rtpMax)
			require.Len(t, sent, 1, "SIPp's PCMA stream")
			for port, in := range sent {
				checkEchoBytes(t, port, in, echoed[port], 0, audio.FrameSamples, count(t, ends[0], "skipped"), count(t, ends[0], "discarded"), count(t, ends[0], "concealed"))
			}
		})
	}
}

// noise returns n samples of deterministic pseudo-random audio at a speech
// level: no stretch of it repeats, so each packet's payload is found in the
// echo only where it belongs.
func noise(n int) []int16 {
	out := make([]int16, n)
	x := uint32(12345)
	for i := range out {
		x = x*1664525 + 1013904223
		out[i] = int16(int32(x>>16)-32768) / 4
	}
	return out
}

// boolErr returns nil when ok, else an error with the message.
func boolErr(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// checkEchoBytes asserts that the PCMA payload of every packet of in, in
// sequence order, comes back whole within those of out, after the previous
// one's, and that every echoed packet carries outSize bytes; inSize, when
// not 0, is the size of every packet sent. skipped is the frame periods
// echobot's sender reported skipped (SessionStats.FramesSkipped: its
// worker more than SendMaxCatchUpFrames late, on a loaded machine): each
// cut out 20 ms of the echo, which breaks at most three packets of 10 ms
// or more. discarded is the packets echobot's jitter buffer discarded, in
// pauses, to cut its delay (jitter.Stats.Discarded). concealed is the
// frames echobot's playout made up (a packet late inside a talkspurt, on a
// loaded machine, and the fade at a stream's end): the real frame after
// each is cross-faded from it (G.711 Appendix I), so it comes back changed.
func checkEchoBytes(t *testing.T, port int, in, out []rtpPacket, inSize, outSize, skipped, discarded, concealed int) {
	t.Helper()
	var inB, outB []byte
	for _, p := range in {
		if inSize > 0 {
			require.Len(t, p.payload, inSize, "packet SIPp sent to port %d", port)
		}
		inB = append(inB, p.payload...)
	}
	for _, p := range out {
		require.Equal(t, audio.PayloadTypePCMA, int(p.pt), "payload type echoed from port %d", port)
		require.Len(t, p.payload, outSize, "packet echoed from port %d: echobot's own frame size", port)
		outB = append(outB, p.payload...)
	}
	t.Logf("port %d: SIPp sent %d packets (%d bytes), echobot sent back %d packets (%d bytes)", port, len(in), len(inB), len(out), len(outB))
	require.NotEmpty(t, inB)
	// Each packet's payload whole, after the previous one's: playout may
	// pause between packets (an underrun), never within one.
	pos, gaps, missing := 0, 0, 0
	for i, p := range in {
		k := bytes.Index(outB[pos:], p.payload)
		if k < 0 {
			t.Logf("port %d: payload of packet %d (seq %d) did not come back whole", port, i, p.seq)
			missing++
			continue
		}
		if i > 0 && k > 0 {
			gaps++
		}
		pos += k + len(p.payload)
	}
	t.Logf("port %d: %d of %d payloads came back whole, in order (echobot skipped %d frames, discarded %d quiet packets, concealed %d frames); %d pauses between packets", port, len(in)-missing, len(in), skipped, discarded, concealed, gaps)
	require.LessOrEqual(t, missing, 3*skipped+discarded+concealed, "payloads sent to port %d that did not come back, beyond what echobot counted as skipped, discarded or concealed", port)
}

// readEchoCapture reads the PCMA packets of the capture sent to each
// echobot port in lo..hi and those echobot sent from it, by port, in
// sequence order (telephone events and RTCP left out).
func readEchoCapture(t *testing.T, ctx context.Context, tshark, file string, lo, hi int) (sent, echoed map[int][]rtpPacket) {
	t.Helper()
	return readCapturedRTP(t, ctx, tshark, file, "rtp && rtp.p_type == 8", 0, lo, hi)
}

// writeRTPPcapSizes writes a pcap file like writeRTPPcap, with packets of
// the given durations in ms, in turn, each sent when its audio is
// complete.
func writeRTPPcapSizes(path string, samples []int16, sizes []int) error {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	var pkt []byte
	for off, n := 0, 0; off < len(samples); n++ {
		k := min(sizes[n%len(sizes)]*audio.SampleRate/1000, len(samples)-off)
		h := pionrtp.Header{Version: 2, Marker: n == 0, PayloadType: audio.PayloadTypePCMA,
			SequenceNumber: uint16(1000 + n), Timestamp: uint32(off), SSRC: 0x5eed5eed}
		var err error
		pkt, err = g711.AppendPacket(pkt[:0], &h, g711.ALaw, samples[off:off+k])
		if err != nil {
			return err
		}
		off += k
		frame := etherIPv4UDP(pkt, uint16(n))
		ts := time.Duration(off) * time.Second / audio.SampleRate
		b = binary.LittleEndian.AppendUint32(b, uint32(ts/time.Second))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts%time.Second/time.Microsecond))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame...)
	}
	return os.WriteFile(path, b, 0o644)
}
