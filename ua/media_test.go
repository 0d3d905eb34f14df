package ua_test

// Media tests: two UAs on 127.0.0.1 with real RTP sockets, outside synctest
// (the RTP sessions read real UDP sockets and pace by the monotonic clock).
// Waits are bounded by contexts; reading frames from a session, one per
// ptime, is the clock.

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/wav"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/rtp"
	"github.com/dialtone/dialtone/sip"
	"github.com/dialtone/dialtone/transport"
	"github.com/dialtone/dialtone/ua"
)

// mediaPeer is a UA on loopback with media and the events it saw.
type mediaPeer struct {
	u     *ua.UA
	calls chan *ua.Call
	icErr chan error
	acked chan *ua.Call

	mu     sync.Mutex
	digits map[bool][]rune // by DTMFInfo
	dtmf   chan struct{}
	ended  chan *rtp.Quality // Event.Quality of each EventCallEnded
}

func (p *mediaPeer) gotDigits(info bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.digits[info])
}

// waitDigits waits until n digits arrived over the given path.
func (p *mediaPeer) waitDigits(ctx context.Context, t *testing.T, info bool, n int) string {
	t.Helper()
	for {
		if s := p.gotDigits(info); len(s) >= n {
			return s
		}
		select {
		case <-p.dtmf:
		case <-ctx.Done():
			t.Fatalf("digits: got %q (info=%v) before %v", p.gotDigits(info), info, ctx.Err())
		}
	}
}

// newMediaPeer starts a UA on 127.0.0.1 that answers every call with
// Answer(nil) (a media session).
func newMediaPeer(t *testing.T, media ua.MediaConfig) *mediaPeer {
	t.Helper()
	p := &mediaPeer{calls: make(chan *ua.Call, 4), icErr: make(chan error, 4), acked: make(chan *ua.Call, 4), digits: map[bool][]rune{}, dtmf: make(chan struct{}, 64), ended: make(chan *rtp.Quality, 4)}
	media.IP = netip.MustParseAddr("127.0.0.1")
	u, err := ua.New(ua.Config{
		Listen:   []ua.ListenConfig{{Network: transport.UDP, Addr: "127.0.0.1:0"}},
		Resolver: transport.StaticResolver{},
		Media:    media,
		OnCall: func(_ context.Context, ic *ua.IncomingCall) {
			c, err := ic.Answer(nil)
			if err != nil {
				p.icErr <- err
				return
			}
			p.calls <- c
		},
		OnEvent: func(e ua.Event) {
			if e.Kind == ua.EventCallConfirmed {
				p.acked <- e.Call
			}
			if e.Kind == ua.EventCallEnded {
				select {
				case p.ended <- e.Quality:
				default:
				}
			}
			if e.Kind != ua.EventDTMF {
				return
			}
			p.mu.Lock()
			p.digits[e.DTMFInfo] = append(p.digits[e.DTMFInfo], e.Digit)
			p.mu.Unlock()
			select {
			case p.dtmf <- struct{}{}:
			default:
			}
		},
	})
	require.NoError(t, err)
	p.u = u
	t.Cleanup(func() { _ = u.Close() })
	return p
}

func (p *mediaPeer) uri(user string) string { return "sip:" + user + "@" + p.u.Addrs()[0].String() }

// connect has a call b, and returns both ends once b saw the ACK.
func connect(ctx context.Context, t *testing.T, a, b *mediaPeer, opts ua.DialOptions) (out, in *ua.Call) {
	t.Helper()
	out, err := a.u.Dial(ctx, b.uri("bob"), opts)
	require.NoError(t, err)
	select {
	case in = <-b.calls:
	case <-ctx.Done():
		t.Fatal("no incoming call")
	}
	select {
	case c := <-b.acked:
		require.Same(t, in, c)
	case <-ctx.Done():
		t.Fatal("ACK not received")
	}
	require.Equal(t, ua.CallEstablished, in.State())
	return out, in
}

// dialRefused has a call b and checks that Dial fails with 488 and b's
// Answer with sdp.ErrNotAcceptable.
func dialRefused(ctx context.Context, t *testing.T, a, b *mediaPeer) {
	t.Helper()
	_, err := a.u.Dial(ctx, b.uri("bob"), ua.DialOptions{})
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, sip.StatusNotAcceptableHere, se.Code())
	select {
	case err := <-b.icErr:
		require.ErrorIs(t, err, sdp.ErrNotAcceptable)
	case <-ctx.Done():
		t.Fatal("Answer did not fail")
	}
}

