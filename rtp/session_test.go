package rtp_test

import (
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/dialtone/dialtone/rtp/sdp"

	"github.com/dialtone/dialtone/rtp/audio"
	"github.com/dialtone/dialtone/rtp/dtmf"
	"github.com/dialtone/dialtone/rtp/g711"
	"github.com/dialtone/dialtone/rtp/jitter"
	"github.com/dialtone/dialtone/rtp/wav"

	"context"
	"testing"

	pionrtp "github.com/pion/rtp"

	"github.com/stretchr/testify/require"

	"github.com/dialtone/dialtone/internal/testenv"
	"github.com/dialtone/dialtone/rtp"
)

// A 1 kHz tone played by one session is heard by the other: the received
// frames carry that frequency and not another.
func TestSessionToneLoopback(t *testing.T) {
	for _, mux := range []bool{false, true} {
		t.Run(map[bool]string{false: "pair", true: "rtcp-mux"}[mux], func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			a := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPMux: mux})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports, RTCPMux: mux})
			connect(t, a, b, mux)

			stop := playTone(t, ctx, a)

			var toneFrames int
			buf := make([]int16, 0, audio.FrameSamples)
			for i := 0; i < 100 && toneFrames < 25; i++ {
				f, err := b.ReadFrame(ctx, buf[:0])
				require.NoError(t, err)
				if wav.ToneLevel(f, 1000, audio.SampleRate) > 0.03 {
					require.Less(t, wav.ToneLevel(f, 440, audio.SampleRate), 0.001)
					toneFrames++
				}
			}
			stop()
			require.GreaterOrEqual(t, toneFrames, 25, "frames with the tone")
			st := b.Stats()
			require.Equal(t, a.SSRC(), st.RemoteSSRC)
			require.Positive(t, st.Playout.Played)
		})
	}
}

// Symmetric RTP: the peer's packets come from another address than the one
// signalled; with latching (the default) we switch to it, without it we keep
// sending to the signalled address.
func TestSessionSymmetricLatching(t *testing.T) {
	tests := []struct {
		name      string
		disable   bool
		wantDecoy bool
	}{
		{name: "latching", disable: false, wantDecoy: false},
		{name: "disabled", disable: true, wantDecoy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			a := newTestSession(t, rtp.SessionConfig{Ports: ports, DisableSymmetric: tt.disable})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports})
			decoy, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
			require.NoError(t, err)
			defer decoy.Close()

			pa, pb := negotiate(t, a, b, false)
			// a was told the peer is at the decoy (a NAT rewrote the address).
			pa.RemoteRTP = decoy.LocalAddr().(*net.UDPAddr).AddrPort()
			pa.RemoteRTCP = netip.AddrPortFrom(loopback, pa.RemoteRTP.Port()+1)
			require.NoError(t, a.SetRemote(pa))
			require.NoError(t, b.SetRemote(pb))

			// Wait until a heard b, then until b heard a few packets of a.
			waitFor(ctx, t, a, "packets from b", func() bool { return a.Stats().PacketsReceived > 0 })
			if !tt.wantDecoy {
				waitFor(ctx, t, b, "packets from a", func() bool { return b.Stats().PacketsReceived >= 5 })
				st := a.Stats()
				require.True(t, st.Latched)
				require.Equal(t, b.LocalAddr(), st.Remote)
				return
			}
			// Without latching a keeps sending to the decoy; b hears nothing.
			buf := make([]byte, 1500)
			require.NoError(t, decoy.SetReadDeadline(time.Now().Add(10*time.Second)))
			n, _, err := decoy.ReadFromUDPAddrPort(buf)
			require.NoError(t, err)
			var h pionrtp.Header
			_, err = h.Unmarshal(buf[:n])
			require.NoError(t, err)
			require.Equal(t, a.SSRC(), h.SSRC)
			elapse(ctx, t, b, 10)
			st := a.Stats()
			require.False(t, st.Latched)
			require.Equal(t, pa.RemoteRTP, st.Remote)
			require.Zero(t, b.Stats().PacketsReceived)
		})
	}
}

