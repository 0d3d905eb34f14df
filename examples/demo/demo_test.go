package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// flowProxy is the call flow through package proxy (the default), in
// causal order: each request and response crosses the proxy, the ACK
// for the last 2xx is forwarded before the BYE behind it.
var flowProxy = []string{
	`bob +-> proxy +REGISTER sip:demo.test \(no credentials`,
	`proxy -> bob +401 Unauthorized \(REGISTER\)`,
	`bob +-> proxy +REGISTER sip:demo.test \(with credentials`,
	`proxy -> bob +200 OK \(REGISTER\)`,
	`alice +-> proxy +INVITE sip:bob@demo.test \[sdp sendrecv\]`,
	`proxy -> bob +INVITE sip:bob@127\.0\.0\.1:\d+ \[sdp sendrecv\]`,
	`bob +-> proxy +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`proxy -> alice +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`alice +-> proxy +ACK `,
	`proxy -> bob +ACK `,
	`alice +-> proxy +re-INVITE .*\[sdp sendonly\]`,
	`proxy -> bob +re-INVITE .*\[sdp sendonly\]`,
	`bob +-> proxy +200 OK \(INVITE\) \[sdp recvonly\]`,
	`proxy -> alice +200 OK \(INVITE\) \[sdp recvonly\]`,
	`alice +-> proxy +ACK `,
	`proxy -> bob +ACK `,
	`alice +-> proxy +re-INVITE .*\[sdp sendrecv\]`,
	`proxy -> bob +re-INVITE .*\[sdp sendrecv\]`,
	`bob +-> proxy +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`proxy -> alice +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`alice +-> proxy +ACK `,
	`proxy -> bob +ACK `,
	`proxy -> bob +BYE `,
	`bob +-> proxy +200 OK \(BYE\)`,
	`proxy -> alice +200 OK \(BYE\)`,
}

