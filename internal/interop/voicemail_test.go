//go:build interop

package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp/audio"
)

// voicemailOwnerTone is what the owner's baresip sends on its call-in: not
// the caller's tone, which the owner must hear played back.
const voicemailOwnerTone = 1000

// TestVoicemailBaresip runs examples/voicemail with mailbox carol against
// three baresips:
//   - carol's phone registers at Kamailio, whose MWI_SERVER is the
//     voicemail: its mwi module's SUBSCRIBE to message-summary reaches
//     the mailbox and baresip shows "Voice-Message: 0/0";
//   - dave's baresip calls sip:carol@voicemail directly, sending a 440 Hz
//     tone for 3 s after the answer: the message is stored as
//     carol/<id>.wav (the tone in it, by Goertzel) with a sidecar naming
//     dave, and carol's phone is notified "Voice-Message: 1/0";
//   - carol calls sip:voicemail@… from a baresip of her own address,
//     sends the PIN and # with sndcode, hears the message (440 Hz in
//     that baresip's recording), and saves it with 9: the phone is
//     notified "Voice-Message: 0/1".
func TestVoicemailBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	dir := t.TempDir()
	e := startExample(t, ctx, "voicemail", "-listen", loopback+":0", "-dir", dir, "-mailbox", "carol:2468", "-silence", "10s")
	defer func() { logTails(t, e.stdout, e.stderr) }()

	k := startKamailio(t, ctx, kamailioOptions{mwiServer: "sip:" + e.sip})
	phone := startBaresipOpts(t, ctx, k, "carol", baresipOptions{outbound: true, mwi: true})
	e.waitOutput(t, ctx, "subscribed box=carol")
	waitLog(t, ctx, phone, "Voice-Message: 0/0")

	// dave leaves a message.
	dave := startMediaBaresip(t, ctx, "dave", mediaPeerTone)
	dave.callFor(t, ctx, "sip:carol@"+e.sip)
	e.waitOutput(t, ctx, " message box=carol ")
	wavs, err := filepath.Glob(filepath.Join(dir, "carol", "*.wav"))
	require.NoError(t, err)
	require.Len(t, wavs, 1, "one message")
	msg := readWAV(t, wavs[0])
	t.Logf("message %s: %.1f s, %d Hz at %.4f", filepath.Base(wavs[0]), float64(len(msg))/audio.SampleRate, mediaPeerTone, peak(msg, mediaPeerTone))
	require.Greater(t, peak(msg, mediaPeerTone), mediaMinLevel, "dave's tone in the mailbox WAV")
	var side struct {
		Caller string `json:"caller"`
		New    bool   `json:"new"`
	}
	b, err := os.ReadFile(strings.TrimSuffix(wavs[0], ".wav") + ".json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &side))
	require.Contains(t, side.Caller, "sip:dave@")
	require.True(t, side.New)
	waitLog(t, ctx, phone, "Voice-Message: 1/0")

	// carol calls in, hears it and saves it.
	owner := startMediaBaresip(t, ctx, "carol", voicemailOwnerTone)
	_, err = owner.ctl(ctx, "dial", "sip:voicemail@"+e.sip)
	require.NoError(t, err)
	owner.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
	e.waitOutput(t, ctx, "call-in box=carol")
	sleepCtx(ctx, 300*time.Millisecond)
	out, err := owner.ctl(ctx, "sndcode", "2468#")
	require.NoError(t, err, "sndcode: %q", out)
	e.waitOutput(t, ctx, "playing box=carol")
	sleepCtx(ctx, 2*time.Second) // the message plays
	out, err = owner.ctl(ctx, "sndcode", "9")
	require.NoError(t, err, "sndcode: %q", out)
	e.waitOutput(t, ctx, "saved box=carol")
	waitLog(t, ctx, phone, "Voice-Message: 0/1")
	_, err = owner.ctl(ctx, "hangup", "")
	require.NoError(t, err)
	owner.waitCalls(t, ctx, "no call", func(l string) bool { return !strings.Contains(l, "sip:") })
	heard := waitDump(t, ctx, owner.rec, audio.SampleRate)
	t.Logf("carol heard %d Hz at %.4f (her own %d Hz at %.6f)", mediaPeerTone, peak(heard, mediaPeerTone), voicemailOwnerTone, peak(heard, voicemailOwnerTone))
	require.Greater(t, peak(heard, mediaPeerTone), mediaMinLevel, "the message played back to its owner")
	require.Less(t, peak(heard, voicemailOwnerTone), mediaMinLevel/10, "not her own tone")
	e.finish(t)
}