// Hold by re-INVITE: a recvonly (or inactive) direction stops our RTP, and
// sendrecv resumes it; RTCP goes on.
func TestSessionHold(t *testing.T) {
	for _, dir := range []sdp.Direction{sdp.RecvOnly, sdp.Inactive} {
		t.Run(dir.String(), func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			a := newTestSession(t, rtp.SessionConfig{Ports: ports})
			b := newTestSession(t, rtp.SessionConfig{Ports: ports})
			pa, _ := connect(t, a, b, false)
			waitFor(ctx, t, b, "audio from a", func() bool { return b.Stats().PacketsReceived >= 3 })

			held := pa
			held.Direction = dir
			require.NoError(t, a.SetRemote(held))
			elapse(ctx, t, b, 3) // let a frame in flight arrive
			sent, got := a.Stats().PacketsSent, b.Stats().PacketsReceived
			elapse(ctx, t, b, 10)
			require.Equal(t, sent, a.Stats().PacketsSent, "a sent while on hold")
			require.Equal(t, got, b.Stats().PacketsReceived)
			require.Equal(t, dir, a.Stats().Direction)

			require.NoError(t, a.SetRemote(pa))
			waitFor(ctx, t, b, "audio after resume", func() bool { return b.Stats().PacketsReceived > got+3 })
		})
	}
}

// DTMF digits sent by one session arrive at the other once each, in order.
func TestSessionDTMF(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)

	const digits = "19#*A0"
	require.NoError(t, a.SendDTMF(ctx, digits))
	var got []rune
	for len(got) < len(digits) {
		select {
		case d := <-b.DTMF():
			require.False(t, d.EndLost, "digit %c ended without its end packets", d.Digit)
			got = append(got, d.Digit)
		case <-ctx.Done():
			t.Fatalf("got %q before the deadline", string(got))
		}
	}
	require.Equal(t, digits, string(got))
	// Twice the receiver's end timeout later, no digit came twice.
	elapse(ctx, t, b, int(2*dtmf.DefaultEndTimeout/audio.FrameDuration))
	select {
	case d := <-b.DTMF():
		t.Fatalf("digit %c reported twice", d.Digit)
	default:
	}
	sender, err := dtmf.NewSender(dtmf.SenderConfig{})
	require.NoError(t, err)
	plan, err := sender.AppendDigits(nil, digits, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(len(plan)), a.Stats().DTMFPacketsSent)
	require.Equal(t, uint64(len(digits)), b.Stats().DTMFReceived)
}

func TestSessionDTMFErrors(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	require.ErrorIs(t, a.SendDTMF(ctx, "12x"), dtmf.ErrDigit)
	require.ErrorIs(t, a.SendDTMF(ctx, "1"), rtp.ErrNoTelephoneEvent, "no remote yet")
	pa, _ := negotiate(t, a, b, false)
	pa.HasTelephoneEvent = false
	require.NoError(t, a.SetRemote(pa))
	require.ErrorIs(t, a.SendDTMF(ctx, "1"), rtp.ErrNoTelephoneEvent)
	require.NoError(t, a.SendDTMF(ctx, ""))
}

// RTCP: both sides exchange reports, learn each other's CNAME and compute
// the round-trip time from LSR and DLSR.
func TestSessionRTCP(t *testing.T) {
	for _, mux := range []bool{false, true} {
		t.Run(map[bool]string{false: "pair", true: "rtcp-mux"}[mux], func(t *testing.T) {
			ctx := testCtx(t)
			ports := testPorts(t)
			cfg := rtp.SessionConfig{Ports: ports, RTCPMux: mux,
				RTCPInterval: 50 * time.Millisecond, RTCPBandwidth: 64000}
			a := newTestSession(t, cfg)
			b := newTestSession(t, cfg)
			connect(t, a, b, mux)
			for _, s := range []*rtp.Session{a, b} {
				waitFor(ctx, t, s, "RTT", func() bool { return s.Stats().RTCP.RTT > 0 })
			}
			for _, pair := range [][2]*rtp.Session{{a, b}, {b, a}} {
				st, peer := pair[0].Stats(), pair[1].Stats()
				require.Positive(t, st.RTCP.Sent)
				require.Positive(t, st.RTCP.Received)
				require.Equal(t, peer.CNAME, st.RTCP.RemoteCNAME)
				require.True(t, st.RTCP.HaveRemoteReport)
				require.Zero(t, st.RTCP.RemotePacketsLost, "loopback lost packets")
				require.Less(t, st.RTCP.RTT, time.Second)
				require.Positive(t, st.RTCP.RemotePacketsSent)
				require.Zero(t, st.RTCP.Malformed)
			}
		})
	}
}