// flowRedirect is the call flow with -redirect: the registrar answers 302
// and alice calls bob directly.
var flowRedirect = []string{
	`bob +-> registrar +REGISTER sip:demo.test \(no credentials`,
	`registrar -> bob +401 Unauthorized \(REGISTER\)`,
	`bob +-> registrar +REGISTER sip:demo.test \(with credentials`,
	`registrar -> bob +200 OK \(REGISTER\)`,
	`alice +-> registrar +INVITE sip:bob@demo.test \[sdp sendrecv\]`,
	`registrar -> alice +302 Moved Temporarily \(INVITE\)`,
	`alice +-> registrar +ACK sip:bob@demo.test`,
	`alice +-> bob +INVITE sip:bob@127\.0\.0\.1:\d+ \[sdp sendrecv\]`,
	`bob +-> alice +180 Ringing \(INVITE\)`,
	`bob +-> alice +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`alice +-> bob +ACK `,
	`alice +-> bob +re-INVITE .*\[sdp sendonly\]`,
	`bob +-> alice +200 OK \(INVITE\) \[sdp recvonly\]`,
	`alice +-> bob +ACK `,
	`alice +-> bob +re-INVITE .*\[sdp sendrecv\]`,
	`bob +-> alice +200 OK \(INVITE\) \[sdp sendrecv\]`,
	`alice +-> bob +ACK `,
	`alice +-> bob +BYE `,
	`bob +-> alice +200 OK \(BYE\)`,
}

// The whole demo, through the proxy and with -redirect: it passes, writes
// both recordings with the right frequencies, prints the call flow in
// order, and writes a capture with SIP and RTP.
func TestDemo(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// flow must appear in this order; anywhere in any order; never
		// not at all.
		flow, anywhere, never []string
	}{
		{
			name: "proxy",
			flow: flowProxy,
			anywhere: []string{
				`proxy -> alice +401 Unauthorized \(REGISTER\)`,
				`bob +-> proxy +180 Ringing \(INVITE\)`,
				`proxy -> alice +180 Ringing \(INVITE\)`,
				`alice +-> proxy +BYE `,
			},
			// Nothing goes between the phones: the proxy record-routed.
			never: []string{`alice +-> bob`, `bob +-> alice`, `302 Moved`},
		},
		{
			name:     "redirect",
			args:     []string{"-redirect"},
			flow:     flowRedirect,
			anywhere: []string{`registrar -> alice +401 Unauthorized \(REGISTER\)`},
			never:    []string{`registrar -> bob +INVITE`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testDemo(t, tt.args, tt.flow, tt.anywhere, tt.never)
		})
	}
}

func testDemo(t *testing.T, args, flow, anywhere, never []string) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "call.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, append([]string{"-out-dir", dir, "-pcap", pcap, "-duration", "1s"}, args...), &out)
	text := out.String()
	require.NoError(t, err, text)
	require.Contains(t, text, "PASS:")

	// What each side heard, read back from the files.
	for _, c := range []struct {
		file       string
		want, not  []float64
		wantInText string
	}{
		{"bob-heard.wav", []float64{440}, []float64{600, 800}, "bob   heard  440 Hz"},
		{"alice-heard.wav", []float64{600, 800}, []float64{440}, "alice heard  600 Hz"},
	} {
		samples := readWAV(t, filepath.Join(dir, c.file))
		require.Greater(t, len(samples), audio.SampleRate/2, c.file)
		for _, f := range c.want {
			level := wav.ToneLevel(samples, f, audio.SampleRate)
			require.Greater(t, level, 0.001, "%s: %v Hz", c.file, f)
			for _, g := range c.not {
				require.Greater(t, level, 10*wav.ToneLevel(samples, g, audio.SampleRate), "%s: %v Hz over %v Hz", c.file, f, g)
			}
		}
		require.Contains(t, text, c.wantInText)
		require.Contains(t, text, filepath.Join(dir, c.file))
	}

	// The call flow, in order.
	ladder := text[strings.Index(text, "SIP call flow"):]
	pos := 0
	for _, re := range flow {
		loc := regexp.MustCompile(re).FindStringIndex(ladder[pos:])
		require.NotNil(t, loc, "after offset %d of the call flow, no line matches %q:\n%s", pos, re, ladder)
		pos += loc[1]
	}
	for _, re := range anywhere {
		require.Regexp(t, re, ladder)
	}
	for _, re := range never {
		require.NotRegexp(t, re, ladder)
	}
	require.Regexp(t, `bob: received DTMF "5" \(RFC 4733 in RTP`, text)
	require.Regexp(t, `alice +sent \d+ packets, received \d+, lost -?\d+, jitter`, text)
	require.Regexp(t, `bob +sent \d+ packets, received \d+, lost -?\d+, jitter`, text)

	// The capture holds SIP and RTP.
	counts := readPcap(t, pcap)
	require.GreaterOrEqual(t, counts.sip, len(flow), "SIP packets")
	require.Greater(t, counts.rtp, 50, "RTP packets")
	require.Positive(t, counts.rtcp, "RTCP packets")
	require.Contains(t, text, pcap)
	tsharkCheck(t, pcap)
}

func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := wav.NewReader(f)
	require.NoError(t, err)
	var all []int16
	buf := make([]int16, 0, audio.FrameSamples)
	for {
		buf, err = r.ReadFrame(buf[:0])
		all = append(all, buf...)
		if errors.Is(err, io.EOF) {
			return all
		}
		require.NoError(t, err)
	}
}

type pcapCounts struct{ sip, rtp, rtcp int }

// readPcap reads a classic pcap file of LINKTYPE_RAW IPv4/UDP packets, as
// transport.PcapTracer writes them, and counts the SIP, RTP and RTCP
// payloads.
func readPcap(t *testing.T, path string) pcapCounts {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(b), 24)
	le := binary.LittleEndian
	require.Equal(t, uint32(0xa1b2c3d4), le.Uint32(b))
	require.Equal(t, uint32(101), le.Uint32(b[20:]), "LINKTYPE_RAW")
	var c pcapCounts
	for b = b[24:]; len(b) > 0; {
		require.GreaterOrEqual(t, len(b), 16, "record header")
		n := int(le.Uint32(b[8:]))
		require.GreaterOrEqual(t, len(b), 16+n, "record")
		pkt := b[16 : 16+n]
		b = b[16+n:]
		require.GreaterOrEqual(t, len(pkt), 28)
		require.Equal(t, byte(0x45), pkt[0], "IPv4 without options")
		require.Equal(t, byte(17), pkt[9], "UDP")
		payload := pkt[28:]
		switch {
		case bytes.HasPrefix(payload, []byte("SIP/2.0 ")) || regexp.MustCompile(`^[A-Z]+ sip:`).Match(payload):
			c.sip++
		case len(payload) >= 12 && payload[0]>>6 == 2 && payload[1] >= 192 && payload[1] <= 223:
			c.rtcp++
		case len(payload) >= 12 && payload[0]>>6 == 2:
			c.rtp++
		}
	}
	return c
}

// tsharkCheck has tshark, when installed, find SIP, RTP, RTCP and the
// DTMF events in the capture: Wireshark decodes the RTP from the SDP.
func tsharkCheck(t *testing.T, pcap string) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is not installed (make peers installs it)")
		}
		t.Log("tshark not installed: capture checked with the built-in reader only")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tshark", "-r", pcap, "-T", "fields", "-e", "_ws.col.Protocol").Output()
	require.NoError(t, err, "tshark -r %s", pcap)
	protocols := map[string]int{}
	for _, p := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		protocols[strings.TrimSpace(p)]++
	}
	assert.GreaterOrEqual(t, protocols["SIP"]+protocols["SIP/SDP"], 19, "SIP: %v", protocols)
	assert.Positive(t, protocols["SIP/SDP"], "SIP with SDP: %v", protocols)
	assert.Greater(t, protocols["RTP"], 50, "RTP: %v", protocols)
	assert.Positive(t, protocols["RTCP"], "RTCP: %v", protocols)
	assert.GreaterOrEqual(t, protocols["RTP EVENT"], 3, "RFC 4733 events: %v", protocols)
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		usage   bool
		wantErr string
	}{
		{[]string{"-h"}, true, ""},
		{[]string{"-duration", "1h"}, false, "-duration 1h0m0s outside"},
		{[]string{"-digit", "55"}, false, "give one digit"},
		{[]string{"-digit", "x"}, false, `-digit "x"`},
		{[]string{"-tone", "5000"}, false, "-tone 5000 Hz outside"},
		{[]string{"-nope"}, true, "flag provided but not defined"},
		{[]string{"extra"}, false, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, &out)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
				var ue usageError
				require.ErrorAs(t, err, &ue)
				require.Contains(t, out.String(), tc.wantErr, "the message is printed")
			}
			if tc.usage {
				for _, s := range []string{"Usage: demo [flags]", "-out-dir", "-pcap", "-duration", "-tone", "-digit", "-redirect"} {
					require.Contains(t, out.String(), s)
				}
			}
		})
	}
}

// The audio check finds a tone at its frequency, and fails on another
// frequency or silence.
func TestAudioCheck(t *testing.T) {
	tone := func(f float64, d time.Duration) []int16 {
		src, err := newToneSource([]float64{f}, d, d)
		require.NoError(t, err)
		var s []int16
		for {
			var err error
			if s, err = src.ReadFrame(s); err != nil {
				return s
			}
		}
	}
	for _, tc := range []struct {
		name    string
		samples []int16
		freqs   []float64
		ok      bool
	}{
		{"440 Hz heard", tone(440, time.Second), []float64{440}, true},
		{"500 Hz is not 440 Hz", tone(500, time.Second), []float64{440}, false},
		{"too short", tone(440, 400*time.Millisecond), []float64{440}, false},
		{"silence", make([]int16, audio.SampleRate), []float64{440}, false},
		{"melody", append(tone(600, time.Second), tone(800, time.Second)...), []float64{600, 800}, true},
		{"half a melody", tone(600, 2*time.Second), []float64{600, 800}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := check("bob", "x.wav", tc.samples, tc.freqs, time.Second)
			require.Equal(t, tc.ok, c.OK(), c.String())
		})
	}
}