// waitLog waits until the baresip's log has a line containing s.
func waitLog(t *testing.T, ctx context.Context, b *baresip, s string) {
	t.Helper()
	deadline := time.Now().Add(peerWait)
	for len(b.logLines(s)) == 0 {
		require.False(t, time.Now().After(deadline) || ctx.Err() != nil, "baresip %s did not log %q within %s", b.user, s, peerWait)
		sleepCtx(ctx, peerPoll)
	}
}

// TestVoicemailNoAnswerThroughProxy: examples/proxy forks sequentially
// (-sequential-timeout 3s). carol's phone (baresip, not answering)
// registers after the voicemail registered as carol too, so the phone is
// tried first (the most recent registration among equal q); it rings for
// 3 s, then the proxy tries the voicemail, which takes dave's message
// for carol: his tone is in the mailbox WAV.
func TestVoicemailNoAnswerThroughProxy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), peerTestTimeout)
	defer cancel()
	p := startOurProxy(t, ctx, "-sequential", "-sequential-timeout", "3s")
	dir := t.TempDir()
	e := startExample(t, ctx, "voicemail", "-listen", loopback+":0", "-dir", dir, "-mailbox", "carol:2468", "-silence", "10s",
		"-aor", p.uri("carol"), "-user", "carol", "-pass", "carolpw", "-registrar", p.uri(""))
	defer func() { logTails(t, e.stdout, e.stderr) }()
	p.waitBinding(t, ctx, "carol", true)
	sleepCtx(ctx, 1100*time.Millisecond) // a later registration for the phone

	phone, _ := launchBaresip(t, ctx, baresipSpec{user: "carol", dirPrefix: "dtbs", toneHz: 660, toneLen: 2 * time.Second, maxCalls: 2,
		codecs: []string{"g711"}, dns: true,
		account: fmt.Sprintf("<%s>;auth_pass=carolpw;answermode=manual;audio_codecs=PCMU,PCMA;medianat=;mediaenc=;regint=3600", p.uri("carol"))})
	deadline := time.Now().Add(peerWait)
	for n, _ := p.bindings("carol"); n != 2; n, _ = p.bindings("carol") {
		require.False(t, time.Now().After(deadline), "carol has %d bindings, want 2", n)
		sleepCtx(ctx, peerPoll)
	}

	dave := startMediaBaresip(t, ctx, "dave", mediaPeerTone)
	_, err := dave.ctl(ctx, "dial", p.uri("carol"))
	require.NoError(t, err)
	phone.waitCalls(t, ctx, "the phone ringing", func(l string) bool { return strings.Contains(l, "sip:dave") })
	dave.waitCalls(t, ctx, "an established call", func(l string) bool { return strings.Contains(l, "ESTABLISHED") })
	e.waitOutput(t, ctx, "deposit box=carol")
	sleepCtx(ctx, mediaSeconds*time.Second)
	_, err = dave.ctl(ctx, "hangup", "")
	require.NoError(t, err)
	e.waitOutput(t, ctx, " message box=carol ")
	wavs, err := filepath.Glob(filepath.Join(dir, "carol", "*.wav"))
	require.NoError(t, err)
	require.Len(t, wavs, 1, "one message")
	msg := readWAV(t, wavs[0])
	t.Logf("message after no answer: %.1f s, %d Hz at %.4f", float64(len(msg))/audio.SampleRate, mediaPeerTone, peak(msg, mediaPeerTone))
	require.Greater(t, peak(msg, mediaPeerTone), mediaMinLevel, "dave's tone in the mailbox WAV")
	e.finish(t)
}