// tone is a FrameSource of n frames of a sine.
type tone struct {
	g *wav.ToneGenerator
	n int
}

func newTone(t *testing.T, hz float64, frames int) *tone {
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz})
	require.NoError(t, err)
	return &tone{g: g, n: frames}
}

func (s *tone) ReadFrame(dst []int16) ([]int16, error) {
	if s.n == 0 {
		return dst, io.EOF
	}
	s.n--
	return s.g.ReadFrame(dst)
}

// record reads n frames of received audio.
func record(ctx context.Context, t *testing.T, s *rtp.Session, n int) []int16 {
	t.Helper()
	out := make([]int16, 0, n*s.FrameSamples())
	for range n {
		var err error
		out, err = s.ReadFrame(ctx, out)
		require.NoError(t, err)
	}
	return out
}

// peakLevel is the largest Goertzel level of hz over 100 ms windows of
// 8 kHz audio.
func peakLevel(samples []int16, hz float64) float64 {
	return peakLevelAt(samples, hz, audio.SampleRate)
}

// peakLevelAt is peakLevel for audio at rate.
func peakLevelAt(samples []int16, hz float64, rate int) float64 {
	win := rate / 10
	best := 0.0
	for i := 0; i+win <= len(samples); i += win / 2 {
		best = max(best, wav.ToneLevel(samples[i:i+win], hz, rate))
	}
	return best
}

// playAndRecord plays a tone of hz on from for frames and returns what to
// recorded meanwhile (a little longer, to cover the jitter buffer).
func playAndRecord(ctx context.Context, t *testing.T, from, to *rtp.Session, hz float64, frames int) []int16 {
	t.Helper()
	return playAndRecordAt(ctx, t, from, to, hz, audio.SampleRate, frames)
}

// playAndRecordAt is playAndRecord for a call whose audio is at rate in
// 20 ms frames (16 kHz for G.722, 48 kHz for Opus).
func playAndRecordAt(ctx context.Context, t *testing.T, from, to *rtp.Session, hz float64, rate, frames int) []int16 {
	t.Helper()
	g, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: hz, SampleRate: rate, FrameSamples: rate / 50})
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { errc <- from.Play(ctx, &tone{g: g, n: frames}) }()
	got := record(ctx, t, to, frames+10)
	require.NoError(t, <-errc)
	return got
}

// tonesBothWays plays a tone each way and checks both are heard.
func tonesBothWays(ctx context.Context, t *testing.T, out, in *rtp.Session) {
	t.Helper()
	const fa, fb = 1000.0, 600.0
	var gotB, gotA []int16
	var wg sync.WaitGroup
	wg.Go(func() { gotB = playAndRecord(ctx, t, out, in, fa, 40) })
	wg.Go(func() { gotA = playAndRecord(ctx, t, in, out, fb, 40) })
	wg.Wait()
	require.Greater(t, peakLevel(gotB, fa), 0.02, "B hears A's tone")
	require.Greater(t, peakLevel(gotA, fb), 0.02, "A hears B's tone")
}

func mediaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMediaToneBothWays(t *testing.T) {
	tests := []struct {
		name  string
		media ua.MediaConfig
		opts  ua.DialOptions
	}{
		{"offer in INVITE", ua.MediaConfig{}, ua.DialOptions{}},
		{"late offer", ua.MediaConfig{}, ua.DialOptions{NoOffer: true}},
		{"rtcp-mux, PCMA first", ua.MediaConfig{RTCPMux: true, Codecs: []audio.Codec{audio.PCMA(), audio.PCMU(), audio.TelephoneEvent()}}, ua.DialOptions{}},
		{"RTCP XR VoIP metrics", ua.MediaConfig{VoIPMetrics: true}, ua.DialOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			a, b := newMediaPeer(t, tt.media), newMediaPeer(t, tt.media)
			out, in := connect(ctx, t, a, b, tt.opts)
			require.NotNil(t, out.Media())
			require.NotNil(t, in.Media())
			if tt.opts.NoOffer {
				require.Contains(t, string(in.LocalSDP()), "m=audio", "offer in the 200")
				require.Contains(t, string(out.LocalSDP()), "m=audio", "answer in the ACK")
			}
			pa, ok := out.MediaParams()
			require.True(t, ok)
			pb, ok := in.MediaParams()
			require.True(t, ok)
			require.Equal(t, pa.Codec.Name, pb.Codec.Name)
			require.Equal(t, tt.media.RTCPMux, pa.RTCPMux)
			require.Equal(t, tt.media.VoIPMetrics, pa.VoIPMetrics)
			require.Equal(t, tt.media.VoIPMetrics, pb.VoIPMetrics)
			require.Equal(t, in.Media().LocalAddr().Port(), pa.RemoteRTP.Port())
			require.Equal(t, out.Media().LocalAddr().Port(), pb.RemoteRTP.Port())

			const fa, fb = 1000.0, 600.0
			var gotB, gotA []int16
			var wg sync.WaitGroup
			wg.Go(func() { gotB = playAndRecord(ctx, t, out.Media(), in.Media(), fa, 40) })
			wg.Go(func() { gotA = playAndRecord(ctx, t, in.Media(), out.Media(), fb, 40) })
			wg.Wait()
			t.Logf("levels: B hears %.4f (own %.5f), A hears %.4f (own %.5f)", peakLevel(gotB, fa), peakLevel(gotB, fb), peakLevel(gotA, fb), peakLevel(gotA, fa))
			require.Greater(t, peakLevel(gotB, fa), 0.02, "B hears A's tone")
			require.Less(t, peakLevel(gotB, fb), 0.002, "B does not hear its own tone")
			require.Greater(t, peakLevel(gotA, fb), 0.02, "A hears B's tone")
			require.Less(t, peakLevel(gotA, fa), 0.002)

			q, ok := out.MediaQuality()
			require.True(t, ok)
			require.Positive(t, q.PacketsReceived, "quality on request")
			ms, ls := out.Media(), in.Media()
			require.NoError(t, out.Hangup(ctx))
			<-in.Done()
			// EventCallEnded carries the call's quality figures.
			// The tone is 40 frames; a sender's worker that wakes too late
			// skips frame periods (counted), so those never arrive.
			skipped := map[*mediaPeer]uint64{a: ls.Stats().FramesSkipped, b: ms.Stats().FramesSkipped}
			for _, p := range []*mediaPeer{a, b} {
				select {
				case q := <-p.ended:
					require.NotNil(t, q, "Event.Quality")
					require.GreaterOrEqual(t, q.PacketsReceived+skipped[p], uint64(40), "the tone's packets, but for the periods the peer's worker skipped")
					require.Positive(t, q.PacketsSent)
					// Loopback on a loaded machine may lose a few packets
					// late: the MOS is the rating's, whatever it is.
					require.Positive(t, q.R)
					require.InDelta(t, rtp.MOSFromR(q.R), q.MOS, 1e-9)
				case <-ctx.Done():
					t.Fatal("no EventCallEnded")
				}
			}
			// Hang-up closed both sessions.
			_, err := ms.ReadFrame(ctx, nil)
			require.ErrorIs(t, err, rtp.ErrSessionClosed)
			_, err = ls.ReadFrame(ctx, nil)
			require.ErrorIs(t, err, rtp.ErrSessionClosed)
		})
	}
}