// Close sends BYE, releases the ports, is idempotent, and makes every
// method fail with ErrSessionClosed.
func TestSessionClose(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a, err := rtp.NewSession(ctx, rtp.SessionConfig{LocalAddr: loopback, Ports: ports})
	require.NoError(t, err)
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)
	waitFor(ctx, t, b, "audio from a", func() bool { return b.Stats().PacketsReceived > 0 })
	require.Equal(t, 2, ports.InUse())

	port := a.LocalAddr()
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())
	require.Equal(t, 1, ports.InUse())
	waitFor(ctx, t, b, "BYE", func() bool { return b.Stats().RTCP.RemoteBye })

	for _, p := range []uint16{port.Port(), port.Port() + 1} {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p)))
		require.NoError(t, err, "port %d still bound", p)
		require.NoError(t, c.Close())
	}
	require.ErrorIs(t, a.WriteFrame(ctx, make([]int16, 160)), rtp.ErrSessionClosed)
	_, err = a.ReadFrame(ctx, nil)
	require.ErrorIs(t, err, rtp.ErrSessionClosed)
	require.ErrorIs(t, a.SetRemote(sdp.MediaParams{Codec: audio.PCMU()}), rtp.ErrSessionClosed)
	_, open := <-a.DTMF()
	require.False(t, open)
}

func TestSessionSetRemoteErrors(t *testing.T) {
	a := newTestSession(t, rtp.SessionConfig{Ports: testPorts(t)})
	err := a.SetRemote(sdp.MediaParams{Codec: audio.Codec{Name: "GSM", PayloadType: 3, ClockRate: 8000}})
	require.ErrorIs(t, err, g711.ErrCodec)
	require.ErrorIs(t, a.WriteFrame(context.Background(), make([]int16, 161)), rtp.ErrFrameSize)
}

func TestSessionConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  rtp.SessionConfig
		want error
	}{
		{name: "send queue", cfg: rtp.SessionConfig{SendQueueFrames: -1}, want: rtp.ErrSessionConfig},
		{name: "recv queue", cfg: rtp.SessionConfig{RecvQueueFrames: rtp.MaxQueueFrames + 1}, want: rtp.ErrSessionConfig},
		{name: "rtcp", cfg: rtp.SessionConfig{RTCPInterval: -time.Second}, want: rtp.ErrSessionConfig},
		{name: "dtmf", cfg: rtp.SessionConfig{DTMF: dtmf.SenderConfig{Duration: time.Millisecond}}, want: dtmf.ErrConfig},
		{name: "jitter", cfg: rtp.SessionConfig{Jitter: jitter.Config{Capacity: -1}}, want: jitter.ErrConfig},
		{name: "address", cfg: rtp.SessionConfig{LocalAddr: netip.MustParseAddr("192.0.2.1")}, want: syscall.EADDRNOTAVAIL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Ports = testPorts(t)
			_, err := rtp.NewSession(context.Background(), tt.cfg)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// Sessions work over IPv6 too: a 1 kHz tone played by one session over
// ::1 is heard by the other, from the first's IPv6 address.
func TestSessionIPv6(t *testing.T) {
	testenv.NeedIPv6Loopback(t)
	ctx := testCtx(t)
	lo6 := netip.IPv6Loopback()
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{LocalAddr: lo6, Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{LocalAddr: lo6, Ports: ports})
	require.True(t, a.LocalAddr().Addr().Is6())
	require.True(t, b.LocalAddr().Addr().Is6())
	params := func(to *rtp.Session) sdp.MediaParams {
		return sdp.MediaParams{RemoteRTP: to.LocalAddr(), RemoteRTCP: to.LocalRTCPAddr(), Codec: audio.PCMU(), Direction: sdp.SendRecv}
	}
	require.NoError(t, a.SetRemote(params(b)))
	require.NoError(t, b.SetRemote(params(a)))

	tone, err := wav.NewToneGenerator(wav.ToneConfig{Frequency: 1000})
	require.NoError(t, err)
	playCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Play(playCtx, tone) }()
	var toneFrames int
	buf := make([]int16, 0, audio.FrameSamples)
	for i := 0; i < 100 && toneFrames < 25; i++ {
		f, err := b.ReadFrame(ctx, buf[:0])
		require.NoError(t, err)
		if wav.ToneLevel(f, 1000, audio.SampleRate) > 0.03 {
			require.Less(t, wav.ToneLevel(f, 440, audio.SampleRate), 0.001)
			toneFrames++
		}
	}
	stop()
	require.ErrorIs(t, <-done, context.Canceled)
	require.GreaterOrEqual(t, toneFrames, 25, "frames with the tone over IPv6")
	require.Equal(t, a.SSRC(), b.Stats().RemoteSSRC)
}

// A SendDTMF whose context ends completes the digit in progress (the peer
// sees its end) and drops the others.
func TestSessionDTMFCancel(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)

	sendCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.SendDTMF(sendCtx, "123456789") }()
	var first dtmf.Digit
	select {
	case first = <-b.DTMF():
	case <-ctx.Done():
		t.Fatal("no digit")
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, '1', first.Digit)
	require.False(t, first.EndLost)
	// At most the digit in progress when cancel came completes.
	elapse(ctx, t, b, int(2*dtmf.DefaultEndTimeout/audio.FrameDuration))
	var more []rune
	for len(b.DTMF()) > 0 {
		d := <-b.DTMF()
		require.False(t, d.EndLost, "digit %c was cut short", d.Digit)
		more = append(more, d.Digit)
	}
	require.LessOrEqual(t, len(more), 1, "digits after cancel: %q", string(more))
	// The next call runs normally.
	require.NoError(t, a.SendDTMF(ctx, "#"))
	for {
		select {
		case d := <-b.DTMF():
			if d.Digit == '#' {
				return
			}
		case <-ctx.Done():
			t.Fatal("# did not arrive")
		}
	}
}

// Issue: RFC 4733 events share the audio stream's sequence numbers (RFC
// 4733 §2.1), so the jitter buffer must not count the numbers the events
// took as lost audio. Audio, then digits, then audio again: nothing lost,
// by RTCP's count or by the playout buffer's.
func TestSessionDTMFNotLostAudio(t *testing.T) {
	ctx := testCtx(t)
	ports := testPorts(t)
	a := newTestSession(t, rtp.SessionConfig{Ports: ports})
	b := newTestSession(t, rtp.SessionConfig{Ports: ports})
	connect(t, a, b, false)

	waitFor(ctx, t, b, "audio", func() bool { return b.Stats().Playout.Played >= 5 })
	const digits = "123"
	require.NoError(t, a.SendDTMF(ctx, digits))
	for range digits {
		select {
		case <-b.DTMF():
		case <-ctx.Done():
			t.Fatal("digits not received")
		}
	}
	played := b.Stats().Playout.Played
	waitFor(ctx, t, b, "audio after the digits", func() bool { return b.Stats().Playout.Played >= played+10 })

	st := b.Stats()
	require.Positive(t, a.Stats().DTMFPacketsSent)
	require.Zero(t, st.PacketsLost, "RTCP loss")
	require.Zero(t, st.Playout.Lost, "playout loss")
	require.Zero(t, st.Playout.Late)
}