func TestMediaHoldStopsOneWay(t *testing.T) {
	ctx := mediaCtx(t)
	cfg := ua.MediaConfig{}
	a, b := newMediaPeer(t, cfg), newMediaPeer(t, cfg)
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	ma, mb := out.Media(), in.Media()
	version := func(c *ua.Call) uint64 {
		sd, err := sdp.Parse(c.LocalSDP())
		require.NoError(t, err)
		return sd.Origin.SessionVersion
	}
	v0 := version(out)
	record(ctx, t, ma, 5) // both streams run

	require.NoError(t, out.Hold(ctx))
	require.Greater(t, version(out), v0, "o= version bumped")
	require.Equal(t, ua.MediaSendOnly, ua.SDPDirection(out.LocalSDP()))
	require.Equal(t, ua.MediaRecvOnly, ua.SDPDirection(in.LocalSDP()))
	require.True(t, in.RemoteHold())
	pb, _ := in.MediaParams()
	require.False(t, pb.Direction.Sends(), "the held side stops sending")
	pa, _ := out.MediaParams()
	require.True(t, pa.Direction.Sends(), "the holding side goes on sending")

	record(ctx, t, ma, 3) // let packets in flight land
	sentA, sentB := ma.Stats().PacketsSent, mb.Stats().PacketsSent
	kaB := mb.Stats().KeepAlivesSent
	recvA := ma.Stats().PacketsReceived
	record(ctx, t, ma, 15)
	require.Greater(t, ma.Stats().PacketsSent-sentA, uint64(10), "A still sends")
	// B sends no media on hold: at most an RFC 6263 keep-alive (one a
	// second, TestMediaHoldKeepAlive), which A ignores.
	require.Equal(t, mb.Stats().KeepAlivesSent-kaB, mb.Stats().PacketsSent-sentB, "B sends nothing but keep-alives on hold")
	require.LessOrEqual(t, mb.Stats().PacketsSent-sentB, uint64(1))
	require.Equal(t, recvA, ma.Stats().PacketsReceived, "A receives no media")

	v1 := version(out)
	require.NoError(t, out.Resume(ctx))
	require.Greater(t, version(out), v1)
	require.Equal(t, ua.MediaSendRecv, ua.SDPDirection(out.LocalSDP()))
	require.False(t, in.RemoteHold())
	sentB = mb.Stats().PacketsSent
	record(ctx, t, ma, 15)
	require.Greater(t, mb.Stats().PacketsSent-sentB, uint64(10), "B sends again after resume")

	// A refresh (re-INVITE without change) keeps the version.
	v2 := version(out)
	require.NoError(t, out.Reinvite(ctx, nil))
	require.Equal(t, v2, version(out))
	require.NoError(t, in.Hangup(ctx))
	<-out.Done()
}

func TestMediaDTMF(t *testing.T) {
	noTE := ua.MediaConfig{Codecs: []audio.Codec{audio.PCMU(), audio.PCMA()}}
	tests := []struct {
		name   string
		a, b   ua.MediaConfig
		info   bool
		digits string
	}{
		{"RFC 4733 both ways", ua.MediaConfig{}, ua.MediaConfig{}, false, "123#"},
		{"INFO when the callee has no telephone-event", ua.MediaConfig{}, noTE, true, "4*5D"},
		{"INFO when the caller has no telephone-event", noTE, ua.MediaConfig{}, true, "09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := mediaCtx(t)
			a, b := newMediaPeer(t, tt.a), newMediaPeer(t, tt.b)
			out, in := connect(ctx, t, a, b, ua.DialOptions{})
			pa, _ := out.MediaParams()
			require.Equal(t, !tt.info, pa.HasTelephoneEvent)

			require.NoError(t, out.SendDTMF(ctx, tt.digits))
			require.Equal(t, tt.digits, b.waitDigits(ctx, t, tt.info, len(tt.digits)))
			rev := reverse(tt.digits)
			require.NoError(t, in.SendDTMF(ctx, rev))
			require.Equal(t, rev, a.waitDigits(ctx, t, tt.info, len(rev)))
			require.Empty(t, a.gotDigits(!tt.info), "no digit by the other path")
			require.Empty(t, b.gotDigits(!tt.info))

			require.ErrorIs(t, out.SendDTMF(ctx, "x"), dtmf.ErrDigit)
			require.NoError(t, out.Hangup(ctx))
			require.ErrorIs(t, out.SendDTMF(ctx, "1"), ua.ErrCallEnded, "digits on an ended call")
		})
	}
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func TestMediaNotAcceptable(t *testing.T) {
	ctx := mediaCtx(t)
	a := newMediaPeer(t, ua.MediaConfig{Codecs: []audio.Codec{audio.PCMU()}})
	b := newMediaPeer(t, ua.MediaConfig{Codecs: []audio.Codec{audio.PCMA()}})
	dialRefused(ctx, t, a, b)
	require.Zero(t, a.u.Calls())
	require.Zero(t, b.u.Calls())
}

// The host may still bring its own SDP: then no session is made.
func TestMediaHostSDP(t *testing.T) {
	ctx := mediaCtx(t)
	a, b := newMediaPeer(t, ua.MediaConfig{}), newMediaPeer(t, ua.MediaConfig{})
	out, in := connect(ctx, t, a, b, ua.DialOptions{SDP: []byte(testSDP)})
	require.Nil(t, out.Media())
	require.Equal(t, testSDP, string(out.LocalSDP()))
	require.NotNil(t, in.Media(), "the callee answered with its session")
	pb, ok := in.MediaParams()
	require.True(t, ok)
	require.Equal(t, "192.0.2.1:4000", pb.RemoteRTP.String())
	// Without telephone-event in the host's SDP, DTMF goes in INFO.
	require.NoError(t, in.SendDTMF(ctx, "7"))
	require.Equal(t, "7", a.waitDigits(ctx, t, true, 1))
	require.NoError(t, out.Hangup(ctx))
}

func TestParseDTMFRelay(t *testing.T) {
	tests := []struct {
		body  string
		digit rune
		dur   time.Duration
		ok    bool
	}{
		{"Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true},
		{"signal = #\nduration=250", '#', 250 * time.Millisecond, true},
		{"Duration=100\r\nSignal=11\r\n", '#', 100 * time.Millisecond, true},
		{"Signal=10", '*', 0, true},
		{"Signal=a", 'A', 0, true},
		{"Signal=16", 0, 0, false},
		{"Signal=x", 0, 0, false},
		{"Signal=55\r\n", 0, 0, false},
		{"Duration=160", 0, 0, false},
		{"", 0, 0, false},
		{strings.Repeat("x", ua.MaxDTMFInfoBody+1), 0, 0, false},
	}
	for _, tt := range tests {
		d, dur, ok := ua.ParseDTMFRelay([]byte(tt.body))
		require.Equal(t, tt.ok, ok, "%q", tt.body)
		if ok {
			require.Equal(t, tt.digit, d, "%q", tt.body)
			require.Equal(t, tt.dur, dur, "%q", tt.body)
		}
	}
}

// A re-offer without a common codec gets 488 and leaves the session as it
// was (RFC 3264 §8, RFC 3261 §14.2).
func TestMediaReofferNotAcceptable(t *testing.T) {
	ctx := mediaCtx(t)
	a, b := newMediaPeer(t, ua.MediaConfig{}), newMediaPeer(t, ua.MediaConfig{})
	out, in := connect(ctx, t, a, b, ua.DialOptions{})
	before, _ := in.MediaParams()
	g729 := "v=0\r\no=- 1 9 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	err := out.Reinvite(ctx, []byte(g729))
	var se *ua.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, sip.StatusNotAcceptableHere, se.Code())
	after, _ := in.MediaParams()
	require.Equal(t, before.RemoteRTP, after.RemoteRTP)
	require.Equal(t, ua.CallEstablished, out.State())
	require.NoError(t, out.Hangup(ctx))
}

// RTPTimeout: a peer that sends no media (here a host SDP with nobody
// behind its port) is hung up with ErrMediaTimeout after the timeout; a
// call with media both ways outlives several timeouts, even with no
// audio played: a timeout above the peer's idle keep-alive interval (1 s)
// is met by its keep-alives.
func TestMediaRTPTimeout(t *testing.T) {
	const timeout = 800 * time.Millisecond
	t.Run("silent peer", func(t *testing.T) {
		ctx := mediaCtx(t)
		a := newMediaPeer(t, ua.MediaConfig{})
		b := newMediaPeer(t, ua.MediaConfig{RTPTimeout: timeout})
		start := time.Now()
		out, in := connect(ctx, t, a, b, ua.DialOptions{SDP: []byte(testSDP)})
		select {
		case <-in.Done():
		case <-ctx.Done():
			t.Fatal("the silent call was not hung up")
		}
		took := time.Since(start)
		require.ErrorIs(t, in.Err(), ua.ErrMediaTimeout)
		require.GreaterOrEqual(t, took, timeout)
		require.Less(t, took, 3*timeout, "hung up within the timeout and a check")
		select {
		case <-out.Done():
		case <-ctx.Done():
			t.Fatal("the caller did not get the BYE")
		}
		require.ErrorIs(t, out.Err(), ua.ErrRemoteHangup)
		require.Zero(t, b.u.Calls())
	})
	t.Run("media both ways", func(t *testing.T) {
		ctx := mediaCtx(t)
		a := newMediaPeer(t, ua.MediaConfig{})
		const timeout = 2500 * time.Millisecond
		b := newMediaPeer(t, ua.MediaConfig{RTPTimeout: timeout})
		out, in := connect(ctx, t, a, b, ua.DialOptions{})
		select {
		case <-in.Done():
			t.Fatalf("a call with media was hung up: %v", in.Err())
		case <-time.After(2 * timeout):
		}
		require.NoError(t, out.Hangup(ctx))
	})
}
